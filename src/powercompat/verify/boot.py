"""Boot one real pseries guest under TCG and stop it as soon as its result is readable.

Why stop early: a matrix cell only needs the CAS trace and the guest's report; the guest then
powers itself off or panics, but a held or hung guest is stopped through QMP ``quit`` (the
``qemu.qmp`` library, STYLE.md section 3), and killed only if QMP does not answer.
The command line follows oracle.md ("The boot"): ``-nodefaults -display none -serial stdio``
avoids the VGA/NIC ROMs that ``-nographic`` needs; ``-no-reboot`` with ``panic=-1`` makes a
guest panic end QEMU (exit status 0, reported on stderr as ``OS terminated: OS panic``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from qemu.qmp import QMPClient, QMPError

from powercompat.verify import process
from powercompat.verify.errors import BootError
from powercompat.verify.initramfs import DONE
from powercompat.verify.qemu import QemuBinary

KERNEL_APPEND = "console=hvc0 loglevel=4 panic=-1"
#: Per-boot limits: VOF boots take ~2-5 s, SLOF ~14 s, both slower on a busy host (oracle.md).
DEFAULT_TIMEOUT = {"vof": 30.0, "slof": 60.0}
_QMP_TIMEOUT = 3.0
#: How long a guest that reported or panicked gets to end QEMU by itself.
_EXIT_GRACE = 1.0
_READ_CHUNK = 65536


class Firmware(StrEnum):
    """The pseries firmware: QEMU's minimal VOF (``x-vof=on``) or the default SLOF."""

    VOF = "vof"
    SLOF = "slof"


class StopReason(StrEnum):
    """Why the harness stopped waiting for a guest."""

    EXITED = "exited"  # QEMU ended by itself (start-up refusal, poweroff, panic)
    REPORTED = "reported"  # the init script's end marker was seen
    PANIC = "panic"  # the panic's Hardware name line was seen
    TIMEOUT = "timeout"  # nothing conclusive in time: held or hung guest


@dataclass(frozen=True, slots=True)
class BootSpec:
    """One cell's QEMU configuration."""

    cpu: str
    max_cpu_compat: str | None = None
    firmware: Firmware = Firmware.VOF
    append: str = KERNEL_APPEND
    timeout: float | None = None
    smp: int = 1
    #: threads per core (``-smp N,threads=T``); 1 leaves ``threads`` out
    threads: int = 1

    def smp_option(self) -> str:
        """The ``-smp`` value."""
        return f"{self.smp},threads={self.threads}" if self.threads > 1 else str(self.smp)

    def machine_option(self) -> str:
        """The ``-M`` value; an unset max-cpu-compat is left out, not passed empty."""
        parts = ["pseries"]
        if self.max_cpu_compat is not None:
            parts.append(f"max-cpu-compat={self.max_cpu_compat}")
        if self.firmware is Firmware.VOF:
            parts.append("x-vof=on")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class BootOutput:
    """Raw observations of one boot; signals.py turns them into values."""

    argv: tuple[str, ...]
    returncode: int | None
    console: str
    stderr: str
    stop_reason: StopReason
    stopped_by: str  # "qemu" (exited by itself), "qmp-quit" or "kill"
    seconds: float


def qemu_argv(
    qemu: QemuBinary | str, spec: BootSpec, vmlinux: Path, initrd: Path
) -> list[str]:
    """The boot command line of oracle.md for ``spec`` (without the harness's QMP socket)."""
    return QemuBinary.of(qemu).argv(
        "-M", spec.machine_option(), "-cpu", spec.cpu, "-m", "1G", "-smp", spec.smp_option(),
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-no-reboot", "-trace", "spapr_cas_pvr",
        "-kernel", str(vmlinux), "-initrd", str(initrd), "-append", spec.append,
    )  # fmt: skip


def _conclusive(console: str) -> StopReason | None:
    if DONE in console:
        return StopReason.REPORTED
    panic = console.find("Kernel panic")
    if panic >= 0 and console.find("Hardware name:", panic) >= 0:
        # wait for the end of the Hardware name line itself
        line_start = console.find("Hardware name:", panic)
        if console.find("\n", line_start) >= 0:
            return StopReason.PANIC
    return None


async def _qmp_quit(sock: Path) -> None:
    """Ask QEMU to quit over QMP.

    :raises BootError: when QMP cannot be reached or refuses (cause chained).
    """
    qmp = QMPClient("powercompat-verify")
    try:
        await asyncio.wait_for(qmp.connect(str(sock)), _QMP_TIMEOUT)
        # QEMU may close the socket before or after its reply to quit; both are success.
        with contextlib.suppress(EOFError, ConnectionError):
            await asyncio.wait_for(qmp.execute("quit"), _QMP_TIMEOUT)
    except (QMPError, OSError, TimeoutError, AssertionError) as err:
        # qemu.qmp 0.0.6 protocol.py connect() asserts its runstate is RUNNING; that fails
        # when QEMU closes the socket mid-greeting (the guest powered off at that moment).
        raise BootError(f"QMP quit failed on {sock}: {err!r}") from err
    finally:
        # disconnect() can wait forever on a peer that died mid-reply; bound it.
        with contextlib.suppress(QMPError, OSError, EOFError, TimeoutError):
            await asyncio.wait_for(qmp.disconnect(), _QMP_TIMEOUT)


async def _pump(stream: asyncio.StreamReader, sink: bytearray, changed: asyncio.Event) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        sink += chunk
        changed.set()


async def boot(
    spec: BootSpec,
    qemu: QemuBinary | str,
    vmlinux: Path,
    initrd: Path,
    *,
    workdir: Path | None = None,
) -> BootOutput:
    """Boot ``spec`` and return what QEMU and the guest printed.

    Start-up refusals cost no boot: QEMU exits at once with its message on stderr.

    :raises BootError: when QEMU cannot be launched at all.
    """
    timeout = spec.timeout or DEFAULT_TIMEOUT[spec.firmware.value]
    with process.temp_dir(parent=workdir) as tmp:
        sock = tmp / "qmp.sock"
        argv = qemu_argv(qemu, spec, vmlinux, initrd)
        full = [*argv, "-qmp", f"unix:{sock},server=on,wait=off"]
        start = time.monotonic()
        run = await spawn_qemu(full)
        try:
            return await _watch(run, spec, argv, sock, start, timeout)
        finally:
            process.release(run.proc)


async def _watch(
    run: RunningQemu, spec: BootSpec, argv: list[str], sock: Path, start: float, timeout: float
) -> BootOutput:
    """Wait for a conclusive console or QEMU's exit, stop QEMU, collect its output."""
    proc, out, err_buf, changed, pumps, waiter = (
        run.proc, run.out, run.err, run.changed, run.pumps, run.waiter)
    reason: StopReason | None = None
    deadline = start + timeout
    while reason is None:
        changed.clear()
        if waiter.done():
            reason = StopReason.EXITED
            break
        reason = _conclusive(out.decode(errors="replace"))
        if reason is not None:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = StopReason.TIMEOUT
            break
        ev = asyncio.create_task(changed.wait())
        await asyncio.wait({ev, waiter}, timeout=remaining, return_when="FIRST_COMPLETED")
        ev.cancel()

    stopped_by = "qemu"
    try:
        if not waiter.done():
            grace = 0.0 if reason is StopReason.TIMEOUT else _EXIT_GRACE
            stopped_by = await asyncio.wait_for(
                _stop(proc, sock, waiter, grace), grace + 4 * _QMP_TIMEOUT
            )
    except TimeoutError:
        stopped_by = "kill"
    finally:
        _kill_if_running(proc)
    await _drain(pumps, waiter)
    seconds = time.monotonic() - start
    return BootOutput(
        argv=tuple(argv),
        returncode=proc.returncode,
        console=out.decode(errors="replace"),
        stderr=err_buf.decode(errors="replace"),
        stop_reason=reason,
        stopped_by=stopped_by,
        seconds=round(seconds, 3),
    )


@dataclass
class RunningQemu:
    """A QEMU child in its own session, its stdout/stderr pumped into buffers; ``changed`` is
    set whenever either grows and ``waiter`` ends with the process."""

    proc: asyncio.subprocess.Process
    out: bytearray
    err: bytearray
    changed: asyncio.Event
    pumps: list[asyncio.Task[None]]
    waiter: asyncio.Task[int]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (gdbstub, -incoming)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def spawn_qemu(argv: list[str]) -> RunningQemu:
    """Start QEMU with its output pumped, so it never blocks on a full pipe.

    The child is registered with :mod:`process`; end it with ``process.release(run.proc)``.

    :raises EnvironmentProblem: QEMU cannot be run at all.
    """
    proc = await process.spawn(argv)
    assert proc.stdout is not None and proc.stderr is not None
    out, err_buf, changed = bytearray(), bytearray(), asyncio.Event()
    pumps = [
        asyncio.create_task(_pump(proc.stdout, out, changed)),
        asyncio.create_task(_pump(proc.stderr, err_buf, changed)),
    ]
    return RunningQemu(proc, out, err_buf, changed, pumps, asyncio.create_task(proc.wait()))


def _kill_if_running(proc: asyncio.subprocess.Process) -> None:
    """Last resort: SIGKILL the QEMU session (it was started in its own session)."""
    process.release(proc)


async def _drain(pumps: list[asyncio.Task[None]], waiter: asyncio.Task[int]) -> None:
    """Collect the last output; never wait forever on a pipe or a child."""
    _done, pending = await asyncio.wait([*pumps, waiter], timeout=2 * _QMP_TIMEOUT)
    for task in pending:
        task.cancel()


async def _stop(
    proc: asyncio.subprocess.Process,
    sock: Path,
    waiter: asyncio.Task[int],
    grace: float = 0.0,
) -> str:
    """Let QEMU end by itself within ``grace``, else QMP ``quit``, else SIGKILL its session.

    A guest that reported (``poweroff -f`` follows) or panicked (``panic=-1 -no-reboot``)
    ends QEMU within milliseconds; racing it with a QMP connection gains nothing.
    """
    if grace > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), grace)
            return "qemu"
    try:
        await _qmp_quit(sock)
        await asyncio.wait_for(asyncio.shield(waiter), _QMP_TIMEOUT)
        return "qmp-quit"
    except (BootError, TimeoutError):
        if waiter.done():  # it exited on its own while QMP was failing
            return "qemu"
        _kill_if_running(proc)
        return "kill"


def dump_dtb(
    qemu: QemuBinary | str,
    cpu: str,
    max_cpu_compat: str | None,
    dest: Path,
    *,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run QEMU with ``-machine dumpdtb=dest``: start-up validation and the pre-CAS tree.

    It exits in about 0.1 s without running a guest (oracle.md).
    """
    spec = BootSpec(cpu=cpu, max_cpu_compat=max_cpu_compat)
    machine = f"{spec.machine_option()},dumpdtb={dest}"
    argv = QemuBinary.of(qemu).argv(
        "-M", machine, "-cpu", cpu, "-m", "1G", "-nodefaults", "-display", "none",
        "-monitor", "none", *extra,
    )  # fmt: skip
    return process.run(argv, timeout=60)
