"""Pure parsers for what a real boot prints: QEMU's stderr and the guest console.

Why several signals: each one can be missing (a guest whose init dies of SIGILL prints no
``/proc/cpuinfo``), so the harness reads all of them and records them side by side
(oracle.md, "Four signals of the negotiated mode").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from powercompat.verify.initramfs import CPU_VERSION_TAG, CPUINFO_BEGIN, CPUINFO_END

#: QEMU prefixes its own error and warning lines with the program name (util/qemu-error.c).
QEMU_PREFIX = "qemu-system-ppc64: "

# hw/ppc/trace-events: spapr_cas_pvr(uint32_t cur_pvr, bool explicit_match, uint32_t new_pvr)
# "current=0x%x, explicit_match=%u, new=0x%x". The log backend may prefix "PID@SEC.USEC:".
_CAS_TRACE = re.compile(
    r"(?:^|\s|:)spapr_cas_pvr current=0x([0-9a-fA-F]+), explicit_match=(\d+), "
    r"new=0x([0-9a-fA-F]+)"
)
# hw/ppc/spapr_hcall.c do_client_architecture_support()
CAS_FAILED_TEXT = "Couldn't negotiate a suitable PVR during CAS"
# kernel/exit.c via panic(): exit code 4 is SIGILL (signal number in the low 7 bits).
_KILL_INIT = re.compile(r"Attempted to kill init! exitcode=0x([0-9a-fA-F]+)")
SIGILL = 4
# lib/dump_stack.c prints "Hardware name: %s"; powerpc's dump_stack_arch_desc is built in
# arch/powerpc/kernel/setup-common.c (ppc_printk_progress / setup_panic) and ends with the
# real PVR and, in a compat mode, the logical PVR: "... POWER9 (raw) 0x4e1200 0xf000004 ...".
_HW_NAME = re.compile(r"Hardware name: (.*)$", re.MULTILINE)
_HEX = re.compile(r"\b0x([0-9a-fA-F]+)\b")
_CPU_VERSION = re.compile(re.escape(CPU_VERSION_TAG) + r" (\S+) ([0-9a-fA-F]{8})\s*$", re.MULTILINE)
_KERNEL_TS = re.compile(r"^\[\s*\d+\.\d+\] ")


@dataclass(frozen=True, slots=True)
class CasTrace:
    """One ``spapr_cas_pvr`` trace event: the mode before CAS and the one CAS chose.

    ``new`` is 0 both for raw mode and for a failed CAS; only the error line tells them apart.
    """

    current: int
    explicit_match: bool
    new: int


@dataclass(frozen=True, slots=True)
class HardwareName:
    """The panic/dmesg ``Hardware name`` line and the PVRs it names."""

    line: str
    real_pvr: int | None
    compat_pvr: int | None


@dataclass(frozen=True, slots=True)
class StartupError:
    """A refusal QEMU prints before the guest runs: program prefix and its exact message."""

    prefix: str
    message: str


def cas_traces(stderr: str) -> tuple[CasTrace, ...]:
    """Every ``spapr_cas_pvr`` event, in order (a SLOF CAS reboot can print more than one)."""
    return tuple(
        CasTrace(int(m.group(1), 16), m.group(2) != "0", int(m.group(3), 16))
        for m in _CAS_TRACE.finditer(stderr)
    )


def cpu_versions(console: str) -> tuple[tuple[str, int], ...]:
    """``(device-tree path, value)`` for each ``cpus/*@*/cpu-version`` the guest printed."""
    return tuple((m.group(1), int(m.group(2), 16)) for m in _CPU_VERSION.finditer(console))


def cpuinfo(console: str) -> str | None:
    """The ``/proc/cpuinfo`` text between the init markers, or None if it never got printed."""
    start = console.find(CPUINFO_BEGIN)
    end = console.find(CPUINFO_END, start + 1)
    if start < 0 or end < 0:
        return None
    body = console[start + len(CPUINFO_BEGIN) : end]
    lines = [ln for ln in body.strip("\r\n").splitlines() if not _KERNEL_TS.match(ln)]
    return "\n".join(ln.rstrip("\r") for ln in lines)


def cpuinfo_field(text: str | None, field: str) -> str | None:
    """One ``field : value`` of ``/proc/cpuinfo`` (first processor), e.g. ``cpu`` or ``MMU``."""
    if text is None:
        return None
    for ln in text.splitlines():
        key, sep, value = ln.partition(":")
        if sep and key.strip() == field:
            return value.strip()
    return None


def hardware_name(console: str) -> HardwareName | None:
    """The first ``Hardware name:`` line; its first two hex numbers are real and compat PVR."""
    m = _HW_NAME.search(console)
    if m is None:
        return None
    line = m.group(1).rstrip("\r").strip()
    pvrs = [int(h, 16) for h in _HEX.findall(line)]
    return HardwareName(
        line=line,
        real_pvr=pvrs[0] if pvrs else None,
        compat_pvr=pvrs[1] if len(pvrs) > 1 else None,
    )


def cas_failed(stderr: str) -> bool:
    """True when QEMU reported that CAS found no acceptable PVR (H_HARDWARE)."""
    return CAS_FAILED_TEXT in stderr


def init_exit_code(console: str) -> int | None:
    """The exit code of a dying init from the panic text, or None if init did not die."""
    m = _KILL_INIT.search(console)
    return int(m.group(1), 16) if m else None


def init_sigill(console: str) -> bool:
    """True when init was killed by SIGILL (userland built for a newer ISA than negotiated)."""
    code = init_exit_code(console)
    return code is not None and code & 0x7F == SIGILL


def startup_error(stderr: str) -> StartupError | None:
    """QEMU's refusal text: its stderr lines other than warnings, infos and traces, prefix split.

    Several lines are joined with ``\\n`` (e.g. a hint after the error).
    """
    messages: list[str] = []
    prefix = ""
    for raw in stderr.splitlines():
        line = raw.rstrip("\r")
        if not line.strip() or _CAS_TRACE.search(line):
            continue
        if line.startswith(QEMU_PREFIX):
            prefix, line = QEMU_PREFIX, line[len(QEMU_PREFIX) :]
        if line.startswith(("warning:", "info:")):
            continue
        messages.append(line)
    if not messages:
        return None
    return StartupError(prefix=prefix, message="\n".join(messages))


def os_panic(stderr: str) -> str | None:
    """QEMU's ``OS terminated: OS panic: ...`` report of a guest panic (exit status stays 0)."""
    for line in stderr.splitlines():
        if "OS terminated:" in line:
            return line.split("OS terminated:", 1)[1].strip()
    return None
