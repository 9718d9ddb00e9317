"""Re-run every ``$ powercompat ...`` block of docs/CLI_TOUR.md and paste the real output.

Each block keeps its command line; the output (stdout then stderr, as a terminal shows the
error line last) and the ``exit N`` line are replaced. Run from the repository root:
``python docs/regen_tour.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TOUR = Path(__file__).with_name("CLI_TOUR.md")
BLOCK = re.compile(r"```console\n\$ (?P<cmd>[^\n]+)\n.*?```", re.S)


def run(cmd: str) -> str:
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=env,
                          check=False)
    body = proc.stdout + proc.stderr
    if not body.endswith("\n"):
        body += "\n"
    return f"```console\n$ {cmd}\n{body}exit {proc.returncode}\n```"


def main() -> None:
    text = TOUR.read_text()
    TOUR.write_text(BLOCK.sub(lambda m: run(m.group("cmd")), text))


if __name__ == "__main__":
    main()
