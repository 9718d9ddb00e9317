"""One verdict per configuration: what becomes of the guest, in one word, with its reason.

Every front-end (negotiate, simulate, migrate-check, qemu-args, libvirt-xml, fleet plan,
verify) reports the same value for the same configuration, and the CLI's exit status follows
it: 0 only for ``works``. The verdict is the *first* thing that goes wrong along the guest's
life, in the order it happens: libvirt or QEMU refuses before the guest runs, QEMU exits
later, the kernel never reaches CAS, CAS fails, the kernel dies after CAS, init dies. Later
consequences of an earlier failure are not verdicts of their own.

Pure: the callers pass what they observed or predicted; nothing here runs a machine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

from powercompat.errors import (
    CompatError,
    CpuNotPseriesError,
    CpuPropertyError,
    InvalidModeError,
    MachineError,
    PowerCompatError,
    UnknownCpuError,
    UnsupportedMachineError,
)


class Verdict(StrEnum):
    """The guest's fate; the values are the JSON contract (README, "Verdicts")."""

    #: the guest boots, CAS settles, the kernel runs and init runs (or, for a guest whose
    #: userland is not modelled, the kernel runs)
    WORKS = "works"
    #: libvirt refuses to define or start the domain: QEMU never runs (libvirt front-ends)
    LIBVIRT_REFUSES = "libvirt-refuses"
    #: QEMU refuses what it is asked before the guest runs (start-up: options, vCPU
    #: creation, the first machine reset) or refuses a later request (device_add) and
    #: goes on without it; QEMU's own text is the reason
    QEMU_REFUSES = "qemu-refuses"
    #: QEMU exits after the guest started (a reset at reboot, a hot-plug, an incoming
    #: migration that KVM refuses: error_fatal / error_abort)
    QEMU_EXITS = "qemu-exits"
    #: the live migration is refused: the destination exits, the guest goes on on the
    #: source, unmoved (migrate-check, simulate with a migrate event, fleet plan)
    MIGRATION_REFUSED = "migration-refused"
    #: the guest kernel stops before it calls ibm,client-architecture-support, or dies
    #: after it (an early panic with a silent console)
    KERNEL_HANGS = "kernel-hangs"
    #: CAS returns H_HARDWARE: the guest does not get a mode it listed
    CAS_FAILS = "cas-fails"
    #: the kernel boots but init dies (SIGILL: an instruction the mode or CPU does not run)
    USERLAND_DIES = "userland-dies"

    @property
    def exit_status(self) -> int:
        """The CLI's exit status for this verdict: 0 only for ``works``."""
        return 0 if self is Verdict.WORKS else 1


#: what each verdict means, in the order of the guest's life (for the README and --help)
VERDICT_MEANINGS: Final[tuple[tuple[Verdict, str], ...]] = (
    (Verdict.WORKS, "the guest boots through CAS and its init runs"),
    (Verdict.LIBVIRT_REFUSES, "libvirt refuses to define or start the domain (QEMU never "
     "runs)"),
    (Verdict.QEMU_REFUSES, "QEMU refuses before the guest runs (or refuses a later request "
     "and goes on without it); the reason is QEMU's text"),
    (Verdict.QEMU_EXITS, "QEMU exits after the guest started (reset, hot-plug, KVM refusing "
     "a set)"),
    (Verdict.MIGRATION_REFUSED, "the destination refuses the incoming guest, which stays on "
     "the source"),
    (Verdict.KERNEL_HANGS, "the guest kernel never reaches CAS, or dies early after it"),
    (Verdict.CAS_FAILS, "CAS returns H_HARDWARE"),
    (Verdict.USERLAND_DIES, "the kernel boots but init dies with SIGILL"),
)


class Fate(NamedTuple):
    """A verdict and its reason (one line). JSON: ``verdict`` and ``verdict_reason``."""

    verdict: Verdict
    reason: str

    @property
    def works(self) -> bool:
        return self.verdict is Verdict.WORKS

    @property
    def exit_status(self) -> int:
        return self.verdict.exit_status

    def to_json(self) -> dict[str, str]:
        return {"verdict": self.verdict.value, "verdict_reason": self.reason}


def boot_fate(
    *,
    refused: str | None = None,
    exited: str | None = None,
    reaches_cas: bool = True,
    kernel_stops: str = "",
    cas_error: str | None = None,
    kernel_ok: bool | None = True,
    kernel_reason: str = "",
    userland_ok: bool | None = True,
    userland_reason: str = "",
    works: str = "",
) -> Fate:
    """The first failure along one boot, in the order it happens.

    ``refused``: QEMU's start-up refusal; ``exited``: QEMU's text when it exits later;
    ``reaches_cas`` False: the kernel stops before CAS (``kernel_stops`` says why);
    ``cas_error``: CAS returned H_HARDWARE; ``kernel_ok`` False: the kernel dies after CAS;
    ``userland_ok`` False: init dies. None for kernel_ok/userland_ok: not modelled (not a
    failure). ``works``: the reason when nothing failed.
    """
    if refused is not None:
        return Fate(Verdict.QEMU_REFUSES, refused)
    if exited is not None:
        return Fate(Verdict.QEMU_EXITS, exited)
    if not reaches_cas:
        return Fate(Verdict.KERNEL_HANGS, kernel_stops or "the kernel never reaches CAS")
    if cas_error is not None:
        return Fate(Verdict.CAS_FAILS, cas_error)
    if kernel_ok is False:
        return Fate(Verdict.KERNEL_HANGS, kernel_reason)
    if userland_ok is False:
        return Fate(Verdict.USERLAND_DIES, userland_reason)
    return Fate(Verdict.WORKS, works or userland_reason or kernel_reason or "it runs")


#: input QEMU itself refuses at start-up, with its own text (an unknown -cpu or mode, a
#: -cpu property the type lacks, a mode the CPU cannot take, a refused machine option):
#: a verdict about the configuration, not a mistake in using powercompat
_QEMU_REFUSALS: Final = (UnknownCpuError, CpuNotPseriesError, CpuPropertyError,
                         InvalidModeError, CompatError, MachineError, UnsupportedMachineError)


def refusal_fate(err: PowerCompatError) -> Fate | None:
    """The verdict of a configuration the engine refused to build, when the refusal is
    QEMU's own (``qemu-refuses`` with QEMU's text); None for input only powercompat refuses
    (an unknown guest profile, a malformed number, a missing --host-cpu)."""
    if isinstance(err, _QEMU_REFUSALS):
        return Fate(Verdict.QEMU_REFUSES, refusal_text(err))
    return None


def refusal_text(err: PowerCompatError) -> str:
    """QEMU's words for a failure: its first line, and the next where it prints two (a vCPU
    KVM refused: 'Register sync failed...; kvm_init_vcpu: ...')."""
    cause = getattr(err, "cause", None)
    return f"{err}; {cause}" if isinstance(cause, str) and cause else str(err)


class Judged:
    """A result that carries a ``fate``: its verdict and reason, read the same way in every
    command's result (negotiate, simulate, migrate-check)."""

    __slots__ = ()
    fate: Fate

    @property
    def verdict(self) -> Verdict:
        return self.fate.verdict

    @property
    def verdict_reason(self) -> str:
        return self.fate.reason
