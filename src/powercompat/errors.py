"""Every error powercompat raises, under one root.

::

    PowerCompatError
     +-- InputError                  bad text from a user (CLI option, inventory, hex)
     |    +-- UnknownCpuError        -cpu name QEMU does not know
     |    +-- CpuNotPseriesError     -cpu name of a CPU pseries cannot run
     |    +-- UnsupportedMachineError -M machine type this release does not have
     |    +-- CpuPropertyError       -cpu X,prop=Y with a property the CPU type lacks
     |    +-- InvalidModeError       max-cpu-compat name not in the table
     |    +-- UnknownProfileError    QEMU release profile or guest profile unknown
     |    +-- InvalidValueError      malformed number, hex string or event list
     +-- GuestInputError             untrusted bytes from a guest or another host
     |    +-- CasBufferError         malformed CAS buffer (keeps the byte offset)
     |    +-- MigrationStreamError   malformed migration stream (keeps the byte offset)
     +-- CompatError                 QEMU's own refusals of a compat mode
     |    +-- UnknownCompatPvrError  "Unknown compatibility PVR 0x..."
     |    +-- CompatNotValidError    "Compatibility PVR 0x... not valid for CPU"
     |    +-- KvmSetCompatError      "Unable to set CPU compatibility mode in KVM: ..."
     +-- KvmError                    one failed ONE_REG ioctl (keeps errno, op, vcpu, reg id)
     +-- CasError                    CAS refused (H_HARDWARE, H_MULTI_THREADS_ACTIVE)
     +-- MigrationError              destination refused the incoming state
     +-- MachineError                QEMU refused a machine operation (not a compat mode)
     |    +-- SmtError               TCG threads per core refused at start-up
     |    +-- HotplugError           device_add refused: no free vCPU slot
     |    +-- KvmInitError           KVM refused a vCPU at init (KVM HV: not the host's PVR)
     +-- StateError                  operation not allowed in the machine's lifecycle state

``str()`` of each is one line: QEMU's own text where QEMU has one.
"""

from __future__ import annotations

from enum import Enum

from powercompat import messages


class PowerCompatError(Exception):
    """Root of every error the library raises on purpose."""


class InputError(PowerCompatError):
    """Text from a user that cannot be parsed into a catalogue value."""


class UnknownCpuError(InputError):
    """A ``-cpu`` name QEMU does not know (in this profile)."""

    def __init__(self, name: str) -> None:
        super().__init__(messages.unknown_cpu_model(name))
        self.name = name


class UnsupportedMachineError(InputError):
    """A ``-M`` machine type this QEMU release does not have (select_machine() exits).

    ``lines``: what the release prints, in its own words (5.2: ``-M pseries-7.2: unsupported
    machine type``; 7.2: ``unsupported machine type``; 10.0+: ``unsupported machine type:
    "pseries-11.1"``), then the hint."""

    def __init__(self, machine: str, lines: tuple[str, ...]) -> None:
        super().__init__(lines[0])
        self.machine = machine
        self.lines = lines


class CpuNotPseriesError(InputError):
    """A ``-cpu`` name QEMU knows, of a CPU with no sPAPR core type (32-bit, 970FX, ...)."""

    def __init__(self, name: str) -> None:
        super().__init__(messages.NO_SPAPR_CORE)
        self.name = name


class CpuPropertyError(InputError):
    """``-cpu X,prop=value`` where the CPU type has no such property (QEMU's global error)."""


class InvalidModeError(InputError):
    """A ``max-cpu-compat`` value that is not a table name (exact, case-sensitive)."""

    def __init__(self, value: str) -> None:
        super().__init__(messages.invalid_compat_mode(value))
        self.value = value


class UnknownProfileError(InputError):
    """A QEMU release, guest or kernel profile name that is not known."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        super().__init__(f"unknown {kind} '{name}' (valid: {', '.join(valid)})")
        self.kind = kind
        self.name = name
        self.valid = valid


class InvalidValueError(InputError):
    """A malformed number, hex string, event list or similar."""


class GuestInputError(PowerCompatError):
    """Untrusted bytes that failed a check; ``offset`` is where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class CasBufferError(GuestInputError):
    """The guest's CAS buffer is malformed."""


class MigrationStreamError(GuestInputError):
    """An incoming migration stream is malformed."""


class CompatError(PowerCompatError):
    """QEMU refused to put a vCPU in a compat mode; ``pvr`` is the requested logical PVR."""

    def __init__(self, message: str, pvr: int) -> None:
        super().__init__(message)
        self.pvr = pvr


class UnknownCompatPvrError(CompatError):
    def __init__(self, pvr: int) -> None:
        super().__init__(messages.unknown_compat_pvr(pvr), pvr)


class CompatNotValidError(CompatError):
    def __init__(self, pvr: int) -> None:
        super().__init__(messages.compat_not_valid(pvr), pvr)


class KvmSetCompatError(CompatError):
    """KVM refused the ARCH_COMPAT write; ``errno`` is the kernel's errno."""

    def __init__(self, pvr: int, errno: int, vcpu: int) -> None:
        super().__init__(messages.kvm_set_failed(errno), pvr)
        self.errno = errno
        self.vcpu = vcpu


class KvmError(PowerCompatError):
    """One ONE_REG ioctl failed (or KVM_SET_SREGS, ``op`` ``set_sregs``); the errno
    survives, as in kvm-ioctls."""

    def __init__(self, errno: int, op: str, vcpu: int, reg_id: int) -> None:
        call = (f"KVM_{op.upper()}_ONE_REG id {messages.hex64(reg_id)}" if op in ("get", "set")
                else f"KVM_{op.upper()}")
        super().__init__(f"{call} on vCPU {vcpu}: {messages.strerror(errno)}")
        self.errno = errno
        self.op = op
        self.vcpu = vcpu
        self.reg_id = reg_id


class CasError(PowerCompatError):
    """The CAS hypercall returned an error; ``hcall_ret`` is the PAPR return code."""

    def __init__(self, message: str, hcall_ret: int) -> None:
        super().__init__(message)
        self.hcall_ret = hcall_ret


class MigrationError(PowerCompatError):
    """The destination refused the incoming CPU state; its state is unchanged.

    The message is the first line QEMU prints and ``cause`` the next: for a refused mode,
    ppc_set_compat()'s error then the vmstate load failure; for a raw PVR of another family,
    where cpu_post_load() returns -EINVAL silently, the load failure then our explanation.
    """

    def __init__(self, message: str, cause: str | None = None,
                 detail: str | None = None, more: tuple[str, ...] = (),
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        #: why, in our words, where QEMU's lines do not say it
        self.detail = detail
        #: every line QEMU prints, in order (message, cause, then ``more``)
        self.lines = (message, *((cause,) if cause is not None else ()), *more)
        #: the rule that refused (``machine-type``, ``vmstate-version``, ``xive-section``,
        #: ``compat-mode``, ``pvr``, ...), for reports
        self.rule = rule


class MachineError(PowerCompatError):
    """QEMU refused a machine operation for a reason other than a compat mode."""


class SmtError(MachineError):
    """spapr_set_vsmt_mode() refused the threads per core under TCG (QEMU exits)."""


class HotplugError(MachineError):
    """device_add of a core was refused before any vCPU changed."""


class KvmInitError(MachineError):
    """kvm_init_vcpu() failed: QEMU exits. The message is its first line, ``cause`` the
    next (under KVM HV: a -cpu whose PVR is not the host's, refused by KVM_SET_SREGS)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class KvmHostError(MachineError):
    """A machine reset asked KVM for what this host cannot give (an spapr cap, a hash page
    table, a hash MMU): QEMU exits. ``hint`` is QEMU's next line, if it prints one."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class StateError(PowerCompatError):
    """An operation was asked of a machine in a lifecycle state that does not allow it;
    ``state`` and ``required`` are the lifecycle enum's members, as the machine holds them."""

    def __init__(self, op: str, state: Enum, required: tuple[Enum, ...]) -> None:
        super().__init__(
            f"cannot {op}: machine is {state.value}, needs "
            f"{' or '.join(str(r.value) for r in required)}"
        )
        self.op = op
        self.state = state
        self.required = required
