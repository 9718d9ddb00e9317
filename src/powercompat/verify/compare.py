"""Judge the engine against what real QEMU and a real guest did.

Why a separate step: recorded files hold observations only; the verdict is recomputed from the
current engine every time (``tests/verify/test_recorded.py``), so a change in the engine, not
in the data, is what makes a cell fail. The QEMU profile is taken from the version QEMU printed;
an unknown version is an error, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from powercompat.decisions.verdict import Fate, refusal_fate
from powercompat.decisions.verdict import Verdict as GuestVerdict
from powercompat.errors import InvalidValueError, PowerCompatError, UnknownProfileError
from powercompat.verify.errors import UnknownGuestError, UnknownQemuError
from powercompat.verify.matrix import CellResult
from powercompat.verify.observed import cell_fate
from powercompat.verify.probes import ProbeResult
from powercompat.verify.suites import guest_name


class Outcome(StrEnum):
    """The verdict on one cell."""

    MATCH = "match"  # the guest booted and every signal it gave agrees with the engine
    REFUSAL_MATCHED = "refusal-matched"  # QEMU and the engine refused with the same text
    MISMATCH = "mismatch"
    INCONCLUSIVE = "inconclusive"  # the guest never reached CAS; only start-up was compared


@dataclass(frozen=True, slots=True)
class Diff:
    """One field on which reality and the engine disagree."""

    field: str
    observed: object
    predicted: object

    def __str__(self) -> str:
        return f"{self.field}: observed {_show(self.observed)}, engine {_show(self.predicted)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A cell's outcome and, for a mismatch, every differing field."""

    cpu: str
    max_cpu_compat: str | None
    outcome: Outcome
    diffs: tuple[Diff, ...] = ()
    note: str = ""
    #: the guest's verdict as the real run showed it (verify/observed.py), and the engine's
    observed: Fate | None = None
    predicted: Fate | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.MISMATCH

    def __str__(self) -> str:
        mode = "(unset)" if self.max_cpu_compat is None else repr(self.max_cpu_compat)
        head = f"{self.cpu} max-cpu-compat={mode}: {self.outcome}"
        tail = "; ".join(str(d) for d in self.diffs)
        return f"{head} ({tail})" if tail else (f"{head} ({self.note})" if self.note else head)


class EngineResult(Protocol):
    """The part of ``powercompat.scenario.negotiate``'s result the harness reads."""

    @property
    def started(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def initial_compat_pvr(self) -> int: ...
    @property
    def compat_pvr(self) -> int: ...
    @property
    def cas_reached(self) -> bool: ...
    @property
    def cas_failed(self) -> bool: ...
    @property
    def cpu_version(self) -> int: ...
    @property
    def guest_cpu_line(self) -> str | None: ...
    @property
    def userland_ok(self) -> bool | None: ...
    @property
    def raw_pvr(self) -> int: ...
    @property
    def pcr(self) -> int: ...
    @property
    def fate(self) -> Fate: ...


Negotiate = Callable[..., EngineResult]


def _show(v: object) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, _Hex64):
        return repr(v)
    if isinstance(v, int):
        return f"0x{v:08x}"
    return repr(v)


def qemu_profile(qemu_version: str) -> str:
    """The engine profile for a ``qemu-system-ppc64 --version`` line.

    The one place a recorded or running QEMU is mapped to an engine profile; it asks the
    library's own resolver (``powercompat.profiles.profile_for_version``), so a release the
    engine adds is picked up here with no change.

    :raises UnknownQemuError: for a version no profile models (never guessed).
    """
    from powercompat.profiles import profile_for_version

    try:
        return profile_for_version(qemu_version).name
    except UnknownProfileError as err:
        raise UnknownQemuError(qemu_version) from err


def guest_profile(kernel_version: str) -> str:
    """The engine guest for a Debian kernel package version: ``6.12.57-1`` -> ``linux-6.12``.

    The guest is named after the kernel (``linux-X.Y``); the engine must know that name.

    :raises UnknownGuestError: the engine has no guest of that name (never guessed).
    """
    from powercompat.catalog.guests import guest_by_name

    try:
        name = guest_name(kernel_version)
    except InvalidValueError as err:
        raise UnknownGuestError(kernel_version, "") from err
    if guest_by_name(name) is None:
        raise UnknownGuestError(kernel_version, name)
    return name


def _default_negotiate() -> Negotiate:
    from powercompat.scenario import negotiate

    return negotiate


def _predict(
    negotiate: Negotiate,
    cpu: str,
    mode: str | None,
    guest: str,
    qemu: str,
    **machine: int,
) -> EngineResult | PowerCompatError:
    try:
        return negotiate(
            cpu=cpu, max_cpu_compat=mode, guest=guest, accel="tcg", qemu=qemu, **machine
        )
    except PowerCompatError as err:  # bad option strings: QEMU refuses them at start-up too
        return err


def smp_options(extra: tuple[str, ...]) -> dict[str, int] | None:
    """``-smp N[,threads=T]`` as ``negotiate`` keywords; None for any other extra option."""
    if not extra:
        return {}
    if len(extra) != 2 or extra[0] != "-smp":
        return None
    first, *rest = extra[1].split(",")
    out = {"smp": int(first)}
    for item in rest:
        key, _, value = item.partition("=")
        if key != "threads":
            return None
        out["threads"] = int(value)
    return out


def _startup(observed_error: str | None, predicted: EngineResult | PowerCompatError) -> list[Diff]:
    """Start-up agreement: both started, or both refused with the same text.

    A started machine's ``error`` (a failed CAS) is judged with the boot, not here.
    """
    if isinstance(predicted, PowerCompatError):
        text = str(predicted)
        return [] if observed_error == text else [Diff("startup_error", observed_error, text)]
    if predicted.started:
        return [] if observed_error is None else [Diff("startup_error", observed_error, None)]
    if observed_error != predicted.error:
        return [Diff("startup_error", observed_error, predicted.error)]
    return []


def judge_cell(
    cell: CellResult, *, qemu: str, guest: str, negotiate: Negotiate | None = None
) -> Verdict:
    """Compare one booted (or refused) matrix cell with the engine's prediction."""
    predicted = _predict(
        negotiate or _default_negotiate(), cell.cpu, cell.max_cpu_compat, guest, qemu,
        **({"smp": cell.smp} if cell.smp != 1 else {}),
        **({"threads": cell.threads} if cell.threads != 1 else {}),
    )
    mk = _verdict_maker(cell.cpu, cell.max_cpu_compat, cell_fate(cell),
                        engine_fate(predicted))
    if isinstance(predicted, PowerCompatError) or cell.startup_error is not None:
        diffs = _startup(cell.startup_error, predicted)
        if diffs:
            return mk(Outcome.MISMATCH, diffs)
        return mk(Outcome.REFUSAL_MATCHED, [], cell.startup_error or "")
    diffs = _startup(None, predicted)
    if diffs:
        return mk(Outcome.MISMATCH, diffs)
    if not predicted.cas_reached:  # the engine says the guest never calls CAS
        if cell.cas_trace_count == 0:
            return mk(Outcome.MATCH, _verdict_diff(cell, predicted),
                      f"no CAS, as predicted (guest {cell.stop_reason})")
        return mk(Outcome.MISMATCH, [Diff("CAS reached", True, False)])
    if cell.cas_trace_count == 0:
        return mk(Outcome.INCONCLUSIVE, [], f"no CAS seen (guest {cell.stop_reason})")
    return mk(*_booted(cell, predicted))


def engine_fate(predicted: EngineResult | PowerCompatError) -> Fate:
    """The engine's verdict: negotiate's, or the refusal of options QEMU refuses too."""
    if isinstance(predicted, PowerCompatError):
        return refusal_fate(predicted) or Fate(GuestVerdict.QEMU_REFUSES, str(predicted))
    return predicted.fate


def _verdict_diff(cell: CellResult, predicted: EngineResult) -> list[Diff]:
    observed = cell_fate(cell).verdict
    engine = predicted.fate.verdict
    if predicted.userland_ok is None and {observed, engine} == {GuestVerdict.USERLAND_DIES,
                                                               GuestVerdict.WORKS}:
        return []  # the guest profile does not model its userland: the engine claims nothing
    return [] if observed is engine else [Diff("verdict", observed.value, engine.value)]


def _booted(cell: CellResult, p: EngineResult) -> tuple[Outcome, list[Diff]]:
    d: list[Diff] = []

    def check(name: str, observed: object, predicted: object) -> None:
        if observed is not None and observed != predicted:
            d.append(Diff(name, observed, predicted))

    check("trace_current (pre-CAS mode)", cell.trace_current, p.initial_compat_pvr)
    check("cas_failed", cell.cas_failed, p.cas_failed)
    # The trace prints new=0x0 for raw mode and for a failed CAS alike (oracle.md); after a
    # failure the vCPUs keep their pre-CAS mode, which is what the engine's compat_pvr says.
    check("trace_new (CAS result)", cell.trace_new, 0 if p.cas_failed else p.compat_pvr)
    if cell.cpu_versions:  # ppc_set_compat_all(): every vCPU; the tree has a node per core
        check("DT cpu-version count", str(len(cell.cpu_versions)),
              str(cell.smp // cell.threads))
    for v in cell.cpu_versions:
        check("DT cpu-version", v, p.cpu_version)
    check("guest cpu line", cell.guest_cpu_line, p.guest_cpu_line)
    check("Hardware name real PVR", cell.hardware_real_pvr, p.raw_pvr)
    check("cpuinfo revision PVR", revision_pvr(cell.guest_revision), p.raw_pvr)
    if cell.hardware_name is not None:
        check("Hardware name compat PVR", cell.hardware_compat_pvr or 0, p.compat_pvr)
    if p.userland_ok is not None:
        check("init SIGILL", cell.init_sigill, not p.userland_ok)
    d.extend(_verdict_diff(cell, p))
    return (Outcome.MISMATCH if d else Outcome.MATCH), d


def revision_pvr(revision: str | None) -> int | None:
    """The real PVR in a ``/proc/cpuinfo`` revision line: ``2.0 (pvr 004e 1200)`` -> 0x4e1200."""
    m = re.search(r"\(pvr ([0-9a-fA-F]{4}) ([0-9a-fA-F]{4})\)", revision or "")
    return int(m.group(1) + m.group(2), 16) if m else None


def judge_probe(
    probe: ProbeResult, *, qemu: str, guest: str, negotiate: Negotiate | None = None
) -> Verdict | None:
    """Compare a start-up probe (refusal text, pre-CAS ``cpu-version``); None if not modelled.

    Only ``-smp`` extra options have a counterpart in ``negotiate``.
    """
    machine = smp_options(probe.extra)
    if machine is None:
        return None
    predicted = _predict(
        negotiate or _default_negotiate(), probe.cpu, probe.max_cpu_compat, guest, qemu, **machine
    )
    mk = _verdict_maker(probe.cpu, probe.max_cpu_compat)
    diffs = _startup(probe.startup_error, predicted)
    if diffs:
        return mk(Outcome.MISMATCH, diffs)
    if probe.startup_error is not None or isinstance(predicted, PowerCompatError):
        return mk(Outcome.REFUSAL_MATCHED, [], probe.startup_error or "")
    want = predicted.initial_compat_pvr or predicted.raw_pvr
    d = [Diff("pre-CAS DT cpu-version", v, want) for v in probe.cpu_versions if v != want]
    return mk(Outcome.MISMATCH if d else Outcome.MATCH, d)


def _verdict_maker(cpu: str, mode: str | None, observed: Fate | None = None,
                   predicted: Fate | None = None) -> Callable[..., Verdict]:
    def mk(outcome: Outcome, diffs: Iterable[Diff], note: str = "") -> Verdict:
        diffs = tuple(diffs)
        if diffs and outcome is Outcome.MATCH:
            outcome = Outcome.MISMATCH
        return Verdict(cpu, mode, outcome, diffs, note, observed, predicted)

    return mk


def judge_file(header: dict[str, Any], cells: Iterable[CellResult]) -> list[Verdict]:
    """Judge every cell of a recorded matrix file, profiles taken from its header."""
    qemu = qemu_profile(header["qemu_version"])
    guest = guest_profile(header["kernel_version"])
    return [judge_cell(c, qemu=qemu, guest=guest) for c in cells]


def judge_pcr(
    reading: dict[str, Any], *, qemu: str, guest: str, negotiate: Negotiate | None = None
) -> Verdict:
    """Compare one gdbstub reading (``record pcr``) with the engine's PCR and PVR."""
    cpu, mode = reading["cpu"], reading["max_cpu_compat"]
    mk = _verdict_maker(cpu, mode)
    predicted = _predict(negotiate or _default_negotiate(), cpu, mode, guest, qemu)
    if "error" in reading:  # refused at start-up: the engine must refuse too
        refused = isinstance(predicted, PowerCompatError) or not predicted.started
        if refused:
            return mk(Outcome.REFUSAL_MATCHED, [], reading["error"])
        return mk(Outcome.MISMATCH, [Diff("started", False, True)])
    if isinstance(predicted, PowerCompatError) or not predicted.started:
        return mk(Outcome.MISMATCH, [Diff("started", True, False)])
    d = []
    if reading["pcr"] != predicted.pcr:
        d.append(Diff("SPR_PCR", _Hex64(reading["pcr"]), _Hex64(predicted.pcr)))
    if reading["pvr"] != predicted.raw_pvr:
        d.append(Diff("SPR_PVR", reading["pvr"], predicted.raw_pvr))
    return mk(Outcome.MISMATCH if d else Outcome.MATCH, d)


class _Hex64(int):
    """An int shown as QEMU shows a 64-bit register (``0x%016x``)."""

    def __repr__(self) -> str:
        return f"0x{int(self):016x}"
