"""compare.py on hand-made cells and a stand-in engine (no booting, no real engine needed)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from powercompat.decisions.verdict import Fate, boot_fate
from powercompat.errors import InvalidModeError
from powercompat.verify.compare import (
    Outcome,
    guest_profile,
    judge_cell,
    judge_pcr,
    qemu_profile,
    revision_pvr,
    smp_options,
)
from powercompat.verify.errors import UnknownQemuError, VerifyError
from powercompat.verify.matrix import CellResult


@dataclass(frozen=True)
class Fake:
    started: bool = True
    error: str | None = None
    initial_compat_pvr: int = 0x0F000004
    compat_pvr: int = 0x0F000004
    cas_reached: bool = True
    cas_failed: bool = False
    cpu_version: int = 0x0F000004
    guest_cpu_line: str | None = "POWER8 (architected), altivec supported"
    userland_ok: bool | None = True
    raw_pvr: int = 0x004E1200
    pcr: int = 0x8

    @property
    def fate(self) -> Fate:
        """The stand-in's verdict, from its own fields as negotiate derives it."""
        return boot_fate(refused=None if self.started else self.error or "refused",
                         reaches_cas=self.cas_reached, kernel_stops="no CAS",
                         cas_error=self.error or "H_HARDWARE" if self.cas_failed else None,
                         userland_ok=self.userland_ok, userland_reason="init: SIGILL")


def engine(result: Fake | Exception) -> Any:
    def negotiate(**_kw: object) -> Fake:
        if isinstance(result, Exception):
            raise result
        return result

    return negotiate


CELL = CellResult(
    cpu="power9", max_cpu_compat="power8", firmware="vof", argv=(),
    startup_error=None, startup_error_prefix=None,
    trace_current=0x0F000004, trace_new=0x0F000004, trace_explicit_match=True,
    cas_trace_count=1, cpu_versions=(0x0F000004,),
    guest_cpu_line="POWER8 (architected), altivec supported",
    guest_revision="2.0 (pvr 004e 1200)", guest_mmu="Hash",
    hardware_name=None, hardware_real_pvr=None, hardware_compat_pvr=None,
    cas_failed=False, init_sigill=False, os_panic=None, returncode=0,
    stop_reason="reported", stopped_by="qmp-quit", console_tail=(), wall_seconds=2.0,
)  # fmt: skip


def judge(cell: CellResult, result: Fake | Exception) -> Any:
    return judge_cell(cell, qemu="7.2", guest="linux-6.1", negotiate=engine(result))


def test_match() -> None:
    v = judge(CELL, Fake())
    assert v.outcome is Outcome.MATCH and v.ok and v.diffs == ()


def test_mismatch_lists_every_differing_field() -> None:
    v = judge(CELL, Fake(compat_pvr=0x0F000005, cpu_version=0x0F000005))
    assert v.outcome is Outcome.MISMATCH and not v.ok
    assert [d.field for d in v.diffs] == ["trace_new (CAS result)", "DT cpu-version"]
    assert str(v.diffs[0]) == "trace_new (CAS result): observed 0x0f000004, engine 0x0f000005"


def test_revision_checks_raw_pvr() -> None:
    v = judge(CELL, Fake(raw_pvr=0x004E1202))
    assert [d.field for d in v.diffs] == ["cpuinfo revision PVR"]


def test_refusal_matched_on_exact_text() -> None:
    msg = "Compatibility PVR 0x0f000006 not valid for CPU"
    cell = replace(CELL, max_cpu_compat="power10", startup_error=msg, cas_trace_count=0)
    v = judge(cell, Fake(started=False, error=msg))
    assert v.outcome is Outcome.REFUSAL_MATCHED
    v = judge(cell, Fake(started=False, error=msg.upper()))
    assert v.outcome is Outcome.MISMATCH and v.diffs[0].field == "startup_error"


def test_engine_exception_is_a_refusal_with_its_text() -> None:
    cell = replace(CELL, max_cpu_compat="foo", startup_error='Invalid compatibility mode "foo"')
    assert judge(cell, InvalidModeError("foo")).outcome is Outcome.REFUSAL_MATCHED
    other = replace(cell, startup_error="something else")
    assert judge(other, InvalidModeError("foo")).outcome is Outcome.MISMATCH


def test_started_but_engine_refuses() -> None:
    v = judge(CELL, Fake(started=False, error="x"))
    assert v.outcome is Outcome.MISMATCH
    assert (v.diffs[0].field, v.diffs[0].observed, v.diffs[0].predicted) == (
        "startup_error",
        None,
        "x",
    )


def test_failed_cas_traces_new_zero_and_keeps_pre_cas_mode() -> None:
    cell = replace(CELL, cas_failed=True, trace_new=0)
    ok = Fake(cas_failed=True, error="Couldn't negotiate a suitable PVR during CAS")
    assert judge(cell, ok).outcome is Outcome.MATCH
    assert judge(cell, Fake()).outcome is Outcome.MISMATCH


def test_sigill_against_userland_verdict() -> None:
    cell = replace(
        CELL, init_sigill=True, guest_cpu_line=None, cpu_versions=(), guest_revision=None
    )
    assert judge(cell, Fake(userland_ok=False)).outcome is Outcome.MATCH
    assert judge(cell, Fake(userland_ok=True)).outcome is Outcome.MISMATCH
    assert judge(cell, Fake(userland_ok=None)).outcome is Outcome.MATCH


def test_hardware_name_compat_pvr_absent_means_raw() -> None:
    cell = replace(
        CELL, hardware_name="IBM pSeries ... POWER9 0x4e1200", hardware_real_pvr=0x4E1200
    )
    assert [d.field for d in judge(cell, Fake()).diffs] == ["Hardware name compat PVR"]


def test_no_cas_is_inconclusive() -> None:
    cell = replace(
        CELL, cas_trace_count=0, trace_current=None, trace_new=None, stop_reason="timeout"
    )
    v = judge(cell, Fake())
    assert v.outcome is Outcome.INCONCLUSIVE and v.ok
    assert str(v) == "power9 max-cpu-compat='power8': inconclusive (no CAS seen (guest timeout))"


def test_predicted_no_cas_matches_a_silent_guest() -> None:
    silent = replace(
        CELL, cas_trace_count=0, trace_current=None, trace_new=None, stop_reason="timeout"
    )
    assert judge(silent, Fake(cas_reached=False)).outcome is Outcome.MATCH
    v = judge(CELL, Fake(cas_reached=False))  # but CAS was seen: the engine was wrong
    assert v.outcome is Outcome.MISMATCH
    assert str(v.diffs[0]) == "CAS reached: observed True, engine False"


def test_qemu_profile_from_version_string() -> None:
    line = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
    assert qemu_profile(line) == "7.2"
    # a release between the named ones is the history up to it (profiles.profile_for_version)
    assert qemu_profile("QEMU emulator version 8.2.2 (Debian)") == "8.2"
    with pytest.raises(
        UnknownQemuError, match="no engine profile for QEMU 'QEMU emulator version 12.0.2"
    ):
        qemu_profile("QEMU emulator version 12.0.2 (Debian)")


def test_guest_profile() -> None:
    assert guest_profile("6.1.176-1") == "linux-6.1"
    assert guest_profile("6.12.107-1") == "linux-6.12"  # guests are named after the kernels
    with pytest.raises(VerifyError, match="6.5.1"):
        guest_profile("6.5.1-1")


def test_revision_pvr() -> None:
    assert revision_pvr("2.0 (pvr 004e 1200)") == 0x004E1200
    assert revision_pvr(None) is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [((), {}), (("-smp", "4"), {"smp": 4}), (("-smp", "2,threads=2"), {"smp": 2, "threads": 2}),
     (("-smp", "2,sockets=2"), None), (("-m", "2G"), None)],
)  # fmt: skip
def test_smp_options(extra: tuple[str, ...], expected: dict[str, int] | None) -> None:
    assert smp_options(extra) == expected


def test_pcr_reading() -> None:
    reading = {"cpu": "power9", "max_cpu_compat": "power8", "pcr": 0x8, "pvr": 0x004E1200}
    assert judge_pcr(reading, qemu="7.2", guest="linux-6.1", negotiate=engine(Fake())).ok
    v = judge_pcr(reading, qemu="7.2", guest="linux-6.1", negotiate=engine(Fake(pcr=0x18)))
    assert str(v.diffs[0]) == "SPR_PCR: observed 0x0000000000000008, engine 0x0000000000000018"
    refused = {"cpu": "power8", "max_cpu_compat": "power9", "error": "x"}
    assert judge_pcr(refused, qemu="7.2", guest="linux-6.1", negotiate=engine(Fake())).outcome is (
        Outcome.MISMATCH
    )


def test_every_vcpu_needs_a_cpu_version() -> None:
    two = replace(CELL, smp=2, cpu_versions=CELL.cpu_versions * 2)
    assert judge(two, Fake()).outcome is Outcome.MATCH
    one_missing = replace(CELL, smp=2)
    v = judge(one_missing, Fake())
    assert v.outcome is Outcome.MISMATCH
    assert str(v.diffs[0]) == "DT cpu-version count: observed '1', engine '2'"
