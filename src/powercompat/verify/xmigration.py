"""Live-migrate a real guest between two QEMU releases on this machine (TCG, loopback only).

Why: an operator upgrades a POWER fleet host by host, so a guest moves between Debian's 7.2,
10.0 and 11.1 (issue #15). Whether it can depends on both releases: the model each resolves,
the machine types each has, each one's compat and PVR rules, and the vmstate versions of each.
Only a real pair of binaries says which rule refuses first and in which words.

How one case runs (each side its own extracted binary, :mod:`powercompat.verify.qemu`):

1. the destination starts first with ``-incoming tcp:127.0.0.1:PORT``; a destination that
   cannot start (unknown model, missing machine type, invalid max-cpu-compat) exits at once
   with its message, and the source is then not booted;
2. the source boots the guest with VOF (stage ``after-cas``): ``/init`` prints each CPU's
   ``cpu-version`` and ``/proc/cpuinfo`` (the mode CAS gave it), then ``READY``, then a
   heartbeat line every half second; or it is created paused with ``-S`` and never runs
   (stage ``before-boot``: compat_pvr is what the reset set, the raw PVR is checked);
3. QMP ``migrate`` on the source, ``query-migrate`` until it completes or fails;
4. the destination either exits (QEMU ends an incoming migration that failed to load in
   every release; 10.0+ through ``exit-on-error``) or runs: its ``query-status``, and the
   guest's heartbeat continuing on its console, are the guest's state after the move. A
   ``before-boot`` guest that moved is started there (``cont``) and boots through CAS on the
   destination. Where the move was refused, the source is continued and its heartbeat read.

Everything is a child of :mod:`powercompat.verify.process` (own session, killed on any exit
path) with a deadline on every wait; the recorder holds the shared TCG lock per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient, QMPError

from powercompat.verify import process, signals
from powercompat.verify.assets import Assets
from powercompat.verify.boot import RunningQemu, free_port, spawn_qemu
from powercompat.verify.errors import BootError, EnvironmentProblem
from powercompat.verify.initramfs import (
    CPUINFO_BEGIN,
    CPUINFO_END,
    INIT_PROLOGUE,
    PRINT_CPU_VERSIONS,
    build_initramfs,
)

READY = "@@POWERCOMPAT-READY@@"
ALIVE = "@@POWERCOMPAT-ALIVE"
#: the guest reports its mode, says READY, then beats until it is stopped
_REPORT = INIT_PROLOGUE + f"""echo {CPUINFO_BEGIN}
cat /proc/cpuinfo
echo {CPUINFO_END}
""" + PRINT_CPU_VERSIONS + f"""echo {READY}
i=0
"""
MIGRATION_INIT = _REPORT + f"""while :; do echo "{ALIVE} $i"; i=$((i+1)); sleep 0.5; done
"""
#: the same guest, but never idle: it counts between beats instead of sleeping, so its vCPU
#: is never halted when the migration stops it
BUSY_INIT = _REPORT + f"""while :; do echo "{ALIVE} $i"; i=$((i+1)); j=0
  while [ $j -lt 3000 ]; do j=$((j+1)); done
done
"""
APPEND = "console=hvc0 loglevel=4 panic=-1"
MEMORY = "1G"
DEFAULT_LOCK = Path("/work/locks/tcg.lock")
_ALIVE = re.compile(re.escape(ALIVE) + r" (\d+)\s*$", re.MULTILINE)

#: seconds: destination start-up, source boot to READY, the migration, the load on the
#: destination, the heartbeat after the move, a boot on the destination, QMP calls
DST_START_TIMEOUT = 20.0
BOOT_TIMEOUT = 120.0
MIGRATE_TIMEOUT = 120.0
LOAD_TIMEOUT = 30.0
BEAT_TIMEOUT = 8.0
QMP_TIMEOUT = 5.0


class Stage(StrEnum):
    """When the guest moves."""

    AFTER_CAS = "after-cas"  # booted, CAS done, /init running
    BEFORE_BOOT = "before-boot"  # created with -S, never ran: no CAS


class Workload(StrEnum):
    """What the guest does while it beats (what its vCPU is doing when it is stopped)."""

    IDLE = "idle"  # sleeps between beats: the vCPU is halted most of the time
    BUSY = "busy"  # counts between beats: the vCPU is never halted


INITS = {Workload.IDLE: MIGRATION_INIT, Workload.BUSY: BUSY_INIT}


@dataclass(frozen=True, slots=True)
class Side:
    """One end: its QEMU release and what is passed to it. ``firmware``: ``vof`` (x-vof=on)
    or ``slof`` (QEMU 5.2 has no VOF; both ends of a pair then use SLOF)."""

    release: str
    cpu: str
    max_cpu_compat: str | None = None
    machine: str = "pseries"
    firmware: str = "vof"

    def machine_option(self) -> str:
        parts = [self.machine]
        if self.firmware == "vof":
            parts.append("x-vof=on")
        if self.max_cpu_compat is not None:
            parts.append(f"max-cpu-compat={self.max_cpu_compat}")
        return ",".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release, "cpu": self.cpu,
                "max_cpu_compat": self.max_cpu_compat, "machine": self.machine,
                "firmware": self.firmware}


@dataclass(frozen=True, slots=True)
class XCase:
    """One cross-release migration and the rule it is there to exercise."""

    src: Side
    dst: Side
    purpose: str
    stage: Stage = Stage.AFTER_CAS
    guest: str = "linux-6.1"
    workload: Workload = Workload.IDLE

    @property
    def key(self) -> str:
        def one(s: Side) -> str:
            slof = ":slof" if s.firmware == "slof" else ""
            return f"{s.release}:{s.machine}:{s.cpu}:{s.max_cpu_compat or '-'}{slof}"
        busy = ":busy" if self.workload is Workload.BUSY else ""
        return f"{one(self.src)}>{one(self.dst)}:{self.stage.value}:{self.guest}{busy}"


# --- QEMU command lines ---------------------------------------------------------------------


def options(side: Side, vmlinux: Path, initrd: Path, qmp: Path, *, incoming: int | None,
            paused: bool) -> list[str]:
    """QEMU's options for one side (the binary's own prefix is added by the caller)."""
    argv = [
        "-M", side.machine_option(), "-cpu", side.cpu, "-m", MEMORY, "-smp", "1",
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-no-reboot", "-trace", "spapr_cas_pvr",
        "-qmp", f"unix:{qmp},server=on,wait=off",
        "-kernel", str(vmlinux), "-initrd", str(initrd), "-append", APPEND,
    ]  # fmt: skip
    if paused:
        argv.append("-S")
    if incoming is not None:
        argv += ["-incoming", f"tcp:127.0.0.1:{incoming}"]
    return argv


def portable(argv: Sequence[str], vmlinux: Path, initrd: Path, qmp: Path, port: int
             ) -> list[str]:
    """The options as recorded: no cache paths, socket or port of this run."""
    out = ["qemu-system-ppc64"]
    for a in argv:
        a = a.replace(str(qmp), "QMP.sock").replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")
        out.append(vmlinux.name if a == str(vmlinux) else initrd.name if a == str(initrd)
                   else a)
    return out


# --- QMP ------------------------------------------------------------------------------------


class _Qmp:
    """One QMP connection to one QEMU, every call bounded by a timeout."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock
        self.client: QMPClient | None = None

    async def connect(self, run: RunningQemu, deadline: float) -> bool:
        """Connect once QEMU listens; False when QEMU exited or the deadline passed."""
        while time.monotonic() < deadline:
            if run.waiter.done():
                return False
            if self.sock.exists():
                client = QMPClient("powercompat-xmigration")
                try:
                    await asyncio.wait_for(client.connect(str(self.sock)), QMP_TIMEOUT)
                except (QMPError, OSError, TimeoutError, AssertionError):
                    with contextlib.suppress(QMPError, OSError, EOFError, TimeoutError):
                        await asyncio.wait_for(client.disconnect(), QMP_TIMEOUT)
                else:
                    self.client = client
                    return True
            await asyncio.sleep(0.1)
        return False

    async def call(self, command: str, args: dict[str, Any] | None = None) -> Any:
        """:raises BootError: not connected, QEMU went away, or no answer in time."""
        if self.client is None:
            raise BootError(f"QMP {command}: not connected to {self.sock}")
        try:
            return await asyncio.wait_for(self.client.execute(command, args), QMP_TIMEOUT)
        except (QMPError, OSError, EOFError, TimeoutError, AssertionError) as err:
            raise BootError(f"QMP {command} on {self.sock.name} failed: {err!r}") from err

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(QMPError, OSError, EOFError, TimeoutError):
                await asyncio.wait_for(self.client.disconnect(), QMP_TIMEOUT)
            self.client = None


# --- observing one side ---------------------------------------------------------------------


def _text(buf: bytearray) -> str:
    return buf.decode(errors="replace")


def beats(console: str) -> list[int]:
    """Every heartbeat number the guest printed, in order."""
    return [int(m.group(1)) for m in _ALIVE.finditer(console)]


def error_lines(stderr: str) -> list[str]:
    """QEMU's own error lines, prefix removed, warnings and trace events left out."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith(signals.QEMU_PREFIX):
            continue
        body = line.removeprefix(signals.QEMU_PREFIX)
        if body.startswith("warning:"):
            continue
        out.append(body)
    return out


async def _wait_for(run: RunningQemu, ready: Callable[[], bool], deadline: float) -> bool:
    """Until ``ready()`` or QEMU exits or the deadline; whether ``ready()`` became true."""
    while not ready():
        if run.waiter.done() or time.monotonic() >= deadline:
            return ready()
        run.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.changed.wait(), min(1.0, deadline - time.monotonic()))
    return True


async def _stop(run: RunningQemu | None) -> None:
    if run is None:
        return
    process.release(run.proc)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(run.waiter), 5.0)
    _done, pending = await asyncio.wait(run.pumps, timeout=5.0)
    for task in pending:
        task.cancel()


@dataclass
class _SideRun:
    """What one QEMU did during a case."""

    argv: list[str]
    run: RunningQemu | None = None
    exit_status: int | None = None  # None: still running when the harness stopped it
    stopped_by_harness: bool = False
    state: str | None = None  # query-status after the move (or after the boot)
    notes: list[str] = field(default_factory=list)

    def finish(self) -> None:
        if self.run is None:
            return
        if self.run.waiter.done():
            self.exit_status = self.run.proc.returncode
        else:
            self.stopped_by_harness = True

    def to_json(self) -> dict[str, Any]:
        stderr = _text(self.run.err) if self.run else ""
        console = _text(self.run.out) if self.run else ""
        errors = error_lines(stderr)
        traces = signals.cas_traces(stderr)
        info = signals.cpuinfo(console)
        return {
            "argv": self.argv,
            "started": self.run is not None,
            "exit_status": self.exit_status,
            "stopped_by_harness": self.stopped_by_harness,
            "state": self.state,
            "first_error": errors[0] if errors else None,
            "errors": errors,
            "stderr": [ln for ln in stderr.splitlines() if "spapr_cas_pvr" not in ln],
            "cas": [{"current": t.current, "explicit_match": t.explicit_match, "new": t.new}
                    for t in traces],
            "cpu_versions": [[p, v] for p, v in signals.cpu_versions(console)],
            "guest_cpu": signals.cpuinfo_field(info, "cpu"),
            "ready": READY in console,
            "beats": beats(console),
            "notes": self.notes,
        }


# --- one case -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side's assets: its QEMU binary, and the guest kernel the case boots."""

    assets: Assets
    initrd: Path


async def run_xcase(case: XCase, src: Endpoint, dst: Endpoint) -> dict[str, Any]:
    """Run one migration between two real QEMUs; every observation, nothing judged."""
    start = time.monotonic()
    with process.temp_dir(prefix="pcv-xmig-") as tmp:
        port = free_port()
        vmlinux, initrd = src.assets.vmlinux, src.initrd
        dst_sock, src_sock = tmp / "dst.sock", tmp / "src.sock"
        paused = case.stage is Stage.BEFORE_BOOT
        dst_opts = options(case.dst, vmlinux, initrd, dst_sock, incoming=port, paused=False)
        src_opts = options(case.src, vmlinux, initrd, src_sock, incoming=None, paused=paused)
        d = _SideRun(portable(dst_opts, vmlinux, initrd, dst_sock, port))
        s = _SideRun(portable(src_opts, vmlinux, initrd, src_sock, port))
        dq, sq = _Qmp(dst_sock), _Qmp(src_sock)
        outcome: dict[str, Any] = {"migrate_status": None, "migrate_error": None,
                                   "moved": False, "guest_after": None, "inconclusive": None}
        try:
            d.run = await spawn_qemu(dst.assets.qemu.argv(*dst_opts))
            if await dq.connect(d.run, time.monotonic() + DST_START_TIMEOUT):
                s.run = await spawn_qemu(src.assets.qemu.argv(*src_opts))
                await _migrate(case, s, d, sq, dq, outcome, port)
            else:
                await _wait_for(d.run, lambda: False, time.monotonic() + 2.0)
                s.notes.append("not started: the destination did not start")
        finally:
            d.finish()
            s.finish()
            await dq.close()
            await sq.close()
            await _stop(d.run)
            await _stop(s.run)
    return {
        "key": case.key, "purpose": case.purpose, "stage": case.stage.value,
        "guest": case.guest, "workload": case.workload.value,
        "src": {**case.src.to_json(), **s.to_json()},
        "dst": {**case.dst.to_json(), **d.to_json()}, **outcome,
        "seconds": round(time.monotonic() - start, 2),
    }


async def _migrate(case: XCase, s: _SideRun, d: _SideRun, sq: _Qmp, dq: _Qmp,
                   outcome: dict[str, Any], port: int) -> None:
    assert s.run is not None and d.run is not None
    src_run, dst_run = s.run, d.run
    if not await sq.connect(src_run, time.monotonic() + DST_START_TIMEOUT):
        s.notes.append("the source did not start")
        return
    if case.stage is Stage.AFTER_CAS:
        ok = await _wait_for(src_run, lambda: bool(beats(_text(src_run.out))),
                             time.monotonic() + BOOT_TIMEOUT)
        if not ok:
            if not src_run.waiter.done():
                outcome["inconclusive"] = "the guest never reached its heartbeat on the source"
            s.notes.append("the guest never reached its heartbeat on the source")
            return
    if dst_run.waiter.done():
        d.notes.append("the destination exited before the migration")
        return
    await sq.call("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    deadline = time.monotonic() + MIGRATE_TIMEOUT
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        info = await sq.call("query-migrate")
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.2)
    else:
        outcome["inconclusive"] = f"the migration did not end within {MIGRATE_TIMEOUT:g} s"
    outcome["migrate_status"] = info.get("status")
    outcome["migrate_error"] = info.get("error-desc")
    s.state = (await sq.call("query-status"))["status"]
    # the destination loads, then runs (or stays paused) or exits
    deadline = time.monotonic() + LOAD_TIMEOUT
    while time.monotonic() < deadline and not dst_run.waiter.done():
        with contextlib.suppress(BootError):
            d.state = (await dq.call("query-status"))["status"]
            if d.state != "inmigrate":
                break
        await asyncio.sleep(0.2)
    if dst_run.waiter.done():
        d.state = None
    elif d.state == "inmigrate":
        outcome["inconclusive"] = f"the destination still loads after {LOAD_TIMEOUT:g} s"
    moved = d.state not in (None, "inmigrate")
    outcome["moved"] = moved
    if moved and case.stage is Stage.AFTER_CAS:
        on_source = beats(_text(src_run.out))  # the source stopped when the move completed
        last = on_source[-1] if on_source else -1
        await _wait_for(dst_run, lambda: any(b > last for b in beats(_text(dst_run.out))),
                        time.monotonic() + BEAT_TIMEOUT)
        seen = beats(_text(dst_run.out))
        outcome["guest_after"] = {"where": "destination", "last_beat_on_source": last,
                                  "beats_on_destination": seen,
                                  "alive": any(b > last for b in seen)}
    elif moved:
        await dq.call("cont")
        await _wait_for(dst_run, lambda: bool(beats(_text(dst_run.out))),
                        time.monotonic() + BOOT_TIMEOUT)
        d.state = (await dq.call("query-status"))["status"] if not dst_run.waiter.done() \
            else None
        outcome["guest_after"] = {"where": "destination", "booted_there": READY in
                                  _text(dst_run.out), "alive": bool(beats(_text(dst_run.out)))}
    elif not src_run.waiter.done() and case.stage is Stage.AFTER_CAS:
        # refused: management continues the guest where it was
        seen_before = beats(_text(src_run.out))
        last = seen_before[-1] if seen_before else -1
        with contextlib.suppress(BootError):
            await sq.call("cont")
        await _wait_for(src_run, lambda: beats(_text(src_run.out))[-1:] > [last],
                        time.monotonic() + BEAT_TIMEOUT)
        s.state = (await sq.call("query-status"))["status"]
        alive = beats(_text(src_run.out))[-1:] > [last]
        outcome["guest_after"] = {"where": "source", "continued": s.state, "alive": alive}


# --- batches under the shared lock ----------------------------------------------------------


@contextlib.contextmanager
def tcg_lock(path: Path | None) -> Iterator[float]:
    """Hold the shared TCG lock (``flock``) for one batch; yields the seconds waited.

    ``None``: no lock (a machine of one's own).
    """
    if path is None:
        yield 0.0
        return
    began = time.monotonic()
    try:
        fh = path.open("a")
    except OSError as err:
        raise EnvironmentProblem(f"cannot open the TCG lock {path}: {err.strerror}") from err
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - began
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- the recorded cases ---------------------------------------------------------------------

_AFTER, _BEFORE = Stage.AFTER_CAS, Stage.BEFORE_BOOT


def _case(pair: str, machine: str, cpu: str, dst_cpu: str, purpose: str, *,
          src_max: str | None = None, dst_max: str | None = None, stage: Stage = _AFTER,
          guest: str = "linux-6.1", workload: Workload = Workload.IDLE) -> XCase:
    src_rel, dst_rel = pair.split(">")
    firmware = "slof" if "5.2" in (src_rel, dst_rel) else "vof"  # 5.2 has no VOF
    return XCase(Side(src_rel, cpu, src_max, machine, firmware),
                 Side(dst_rel, dst_cpu, dst_max, machine, firmware), purpose, stage, guest,
                 workload)


_P72_100 = "7.2>10.0"
_P100_72 = "10.0>7.2"
_P100_111 = "10.0>11.1"
_P111_100 = "11.1>10.0"
_P72_111 = "7.2>11.1"
_P111_72 = "11.1>7.2"
_P52_72, _P72_52 = "5.2>7.2", "7.2>5.2"
_P52_100, _P100_52, _P52_111, _P111_52 = "5.2>10.0", "10.0>5.2", "5.2>11.1", "11.1>5.2"
_P52_52, _P72_72, _P100_100, _P111_111 = "5.2>5.2", "7.2>7.2", "10.0>10.0", "11.1>11.1"
_M52, _M72, _M100, _M111 = "pseries-5.2", "pseries-7.2", "pseries-10.0", "pseries-11.1"

#: every recorded cross-release migration, one tuple per ordered pair of releases
CASES: dict[str, tuple[XCase, ...]] = {
    _P72_100: (
        _case(_P72_100, _M72, "power9", "power9", "alias retargeted (v2.0 -> v2.2), but after "
              "CAS the guest runs in power9 mode and the raw PVR is not checked"),
        _case(_P72_100, _M72, "power9", "power9", "raw mode (never booted): 10.0 matches "
              "DD2.0 only to power9_v2.0", stage=_BEFORE),
        _case(_P72_100, _M72, "power9_v2.0", "power9_v2.0", "the same explicit model on both "
              "sides in raw mode", stage=_BEFORE),
        _case(_P72_100, _M72, "power9_v2.0", "power9", "explicit v2.0 to 10.0's power9 (v2.2) "
              "after CAS"),
        _case(_P72_100, _M72, "power9_v2.0", "power9_v2.2", "DD2.0 raw PVR into a DD2.2 "
              "class", stage=_BEFORE),
        _case(_P72_100, _M72, "power9", "power8", "POWER9 -> POWER8: the XIVE section has "
              "no device on a XICS-only destination"),
        _case(_P72_100, _M72, "power9", "power8", "max-cpu-compat=power8 on both: XICS on "
              "both, power8 mode", src_max="power8", dst_max="power8"),
        _case(_P72_100, _M72, "power9", "power8", "max-cpu-compat=power8 on the source only",
              src_max="power8"),
        _case(_P72_100, _M72, "power10", "power9", "power10 mode is not valid on POWER9"),
        _case(_P72_100, _M72, "power10", "power9", "max-cpu-compat=power9 on the source only",
              src_max="power9"),
        _case(_P72_100, _M72, "power10", "power10", "power10 mode; the model kept its name "
              "but changed its PVR (0x00800200 -> 0x00801200)"),
        _case(_P72_100, _M72, "power10", "power10", "raw mode: POWER10 matches base and major "
              "DD, so the PVR change does not matter", stage=_BEFORE),
        _case(_P72_100, _M72, "power10_v1.0", "power10", "raw DD1 PVR into a DD2 class",
              stage=_BEFORE),
        _case(_P72_100, _M72, "power10_v1.0", "power10_v1.0", "model removed in 10.0"),
        _case(_P72_100, _M72, "power5gs", "power5gs", "alias of an alias no longer "
              "resolves in 10.0"),
        _case(_P72_100, _M72, "power8", "power8", "max-cpu-compat=power7+ set at reset, "
              "migrated before CAS: 10.0's logical-PVR check refuses it on POWER8",
              src_max="power7+", stage=_BEFORE),
        _case(_P72_100, _M72, "power8", "power8", "max-cpu-compat=power7+ but CAS picked "
              "power7 (Linux lists no power7+)", src_max="power7+"),
        _case(_P72_100, _M72, "power9", "power9", "max-cpu-compat=power7+ on the destination "
              "only: 10.0 refuses it at start-up", dst_max="power7+"),
        _case(_P72_100, _M72, "power9", "power9", "max-cpu-compat=power8 on the destination "
              "only: XICS there, XIVE in the stream", dst_max="power8"),
        _case(_P72_100, _M72, "power9", "power10", "power9 mode onto POWER10"),
        _case(_P72_100, _M72, "power8", "power9", "power8 mode onto POWER9 (XICS stream into "
              "a dual machine)"),
        _case(_P72_100, _M72, "power8e", "power8e", "POWER8E on both"),
        _case(_P72_100, "pseries", "power9", "power9", "plain pseries: each release's newest "
              "machine type (pseries-7.2 vs pseries-10.0)"),
        _case(_P72_100, _M100, "power9", "power9", "pseries-10.0 does not exist on the 7.2 "
              "source"),
    ),
    _P100_72: (
        _case(_P100_72, _M72, "power9", "power9", "backward: 10.0's vmstate is newer"),
        _case(_P100_72, _M72, "power9_v2.0", "power9_v2.0", "backward in raw mode with the "
              "same model", stage=_BEFORE),
        _case(_P100_72, "pseries", "power9", "power9", "plain pseries: pseries-10.0 vs "
              "pseries-7.2"),
        _case(_P100_72, _M100, "power9", "power9", "pseries-10.0 is missing on 7.2"),
        _case(_P100_72, _M72, "power9_v2.2", "power9_v2.2", "model added in 10.0"),
        _case(_P100_72, _M72, "power10", "power9", "power10 mode onto POWER9, backward"),
        _case(_P100_72, _M72, "power9", "power8", "POWER9 -> POWER8 backward: which comes "
              "first, XIVE or the vmstate version", src_max="power8", dst_max="power8"),
        _case(_P100_72, _M72, "power9", "power8", "POWER9 (XIVE) -> POWER8 backward"),
        _case(_P100_72, _M72, "power11", "power10", "POWER11 (power10 mode with linux-6.1) "
              "-> POWER10 backward"),
    ),
    _P100_111: (
        _case(_P100_111, _M100, "power9", "power9", "same alias, same model (v2.2) on both"),
        _case(_P100_111, _M100, "power9", "power9", "raw mode, the same model",
              stage=_BEFORE),
        _case(_P100_111, _M72, "power9", "power9", "an older machine type both have"),
        _case(_P100_111, "pseries", "power9", "power9", "plain pseries: pseries-10.0 vs "
              "pseries-11.1"),
        _case(_P100_111, "pseries-5.1", "power9", "power9", "pseries-5.1: in 10.0, gone "
              "from Debian's 11.1"),
        _case(_P100_111, _M100, "power10", "power10", "power10 mode"),
        _case(_P100_111, _M100, "power11", "power11", "POWER11 with linux-6.1 (no power11 in "
              "its list): power10 mode"),
        _case(_P100_111, _M100, "power11", "power11", "POWER11 with linux-6.12: power11 mode",
              guest="linux-6.12"),
        _case(_P100_111, _M100, "power11", "power10", "power11 mode onto POWER10: the "
              "logical-PVR check", guest="linux-6.12"),
        _case(_P100_111, _M100, "power11", "power10", "POWER11 -> POWER10 with a guest in "
              "power10 mode"),
        _case(_P100_111, _M100, "power8e", "power8e", "model removed in 11.1"),
        _case(_P100_111, _M100, "power8nvl", "power8", "POWER8NVL (removed in 11.1) -> POWER8 "
              "after CAS: power8 mode"),
        _case(_P100_111, _M100, "power8nvl", "power8", "POWER8NVL -> POWER8 in raw mode",
              stage=_BEFORE),
        _case(_P100_111, _M100, "power9", "power8", "POWER9 -> POWER8: XIVE"),
        _case(_P100_111, _M100, "power10", "power9", "power10 mode onto POWER9"),
        _case(_P100_111, _M100, "power10", "power9", "max-cpu-compat=power9 on both",
              src_max="power9", dst_max="power9"),
        _case(_P100_111, _M100, "power10", "power10", "power10 mode into a destination capped "
              "at power9", dst_max="power9"),
        _case(_P100_111, _M100, "power9", "power9", "max-cpu-compat=power7+ on the "
              "destination: refused at start-up", dst_max="power7+"),
        _case(_P100_111, _M100, "power9", "power9", "a guest that is never idle: 11.1's "
              "rtas-stopped-state inference (pseries-10.0 and older) leaves it running",
              workload=Workload.BUSY),
    ),
    _P111_100: (
        _case(_P111_100, _M100, "power9", "power9", "backward with pseries-10.0"),
        _case(_P111_100, "pseries", "power9", "power9", "plain pseries: pseries-11.1 vs "
              "pseries-10.0"),
        _case(_P111_100, _M111, "power9", "power9", "pseries-11.1 is missing on 10.0"),
        _case(_P111_100, _M100, "power11", "power11", "power11 mode backward",
              guest="linux-6.12"),
        _case(_P111_100, _M100, "power11", "power10", "POWER11 -> POWER10 in power10 mode"),
        _case(_P111_100, _M100, "power10", "power10", "raw mode backward", stage=_BEFORE),
        _case(_P111_100, _M100, "power9", "power8", "POWER9 -> POWER8: XIVE"),
        _case(_P111_100, _M100, "power9", "power8", "max-cpu-compat=power8 on the source",
              src_max="power8"),
        _case(_P111_100, _M100, "power10", "power9", "power10 mode onto POWER9"),
    ),
    _P72_111: (
        _case(_P72_111, _M72, "power9", "power9", "alias retargeted, after CAS"),
        _case(_P72_111, _M72, "power9", "power9", "alias retargeted, raw mode", stage=_BEFORE),
        _case(_P72_111, _M72, "power9_v2.0", "power9_v2.0", "the same model, raw mode",
              stage=_BEFORE),
        _case(_P72_111, _M72, "power8e", "power8e", "model removed in 11.1"),
        _case(_P72_111, _M72, "power8e", "power8", "POWER8E -> POWER8 after CAS"),
        _case(_P72_111, "pseries", "power9", "power9", "plain pseries: pseries-7.2 vs "
              "pseries-11.1"),
        _case(_P72_111, _M72, "power10", "power9", "power10 mode onto POWER9"),
        _case(_P72_111, _M72, "power9", "power8", "POWER9 -> POWER8: XIVE"),
        _case(_P72_111, _M72, "power9", "power8", "max-cpu-compat=power8 on both",
              src_max="power8", dst_max="power8"),
        _case(_P72_111, _M72, "power10", "power11", "power10 mode onto POWER11"),
        _case(_P72_111, _M72, "power8", "power8", "power7+ before CAS: the logical-PVR check",
              src_max="power7+", stage=_BEFORE),
        _case(_P72_111, "pseries-5.2", "power9", "power9", "pseries-5.2: the oldest machine "
              "type both have"),
        _case(_P72_111, "pseries-5.1", "power9", "power9", "pseries-5.1: in 7.2, gone from "
              "Debian's 11.1"),
        _case(_P72_111, _M72, "power9", "power9", "a guest that is never idle",
              workload=Workload.BUSY),
    ),
    _P111_72: (
        _case(_P111_72, _M72, "power9", "power9", "backward: the vmstate is newer"),
        _case(_P111_72, "pseries", "power9", "power9", "plain pseries: pseries-11.1 vs "
              "pseries-7.2"),
        _case(_P111_72, _M111, "power9", "power9", "pseries-11.1 is missing on 7.2"),
        _case(_P111_72, _M72, "power11", "power11", "model unknown to 7.2"),
        _case(_P111_72, _M72, "power9", "power8", "max-cpu-compat=power8 on both, backward",
              src_max="power8", dst_max="power8"),
        _case(_P111_72, _M72, "power9_v2.0", "power9_v2.0", "raw mode backward",
              stage=_BEFORE),
    ),
    # QEMU 5.2 (bullseye) has no VOF: SLOF on both ends. pseries-5.2 is the one machine
    # type that every Debian release from 5.2 to 11.1 has.
    _P52_72: (
        _case(_P52_72, _M52, "power9", "power9", "forward from 5.2 with pseries-5.2"),
        _case(_P52_72, _M52, "power9", "power9", "raw mode: power9 is v2.0 on both",
              stage=_BEFORE),
        _case(_P52_72, _M52, "power10", "power10", "5.2's power10 is DD1 (power10_v1.0): "
              "after CAS, power10 mode"),
        _case(_P52_72, _M52, "power10", "power10", "raw DD1 PVR into 7.2's DD2 class "
              "(major DD must match in 7.2)", stage=_BEFORE),
        _case(_P52_72, "pseries", "power9", "power9", "plain pseries: pseries-5.2 vs "
              "pseries-7.2"),
        _case(_P52_72, _M52, "power9", "power8", "POWER9 -> POWER8: XIVE"),
        _case(_P52_72, _M52, "power9", "power9", "a guest that is never idle",
              workload=Workload.BUSY),
    ),
    _P72_52: (
        _case(_P72_52, _M52, "power9", "power9", "backward to 5.2 with pseries-5.2"),
        _case(_P72_52, _M52, "power10", "power10", "raw DD2 PVR into 5.2's DD1 class "
              "(5.2 matches the family)", stage=_BEFORE),
        _case(_P72_52, _M72, "power9", "power9", "pseries-7.2 is missing on 5.2"),
        _case(_P72_52, _M52, "power10", "power9", "power10 mode onto POWER9, backward"),
    ),
    _P52_100: (
        _case(_P52_100, _M52, "power9", "power9", "5.2 -> 10.0 with pseries-5.2"),
        _case(_P52_100, _M52, "power9", "power9", "raw v2.0 into 10.0's power9 (v2.2)",
              stage=_BEFORE),
    ),
    _P100_52: (
        _case(_P100_52, _M52, "power9", "power9", "10.0 -> 5.2 backward with pseries-5.2"),
    ),
    _P52_111: (
        _case(_P52_111, _M52, "power9", "power9", "5.2 -> 11.1 with pseries-5.2"),
        _case(_P52_111, _M52, "power8e", "power8e", "model removed in 11.1"),
    ),
    _P111_52: (
        _case(_P111_52, _M52, "power9", "power9", "11.1 -> 5.2 backward with pseries-5.2"),
        _case(_P111_52, _M52, "power9", "power9", "raw v2.2 into 5.2's power9 (v2.0)",
              stage=_BEFORE),
        _case(_P111_52, _M111, "power9", "power9", "pseries-11.1 is missing on 5.2"),
        _case(_P111_52, _M52, "power11", "power11", "model unknown to 5.2"),
        _case(_P111_52, _M52, "power10", "power10", "raw DD2 PVR into 5.2's DD1 class",
              stage=_BEFORE),
        _case(_P111_52, _M52, "power10", "power9", "power10 mode onto POWER9, backward"),
        _case(_P111_52, _M52, "power9", "power8", "max-cpu-compat=power8 on both, backward",
              src_max="power8", dst_max="power8"),
    ),
    # same-release controls: is a silent guest after the move the pair's doing, or the
    # destination release's own (TCG decrementer, rtas-stopped-state inference)?
    _P52_52: (
        _case(_P52_52, _M52, "power9", "power9", "control: 5.2 to itself"),
    ),
    _P72_72: (
        _case(_P72_72, _M72, "power9", "power9", "control: 7.2 to itself"),
        _case(_P72_72, _M72, "power9", "power9", "control: 7.2 to itself, a guest that is "
              "never idle", workload=Workload.BUSY),
    ),
    _P100_100: (
        _case(_P100_100, _M100, "power9", "power9", "control: 10.0 to itself"),
        _case(_P100_100, _M100, "power9", "power9", "control: 10.0 to itself in power8 mode: "
              "the guest runs on XICS (no XIVE below ISA 3.00), whose presenter state a "
              "10.0.2 end does not migrate", src_max="power8", dst_max="power8"),
        _case(_P100_100, _M100, "power9", "power9", "control: 10.0 to itself, a linux-6.12 guest "
              "in power6 mode: no VSX, so its init dies on the source, whose os-term line "
              "quotes nothing",
              src_max="power6", dst_max="power6", guest="linux-6.12"),
    ),
    _P111_111: (
        _case(_P111_111, _M111, "power9", "power9", "control: 11.1 to itself, its own "
              "machine type"),
        _case(_P111_111, _M100, "power9", "power9", "control: 11.1 to itself with "
              "pseries-10.0 (rtas-stopped-state off)"),
        _case(_P111_111, _M100, "power9", "power9", "control: 11.1 to itself with "
              "pseries-10.0, a guest that is never idle", workload=Workload.BUSY),
    ),
}


def pair_cases(src_release: str, dst_release: str) -> tuple[XCase, ...]:
    """The recorded cases from ``src_release`` to ``dst_release`` (none for an unknown pair)."""
    return CASES.get(f"{src_release}>{dst_release}", ())


# --- a pair of releases ---------------------------------------------------------------------

SCHEMA = "powercompat-xmigration/1"
METHOD = (
    "each side its own Debian QEMU, run from its extracted package closure; TCG, -m "
    f"{MEMORY}, -smp 1, VOF (x-vof=on; SLOF on both ends when one is 5.2). The "
    "destination starts first with -incoming "
    "tcp:127.0.0.1:PORT (one that refuses to start is recorded, the source then not booted). "
    "after-cas: the source boots the guest (kernel append '" + APPEND + "'), whose /init "
    "prints /proc/cpuinfo and every cpu-version, then READY and a heartbeat every 0.5 s "
    "(workload idle: sleep 0.5 between beats; busy: a counting loop, never idle); "
    "the migration starts at the first heartbeat. before-boot: the source is started with -S "
    "and never runs. QMP migrate on the source, query-migrate until completed/failed, then "
    "query-status on the destination until it leaves inmigrate or exits. Moved after-cas: "
    "the heartbeat read on the destination's console; moved before-boot: cont on the "
    "destination, which boots the guest. Refused after-cas: cont on the source and its "
    "heartbeat read. errors: the destination's qemu-system-ppc64 lines without warnings."
)


@dataclass
class PairRun:
    """Every case of one ordered pair, with the versions and times that go into the file."""

    src: Assets
    dst: Assets
    guests: dict[str, Assets]
    migrations: list[dict[str, Any]]
    wall_seconds: float
    lock_waited_seconds: float

    def to_json(self, command: str, date: str) -> dict[str, Any]:
        def qemu(a: Assets) -> dict[str, Any]:
            return {"release": a.qemu_release, "qemu_version": a.qemu_version,
                    "debian_version": a.qemu_debian_version, "suite": a.qemu_suite}

        return {
            "schema": SCHEMA,
            "src": qemu(self.src),
            "dst": qemu(self.dst),
            "guests": {name: {"kernel_package": a.kernel_package,
                              "kernel_version": a.kernel_version,
                              "busybox_version": a.busybox_version, "suite": a.guest_suite}
                       for name, a in sorted(self.guests.items())},
            "date": date,
            "command": command,
            "method": METHOD,
            "wall_seconds": round(self.wall_seconds, 1),
            "lock_waited_seconds": round(self.lock_waited_seconds, 1),
            "migrations": self.migrations,
        }


AssetLoader = Callable[[str, str], Assets]
Progress = Callable[[dict[str, Any]], None]


def run_pair(
    cases: Sequence[XCase],
    load: AssetLoader,
    *,
    lock: Path | None = DEFAULT_LOCK,
    batch: int = 6,
    progress: Progress | None = None,
    suites: tuple[str, str] | None = None,
) -> PairRun:
    """Run ``cases`` (all of one ordered pair), ``batch`` at a time under the TCG lock.

    ``load(release, guest)`` gives a side's assets (:func:`assets.load_assets`; never
    fetches); ``suites`` names the Debian suites (source, destination) to load instead of
    the cases' release numbers, for a build that is not its release's first suite
    (bookworm-backports' 10.0.2). Every guest's initramfs is written once, with the
    migration ``/init``.

    :raises AssetError: a release or guest is not set up (the message names the setup).
    :raises EnvironmentProblem: the lock or a program cannot be used.
    """
    if not cases:
        raise BootError("no cases to run")
    if batch < 1:
        raise BootError(f"batch must be at least 1, got {batch}")
    src_rel, dst_rel = cases[0].src.release, cases[0].dst.release
    if any((c.src.release, c.dst.release) != (src_rel, dst_rel) for c in cases):
        raise BootError("every case of a run must be of the same ordered pair")
    src_from, dst_from = suites or (src_rel, dst_rel)
    guests = {c.guest: load(src_from, c.guest) for c in cases}
    src_assets, dst_assets = guests[cases[0].guest], load(dst_from, cases[0].guest)
    began = time.monotonic()
    waited = 0.0
    out: list[dict[str, Any]] = []
    with process.temp_dir(prefix="pcv-xmig-initrd-") as work:
        initrds = {(g, w): build_initramfs(a.busybox, work / f"{g}-{w.value}.gz", INITS[w])
                   for g, a in guests.items() for w in Workload}
        for start in range(0, len(cases), batch):
            with tcg_lock(lock) as w:
                waited += w
                for case in cases[start:start + batch]:
                    initrd = initrds[(case.guest, case.workload)]
                    src = Endpoint(guests[case.guest], initrd)
                    dst = Endpoint(dst_assets, initrd)
                    result = asyncio.run(run_xcase(case, src, dst))
                    out.append(result)
                    if progress is not None:
                        progress(result)
    return PairRun(src_assets, dst_assets, guests, out, time.monotonic() - began, waited)
