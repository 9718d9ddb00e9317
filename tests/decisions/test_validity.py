"""pcc_compat() against qemu.md's derived validity matrix (section 1.5)."""

from __future__ import annotations

import pytest

from powercompat.catalog.cpus import FAMILIES
from powercompat.catalog.history import HEAD as HISTORY
from powercompat.catalog.modes import mode_by_name
from powercompat.decisions.rules import CompatRules
from powercompat.decisions.validity import check_compat, valid_modes
from powercompat.profiles import parse_profile

MODES = ["power6", "power7", "power7+", "power8", "power9", "power10", "power11"]
# qemu.md 1.5, HEAD column set (power7+ refused on P8+ by the logical-PVR check)
HEAD = {
    "POWER7": "YYY----",
    "POWER8": "YY-Y---",
    "POWER9": "YY-YY--",
    "POWER10": "YY-YYY-",
    "POWER11": "YY-YYYY",
    "POWER5+": "-------",
    "970": "-------",
}
# before ac0fbbb2 (2024-07): power7+ everywhere from P7, power11 on POWER10 too
PRE_2024 = {
    "POWER7": "YYY----",
    "POWER8": "YYYY---",
    "POWER9": "YYYYY--",
    "POWER10": "YYYYYYY",
    "POWER11": "YYYYYYY",
}


def _family(name: str):  # type: ignore[no-untyped-def]
    return next(f for f in FAMILIES if f.name == name)


@pytest.mark.parametrize("family", HEAD)
def test_head_matrix(family: str) -> None:
    got = "".join("Y" if check_compat(_family(family), m.pvr).ok else "-" for m in HISTORY.modes)
    assert got == HEAD[family]


@pytest.mark.parametrize("family", PRE_2024)
def test_without_logical_pvr_check(family: str) -> None:
    rules = CompatRules(logical_pvr_check=False)
    got = "".join("Y" if check_compat(_family(family), m.pvr, rules=rules).ok else "-"
                  for m in HISTORY.modes)
    assert got == PRE_2024[family]


def test_rules_name_the_reason() -> None:
    p9 = _family("POWER9")
    assert check_compat(p9, 0x0F100003).reason.rule == "newer-than-cpu"
    assert check_compat(p9, 0x0F000006).reason.rule == "newer-than-cpu"
    assert check_compat(p9, 0x0F000006, rules=CompatRules(logical_pvr_check=False)
                        ).reason.rule == "pcr-level"
    assert check_compat(p9, 0x004E0000).reason.rule == "unknown-pvr"
    # at head step 4 (logical PVR 0) refuses first; without it, the PCR level does
    assert check_compat(_family("970"), 0x0F000002).reason.text == \
        "power6 (0x0f000002): 970 has no logical PVR: no compat modes"
    assert check_compat(_family("970"), 0x0F000002, rules=CompatRules(logical_pvr_check=False)
                        ).reason.rule == "pcr-level"


def test_bounds_are_table_positions_inclusive() -> None:
    p9 = _family("POWER9")
    p8 = 0x0F000004
    assert check_compat(p9, p8, min_pvr=p8, max_pvr=p8).ok
    assert check_compat(p9, 0x0F000003, min_pvr=p8).reason.rule == "below-min"
    assert check_compat(p9, 0x0F000005, max_pvr=p8).reason.rule == "above-max"
    # power7+ sits between power7 and power8 by position though its value is larger
    rules = CompatRules(logical_pvr_check=False)
    assert check_compat(p9, 0x0F100003, max_pvr=p8, rules=rules).ok
    assert not check_compat(p9, 0x0F000004, max_pvr=0x0F100003, rules=rules).ok


def test_unknown_bound_is_a_bug() -> None:
    with pytest.raises(AssertionError):
        check_compat(_family("POWER9"), 0x0F000004, max_pvr=0x0F000009)


def test_profiles_tables() -> None:
    assert [m.name for m in valid_modes(_family("POWER9"), parse_profile("7.2").rules)] == \
        ["power6", "power7", "power7+", "power8", "power9"]
    assert [m.name for m in valid_modes(_family("POWER9"), parse_profile("head").rules)] == \
        ["power6", "power7", "power8", "power9"]
    mode = mode_by_name("power10", parse_profile("2.11").rules.modes)
    assert mode is None
