"""CAS: the PVR list reader and the choice (hw/ppc/spapr_hcall.c cas_check_pvr)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powercompat.catalog.guests import guest_by_name
from powercompat.catalog.history import HEAD as HISTORY
from powercompat.decisions.cas import (
    CAS_MAX_ENTRIES,
    CasOutcome,
    choose_compat,
    pack_cas_pvrs,
    parse_cas_pvrs,
)
from powercompat.decisions.cpu_match import resolve_cpu
from powercompat.decisions.validity import check_compat
from powercompat.errors import CasBufferError
from powercompat.profiles import ALL_PROFILES, parse_profile

HEAD = parse_profile("head")
TERM = (0xFFFFFFFE, 0x0F000001)


def _model(name: str, profile: str = "head"):  # type: ignore[no-untyped-def]
    p = parse_profile(profile)
    return resolve_cpu(name, p.cpu_models, p.cpu_aliases)


def _choose(cpu: str, pairs: list[tuple[int, int]], max_pvr: int = 0, profile: str = "head"):  # type: ignore[no-untyped-def]
    model = _model(cpu, profile)
    buf = parse_cas_pvrs(pack_cas_pvrs([*pairs, TERM]))
    return choose_compat(model, model.pvr, max_pvr, buf, parse_profile(profile).rules)


def test_reader_stops_at_terminator_and_points_past_it() -> None:
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    parsed = parse_cas_pvrs(guest.cas_buffer + b"\x05rest")
    assert len(parsed.entries) == 13
    assert parsed.terminator is not None and parsed.terminator.index == 13
    assert parsed.end_offset == 112
    assert not parsed.capped


@pytest.mark.parametrize(("buf", "message", "offset"), [
    (b"", "CAS buffer ends at byte 0 with no terminator after 0 entries", 0),
    (bytes(13), "CAS buffer truncated at byte 13", 13),
    (bytes(16), "CAS buffer ends at byte 16 with no terminator after 2 entries", 16),
    (b"\xff" * 7, "CAS buffer truncated at byte 7", 7),
])
def test_reader_refuses_short_buffers(buf: bytes, message: str, offset: int) -> None:
    with pytest.raises(CasBufferError) as info:
        parse_cas_pvrs(buf)
    assert str(info.value) == message
    assert info.value.offset == offset


def test_all_ones_terminates_never() -> None:
    # mask 0xffffffff has no bit outside it: (~mask & value) == 0, so no terminator
    parsed = parse_cas_pvrs(b"\xff" * (8 * CAS_MAX_ENTRIES + 8))
    assert parsed.capped and len(parsed.entries) == CAS_MAX_ENTRIES
    assert parsed.end_offset == 4096


def test_cap_is_512_entries() -> None:
    pairs = [(0xFFFFFFFF, 0x0F000004)] * CAS_MAX_ENTRIES + [TERM]
    parsed = parse_cas_pvrs(pack_cas_pvrs(pairs))
    assert parsed.capped and parsed.terminator is None
    # entry 511 is read, a terminator at 512 is never reached
    with pytest.raises(CasBufferError):
        parse_cas_pvrs(pack_cas_pvrs([(0xFFFFFFFF, 0x0F000004)] * 511))


@pytest.mark.parametrize(("cpu", "max_pvr", "want", "outcome"), [
    ("power9", 0, 0x0F000005, CasOutcome.COMPAT),
    ("power9", 0x0F000004, 0x0F000004, CasOutcome.COMPAT),
    ("power8", 0, 0x0F000004, CasOutcome.COMPAT),
    ("power10", 0, 0x0F000006, CasOutcome.COMPAT),
    ("power11", 0, 0x0F000006, CasOutcome.COMPAT),  # Linux 6.1 lists no 0x0f000007
    ("power7", 0, 0x0F000003, CasOutcome.COMPAT),
    ("power7", 0x0F100003, 0x0F000003, CasOutcome.COMPAT),
])
def test_linux_61_choices(cpu: str, max_pvr: int, want: int, outcome: CasOutcome) -> None:
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    model = _model(cpu)
    choice = choose_compat(model, model.pvr, max_pvr, parse_cas_pvrs(guest.cas_buffer))
    assert (choice.cas_pvr, choice.outcome) == (want, outcome)
    assert choice.raw_mode_supported == (cpu != "power11")  # 6.1 lists no 0x0082 raw


def test_raw_rules() -> None:
    raw = [(0xFFFF0000, 0x004E0000)]
    c = _choose("power9", raw)
    assert (c.outcome, c.cas_pvr, c.raw_mode_supported) == (CasOutcome.RAW, 0, True)
    c = _choose("power9", raw, max_pvr=0x0F000004)
    assert c.outcome is CasOutcome.FAIL
    assert c.error == "Couldn't negotiate a suitable PVR during CAS"
    c = _choose("power8", raw)  # POWER9 raw does not match a POWER8
    assert c.outcome is CasOutcome.FAIL and not c.raw_mode_supported


def test_order_and_repetition_do_not_matter() -> None:
    a = _choose("power9", [(0xFFFFFFFF, 0x0F000002), (0xFFFFFFFF, 0x0F000005),
                           (0xFFFFFFFF, 0x0F000004)])
    b = _choose("power9", [(0xFFFFFFFF, 0x0F000004)] * 3 + [(0xFFFFFFFF, 0x0F000005)])
    assert a.cas_pvr == b.cas_pvr == 0x0F000005


def test_power7plus_ranks_between_power7_and_power8() -> None:
    pairs = [(0xFFFFFFFF, 0x0F100003), (0xFFFFFFFF, 0x0F000003)]
    assert _choose("power9", pairs, profile="7.2").cas_pvr == 0x0F100003
    assert _choose("power9", pairs, profile="head").cas_pvr == 0x0F000003  # ac0fbbb2
    pairs.append((0xFFFFFFFF, 0x0F000004))
    assert _choose("power9", pairs, profile="7.2").cas_pvr == 0x0F000004


def test_reasons_explain_each_entry() -> None:
    guest = guest_by_name("linux-6.1")
    assert guest is not None
    model = _model("power9")
    choice = choose_compat(model, model.pvr, 0x0F000004, parse_cas_pvrs(guest.cas_buffer))
    texts = [r.text for r in choice.reasons]
    assert "entry 6: mask 0xffff0000 value 0x004e0000 matches the real PVR 0x004e1202: " \
        "raw mode supported" in texts
    assert "entry 8: power10 (0x0f000006): newer than max-cpu-compat=power8" in texts
    assert "entry 10: power8 (0x0f000004) is the best so far" in texts
    assert "entry 11: power7 (0x0f000003): older than power8, the best mode found so far" \
        in texts
    assert texts[-1] == "chosen: power8 (0x0f000004)"


# --- the CAS laws (issue 2), over every profile, CPU, maximum and PVR list ---------------

_pvr = st.one_of(st.sampled_from([m.pvr for m in HISTORY.modes] + [0x0F000001, 0x0F000008]),
                 st.integers(0, 0xFFFFFFFF))
_mask = st.sampled_from([0xFFFFFFFF, 0xFFFF0000, 0xFFFE0000, 0xFFFFFF00])


@settings(max_examples=1000, deadline=None)
@given(profile=st.sampled_from(ALL_PROFILES), model_i=st.integers(0, len(HISTORY.models) - 1),
       max_i=st.integers(-1, len(HISTORY.modes) - 1),
       pairs=st.lists(st.tuples(_mask, _pvr), max_size=24))
def test_cas_laws(profile, model_i: int, max_i: int, pairs: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
    rules = profile.rules
    models = profile.cpu_models
    model = models[model_i % len(models)]
    max_pvr = 0 if max_i < 0 else rules.modes[max_i % len(rules.modes)].pvr
    pairs = [(m, v & m) for m, v in pairs]  # no early terminator: all pairs are entries
    parsed = parse_cas_pvrs(pack_cas_pvrs([*pairs, TERM]))
    choice = choose_compat(model, model.pvr, max_pvr, parsed, rules)
    candidates = [v for m, v in pairs
                  if model.pvr & m != v & m
                  and check_compat(model.family, v, 0, max_pvr, rules).ok]
    if choice.cas_pvr:
        assert choice.cas_pvr in candidates  # listed and valid within the maximum
        pos = [m.pvr for m in rules.modes]
        # the newest such mode (by table position)
        assert pos.index(choice.cas_pvr) == max(pos.index(v) for v in candidates)
        if max_pvr:
            assert pos.index(choice.cas_pvr) <= pos.index(max_pvr)
    else:
        assert not candidates
        raw = any(model.pvr & m == v & m for m, v in pairs)
        assert choice.outcome is (CasOutcome.RAW if raw and not max_pvr else CasOutcome.FAIL)
