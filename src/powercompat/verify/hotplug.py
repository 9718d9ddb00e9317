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
from powercompat.verify.boot import BootSpec, _kill_if_running, spawn_qemu
from powercompat.verify.errors import BootError
from powercompat.verify.initramfs import (
    DONE,
    INIT_EPILOGUE,
    INIT_PROLOGUE,
    PRINT_CPU_VERSIONS,
    build_initramfs,
)
from powercompat.verify.matrix import default_firmware
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
    pairs: tuple[tuple[int, int], ...] | None = None


#: the cases ``record hotplug`` runs; qemu-7.2-linux-6.1-hotplug.json has the first three
CASES: tuple[HotplugCase, ...] = (
    HotplugCase("power9", "power8", (_P7,)),
    HotplugCase("power9", "power8"),
    HotplugCase("power8", None),
    HotplugCase("power10", "power9"),
    HotplugCase("power9", None),
)


async def _core_type(client: QMPClient) -> str:
    """The type QEMU itself gives core 1 (``query-hotpluggable-cpus``): the CPU class each
    release resolves ``-cpu`` to, not a name the harness would have to know."""
    slots = await client.execute("query-hotpluggable-cpus")
    assert isinstance(slots, list)
    for slot in slots:
        if slot.get("props", {}).get("core-id") == 1:
            return str(slot["type"])
    raise BootError("QEMU offers no hot-pluggable core 1")


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
        # the release's own firmware: SLOF before 6.1, which has no x-vof
        machine = BootSpec(case.cpu, case.max_cpu_compat,
                           firmware=default_firmware(assets.qemu_release)).machine_option()
        run = await spawn_qemu(assets.qemu.argv(
            "-M", machine, "-cpu", case.cpu, "-m", "1G", "-smp", "1,maxcpus=2",
            "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-no-reboot", "-trace", "spapr_cas_pvr", "-qmp", f"unix:{sock},server=on,wait=off",
            "-kernel", str(vmlinux), "-initrd", str(initrd),
            "-append", "console=hvc0 loglevel=4 panic=-1"))
        plugged = False
        core_type: str | None = None
        plug_error: str | None = None
        deadline = time.monotonic() + timeout
        try:
            while DONE not in run.out.decode(errors="replace"):
                if run.waiter.done() or time.monotonic() > deadline:
                    break
                if not plugged and READY in run.out.decode(errors="replace"):
                    client = QMPClient("powercompat-verify")
                    await client.connect(str(sock))
                    core_type = await _core_type(client)
                    try:
                        await client.execute("device_add", {"driver": core_type,
                                                            "core-id": 1, "id": "core1"})
                    except QMPError as err:  # QEMU refused the core: an answer too
                        plug_error = str(err)
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
        "cpu": case.cpu, "max_cpu_compat": case.max_cpu_compat, "core_type": core_type,
        "pvr_list": pvr_list, "cas_new": traces[-1].new if traces else None,
        "plugged": plugged and plug_error is None, "plug_error": plug_error,
        "reported": DONE in console,
        # an init killed before READY (5.2's POWER10 DD1 runs no scv): no hot-plug asked
        "init_sigill": signals.init_sigill(console),
        "cpu_versions": [[path, value] for path, value in versions],
        "console_tail": console.splitlines()[-12:],
    }
