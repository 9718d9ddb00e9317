"""Reading pseries machine types from ``-M help`` (verify/machines.py), and the recorded
machine catalogues (src/powercompat/data/machines-R.json)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from powercompat.verify.errors import EnvironmentProblem
from powercompat.verify.machines import SCHEMA, parse_machine_help

HELP_10_0 = """Supported machines are:
40p                  IBM RS/6000 7020 (40p)
pseries              pSeries Logical Partition (PAPR compliant) (alias of pseries-10.0)
pseries-10.0         pSeries Logical Partition (PAPR compliant) (default)
pseries-3.0          pSeries Logical Partition (PAPR compliant) (deprecated)
pseries-7.2          pSeries Logical Partition (PAPR compliant)
"""


def test_parse_machine_help() -> None:
    machines, alias = parse_machine_help(HELP_10_0)
    assert alias == "pseries-10.0"
    assert [(m.name, m.deprecated, m.default) for m in machines] == [
        ("pseries-10.0", False, True), ("pseries-3.0", True, False),
        ("pseries-7.2", False, False)]
    with pytest.raises(EnvironmentProblem):
        parse_machine_help("Supported machines are:\n40p   IBM RS/6000 7020 (40p)\n")


@pytest.mark.parametrize("release", ["5.2", "7.2", "10.0", "11.1"])
def test_recorded_machine_catalogues(release: str) -> None:
    data = json.loads(resources.files("powercompat").joinpath(
        "data", f"machines-{release}.json").read_text())
    assert data["schema"] == SCHEMA and data["release"] == release
    names = [m["name"] for m in data["machines"]]
    # plain pseries is the release's own, newest type
    assert data["pseries"] == f"pseries-{release}" == names[-1]
    assert data["texts"]["unsupported_machine"][-1] == \
        "Use -machine help to list supported machines"
