"""Hot-plug a CPU core into a real guest after CAS and read the new vCPU's ``cpu-version``.

Why: QEMU exposes no compat state through QMP, HMP's ``info registers`` shows no PCR, and its
gdbstub refuses SPR reads on a hot-plugged vCPU; the guest's device tree is the one window.
The guest's ``/init`` prints ``READY``, waits until a second CPU node appears (the kernel's
pseries DLPAR code adds it on QEMU's hot-plug event), then prints every ``cpu-version``. A
patched PVR list can make CAS settle below max-cpu-compat, so the three rules that QEMU has
had (nothing, max-cpu-compat, the boot CPU's mode) give three different answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from qemu.qmp import QMPClient, QMPError

from powercompat.verify import process, signals
from powercompat.verify.assets import Assets
from powercompat.verify.boot import _kill_if_running, spawn_qemu
from powercompat.verify.initramfs import (
    DONE,
    INIT_EPILOGUE,
    INIT_PROLOGUE,
    PRINT_CPU_VERSIONS,
    build_initramfs,
)
from powercompat.verify.patched import PatchedCase, buffer_for, patch_kernel
from powercompat.verify.vector import pvr_pairs, read_symbol

READY = "@@POWERCOMPAT-READY@@"

HOTPLUG_INIT = INIT_PROLOGUE + f"""echo {READY}
n=0
while [ $(ls -d /proc/device-tree/cpus/*@* | wc -l) -lt 2 ] && [ $n -lt 40 ]; do
  sleep 0.5; n=$((n+1))
done
""" + PRINT_CPU_VERSIONS + INIT_EPILOGUE

_P7 = (0xFFFFFFFF, 0x0F000003)


@dataclass(frozen=True, slots=True)
class HotplugCase:
    """``pairs`` None: the kernel's own list."""

    cpu: str
    max_cpu_compat: str | None
    core_type: str
    pairs: tuple[tuple[int, int], ...] | None = None


#: the cases recorded in tests/data/real/qemu-7.2-linux-6.1-hotplug.json (7.2 names)
CASES: tuple[HotplugCase, ...] = (
    HotplugCase("power9", "power8", "power9_v2.0-spapr-cpu-core", (_P7,)),
    HotplugCase("power9", "power8", "power9_v2.0-spapr-cpu-core"),
    HotplugCase("power8", None, "power8_v2.0-spapr-cpu-core"),
)


async def run_case(case: HotplugCase, assets: Assets, timeout: float = 60.0) -> dict[str, Any]:
    """Boot, wait for READY, ``device_add`` core 1, wait for the guest's report."""
    with process.temp_dir(prefix="pcv-hp-") as work:
        vmlinux = assets.vmlinux
        pvr_list = None
        if case.pairs is not None:
            n = len(pvr_pairs(read_symbol(assets.vmlinux).data))
            buf = buffer_for(PatchedCase("hotplug", case.pairs, case.cpu), n)
            vmlinux = patch_kernel(assets.vmlinux, buf, work / "vmlinux")
            pvr_list = buf.hex()
        initrd = build_initramfs(assets.busybox, work / "initrd.gz", HOTPLUG_INIT)
        sock = work / "qmp.sock"
        machine = "pseries,x-vof=on" + (
            f",max-cpu-compat={case.max_cpu_compat}" if case.max_cpu_compat else "")
        run = await spawn_qemu(assets.qemu.argv(
            "-M", machine, "-cpu", case.cpu, "-m", "1G", "-smp", "1,maxcpus=2",
            "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-no-reboot", "-trace", "spapr_cas_pvr", "-qmp", f"unix:{sock},server=on,wait=off",
            "-kernel", str(vmlinux), "-initrd", str(initrd),
            "-append", "console=hvc0 loglevel=4 panic=-1"))
        plugged = False
        deadline = time.monotonic() + timeout
        try:
            while DONE not in run.out.decode(errors="replace"):
                if run.waiter.done() or time.monotonic() > deadline:
                    break
                if not plugged and READY in run.out.decode(errors="replace"):
                    client = QMPClient("powercompat-verify")
                    await client.connect(str(sock))
                    await client.execute("device_add", {"driver": case.core_type,
                                                        "core-id": 1, "id": "core1"})
                    with contextlib.suppress(QMPError, OSError, EOFError):
                        await client.disconnect()
                    plugged = True
                run.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.changed.wait(), 1.0)
        finally:
            _kill_if_running(run.proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.waiter, 5.0)
        console = run.out.decode(errors="replace")
        traces = signals.cas_traces(run.err.decode(errors="replace"))
    versions = signals.cpu_versions(console)
    return {
        "cpu": case.cpu, "max_cpu_compat": case.max_cpu_compat, "core_type": case.core_type,
        "pvr_list": pvr_list, "cas_new": traces[-1].new if traces else None,
        "plugged": plugged, "reported": DONE in console,
        "cpu_versions": [[path, value] for path, value in versions],
        "console_tail": console.splitlines()[-12:],
    }
