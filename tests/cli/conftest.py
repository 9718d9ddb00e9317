from __future__ import annotations

import pytest
from cli_runner import Result, Runner

from powercompat.cli.main import main


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    def _run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run
