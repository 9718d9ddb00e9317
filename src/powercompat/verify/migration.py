"""Live-migrate a real guest between two real QEMUs on this machine (TCG, loopback only).

Why: the engine's migration rules (cpu/compat section, the destination's checks, and which
interrupt-controller devices each side has) are only trusted once real QEMU agrees. The
source boots a guest through CAS into a kernel panic (``rdinit`` points nowhere) that
``-action panic=pause`` keeps alive; the destination starts with ``-incoming``; QMP ``migrate``
moves it over 127.0.0.1, and both sides' outcomes are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient, QMPError

from powercompat.verify import process, signals
from powercompat.verify.assets import Assets
from powercompat.verify.boot import free_port

#: the guest panics right after CAS and stays paused there
APPEND = "console=hvc0 loglevel=4 panic=0 rdinit=/nonexistent"
#: boot through CAS into the panic (VOF boots in about 2 s here)
BOOT_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class MigrationCase:
    """Source and destination ``-cpu`` and ``max-cpu-compat`` (None: unset)."""

    src_cpu: str
    src_max: str | None
    dst_cpu: str
    dst_max: str | None


#: the cases recorded in tests/data/real/qemu-7.2-linux-6.1-migration.json
CASES: tuple[MigrationCase, ...] = (
    MigrationCase("power9", None, "power8", None),
    MigrationCase("power9", "power8", "power8", "power8"),
    MigrationCase("power9", "power8", "power8", None),
    MigrationCase("power8", None, "power9", None),
    MigrationCase("power10", None, "power9", None),
    MigrationCase("power9", "power9", "power9", "power8"),
    MigrationCase("power8", "power7", "power9", None),
)


def _argv(assets: Assets, cpu: str, max_compat: str | None, qmp: Path, extra: list[str]
          ) -> list[str]:
    machine = "pseries,x-vof=on" + (f",max-cpu-compat={max_compat}" if max_compat else "")
    return [*assets.qemu.prefix, "-M", machine, "-cpu", cpu, "-m", "1G", "-smp", "1",
            "-nodefaults",
            "-display", "none", "-serial", "null", "-monitor", "none", "-no-reboot",
            "-action", "panic=pause", "-trace", "spapr_cas_pvr",
            "-qmp", f"unix:{qmp},server=on,wait=off", "-kernel", str(assets.vmlinux),
            "-initrd", str(assets.initrd), "-append", APPEND, *extra]



async def _qmp(sock: Path, command: str, args: dict[str, Any] | None = None) -> Any:
    client = QMPClient("powercompat-verify")
    await client.connect(str(sock))
    try:
        return await client.execute(command, args)
    finally:
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


def _stop(proc: subprocess.Popen[str]) -> str:
    """Kill the QEMU's group if it still runs; its stderr."""
    process.release(proc)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        return ""
    return err


async def run_case(case: MigrationCase, assets: Assets) -> dict[str, Any]:
    """Boot the source, start the destination, migrate; what each side reported."""
    with process.temp_dir(prefix="pcv-mig-") as tmp:
        src_sock, dst_sock = tmp / "src.sock", tmp / "dst.sock"
        port = free_port()
        src = process.popen(_argv(assets, case.src_cpu, case.src_max, src_sock, []),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        dst: subprocess.Popen[str] | None = None
        status: str | None = None
        dst_state: str | None = None
        try:
            await asyncio.sleep(BOOT_SECONDS)
            dst = process.popen(
                _argv(assets, case.dst_cpu, case.dst_max, dst_sock,
                      ["-incoming", f"tcp:127.0.0.1:{port}"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            await asyncio.sleep(1.0)
            if src.poll() is None and dst.poll() is None:
                await _qmp(src_sock, "migrate", {"uri": f"tcp:127.0.0.1:{port}"})
                for _ in range(150):
                    info = await _qmp(src_sock, "query-migrate")
                    status = info.get("status")
                    if status in ("completed", "failed"):
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)  # the destination loads, then runs or exits
                if dst.poll() is None:
                    dst_state = (await _qmp(dst_sock, "query-status"))["status"]
        finally:
            src_err = _stop(src)
            dst_err = _stop(dst) if dst is not None else ""
    traces = signals.cas_traces(src_err)
    return {
        "src_cpu": case.src_cpu, "src_max_cpu_compat": case.src_max,
        "dst_cpu": case.dst_cpu, "dst_max_cpu_compat": case.dst_max,
        "src_cas_new": traces[-1].new if traces else None,
        "migrate_status": status,
        "dst_running": dst_state is not None,
        "dst_state": dst_state,
        "dst_errors": [line.removeprefix("qemu-system-ppc64: ") for line in
                       dst_err.splitlines() if "warning:" not in line and "cas_pvr" not in line
                       and line.startswith("qemu-system-ppc64: ")],
    }
