"""One L0 session: x86 QEMU (TCG) boots L1 with its initramfs; L1 runs its L2 list.

Rules (TEAM.md, kvm-nested.md): one L0 at a time, under the shared TCG lock
(``fcntl.flock``, held for this one batch); a timeout on the whole session and on every
configuration; L0 goes through ``verify.process`` (own process group, PDEATHSIG, registered),
so it is killed with its group on every path: timeout, error, and SIGINT/SIGTERM/SIGHUP under
``process.guard()``; progress is reported per L2 configuration as L1 prints its markers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from powercompat.verify import process
from powercompat.verify.boot import spawn_qemu
from powercompat.verify.errors import BootError
from powercompat.verify.kvm.assets import L0Qemu

DEFAULT_LOCK = Path("/work/locks/tcg.lock")
L1_APPEND = "console=hvc0 loglevel=3 panic=-1"
#: seconds for L0 to boot L1 and load KVM, and per L2 configuration
L1_BOOT_BUDGET = 240.0
PER_CONFIG_BUDGET = 420.0


@dataclass(frozen=True, slots=True)
class Host:
    """How L1 gets a hypervisor: pseries nested HV (radix L2), powernv (bare-metal HV), or a
    hash-MMU pseries L1 for KVM PR (``nested_hv`` off; book3s_pr.c
    kvmppc_core_check_processor_compat_pr refuses a radix ISA 3.00 host; ``l1_append`` can
    carry ``disable_radix`` for a POWER9 L0)."""

    name: str
    l0_qemu: str  # L0 QEMU label (assets.L0_SUITES / host 7.2)
    machine: str  # pseries | powernv9
    cpu: str  # L0 -cpu
    host_cpu: str  # the engine's --host-cpu for this host
    l1_kernels: tuple[str, ...]
    nested_hv: bool = True  # pseries: L0 gives L1 cap-nested-hv
    #: the largest initrd the machine loads (None: no limit met so far)
    initrd_limit: int | None = None
    #: added to L1's kernel command line (``disable_radix``: a hash-MMU host)
    l1_append: str = ""
    #: extra ``-machine`` options of L2 per L1 QEMU label (caps this host's KVM lacks)
    l2_machine: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def l2_machine_for(self, qemu: str) -> tuple[str, ...]:
        return dict(self.l2_machine).get(qemu, ())

    def argv(self, l0: L0Qemu, vmlinux: Path, initrd: Path, append: str) -> list[str]:
        if self.machine == "pseries":
            caps = ",cap-nested-hv=on" if self.nested_hv else ""
            machine = ["-machine", f"pseries{caps},x-vof=on"]
            extra: list[str] = []
        else:
            machine = ["-machine", self.machine]
            # without the BMC a poweroff in L1 never ends L0 (kvm-nested.md)
            extra = ["-device", "ipmi-bmc-sim,id=bmc0",
                     "-device", "isa-ipmi-bt,bmc=bmc0,irq=10"]
        datadir = ["-L", str(l0.datadir)] if l0.datadir else []
        return [*l0.argv0, *datadir, *machine, "-cpu", self.cpu, "-m", "4G", "-smp", "2",
                "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
                "-no-reboot", *extra, "-kernel", str(vmlinux), "-initrd", str(initrd),
                "-append", append]


HOSTS: dict[str, Host] = {
    "pseries-power9": Host("pseries-power9", "7.2", "pseries", "POWER9", "POWER9",
                           ("6.1", "6.12", "7.2")),
    # nested HV on a POWER10 L0 (10.0's pseries, -cpu power10)
    "pseries-power10": Host("pseries-power10", "10.0", "pseries", "power10", "POWER10",
                            ("6.1", "6.12")),
    # L1 7.2 (sid's 7.2.13) is not run here: its first L2 stops making progress and L1
    # with it, under L0 10.0.13 and 11.1.3, L0 -smp 2 and 1, MTTCG and thread=single
    # (kvm-kernel.md, "L1 7.2")
    "pseries-power11": Host("pseries-power11", "10.0", "pseries", "power11", "POWER11",
                            ("6.1", "6.12")),
    # hw/ppc/pnv.c INITRD_MAX_SIZE: 128 MiB ("Could not load initial ram disk" beyond). A
    # radix host: the L1 kernel's page size (6.1 64K, 6.12/7.2 see assets) does not matter,
    # hash L2 guests are refused before they run
    "powernv9": Host("powernv9", "7.2", "powernv9", "POWER9", "POWER9", ("6.1", "6.12", "7.2"),
                     initrd_limit=128 << 20),
    # the same under L0 10.0, whose POWER9 is DD2.2 (power9_v2.2): a radix host that can mix
    # in hash guests (KVM_CAP_PPC_MMU_HASH_V3), which DD2.0 cannot
    "powernv9-dd22": Host("powernv9-dd22", "10.0", "powernv9", "POWER9", "POWER9",
                          ("6.1", "6.12", "7.2"), initrd_limit=128 << 20),
    # a POWER10 bare-metal hypervisor (L0 10.0's powernv10). L1 7.2 is not run: its first L2
    # stopped making progress and L1 with it (one attempt, L0 stopped after 432 s), as on
    # pseries-power11
    "powernv10": Host("powernv10", "10.0", "powernv10", "POWER10", "POWER10", ("6.1", "6.12"),
                      initrd_limit=128 << 20),
    # a POWER8 bare-metal hypervisor: no radix, every L2 guest runs hash (the classic KVM HV
    # host of the 2017 story)
    "powernv8": Host("powernv8", "7.2", "powernv8", "POWER8", "POWER8", ("6.1", "6.12", "7.2"),
                     initrd_limit=128 << 20),
    # L1 as a hash-MMU host: POWER9 DD2.0 (L0 7.2's powernv9) has no mixed radix/hash mode,
    # so a radix L1 refuses hash L2 guests ("Guest requested unavailable MMU mode (hash).");
    # 10.0/11.1 default to cap-ail-mode-3=on, which this KVM lacks
    "powernv9-hash": Host("powernv9-hash", "7.2", "powernv9", "POWER9", "POWER9", ("6.1",),
                          initrd_limit=128 << 20, l1_append="disable_radix",
                          l2_machine=(("10.0", ("cap-ail-mode-3=off",)),
                                      ("11.1", ("cap-ail-mode-3=off",)))),
    # KVM PR (issue #14): the rebuilt 6.1 (verify pr-kernel) in a hash-MMU pseries L1. A
    # POWER8 L0, not POWER9 with disable_radix: there L1 6.1 oopses as soon as QEMU creates
    # the PR VM (kvm-kernel.md, "KVM PR"). PR lacks KVM_CAP_PPC_FWNMI ("Firmware Assisted
    # Non-Maskable Interrupts(FWNMI) not supported by KVM.") and KVM_CAP_PPC_AIL_MODE_3 (the
    # cap exists from 10.0), both hv_enabled-only in powerpc.c. L1: the 64K-page build and
    # the 4K one (verify pr-kernel --page-size 4; labels from verify/kvm/pr.kernel_label)
    "pseries-power8": Host("pseries-power8", "7.2", "pseries", "POWER8", "POWER8",
                           ("6.1-pr", "6.1-pr4k"), nested_hv=False,
                           l2_machine=(("7.2", ("cap-fwnmi=off",)),
                                       ("10.0", ("cap-fwnmi=off", "cap-ail-mode-3=off")),
                                       ("11.1", ("cap-fwnmi=off", "cap-ail-mode-3=off")))),
}


@dataclass(frozen=True, slots=True)
class SessionOutput:
    argv: tuple[str, ...]
    console: str
    stderr: str
    returncode: int | None
    seconds: float
    timed_out: bool
    lock_wait: float


@contextlib.contextmanager
def tcg_lock(path: Path | None) -> Iterator[float]:
    """Hold the shared TCG lock (blocking); yields the seconds spent waiting for it."""
    if path is None:
        yield 0.0
        return
    t0 = time.monotonic()
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - t0
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


async def _session(argv: list[str], timeout: float, on_line: Callable[[str], None],
                   quiet: float = PER_CONFIG_BUDGET) -> tuple[str, str, int | None, bool]:
    """Run L0 until it exits, ``timeout`` passes, or L1 prints no marker for ``quiet``
    seconds after its first one (a wedged L1 is not waited for until the overall limit)."""
    run = await spawn_qemu(argv)
    seen = 0
    timed_out = False
    start = time.monotonic()
    deadline = start + timeout
    last_marker: float | None = None
    try:
        while not run.waiter.done():
            now = time.monotonic()
            since = start + L1_BOOT_BUDGET - quiet if last_marker is None else last_marker
            limit = min(deadline, since + quiet)
            if now >= limit:
                timed_out = True
                break
            run.changed.clear()
            ev = asyncio.create_task(run.changed.wait())
            await asyncio.wait({ev, run.waiter}, timeout=min(limit - now, 5.0),
                               return_when="FIRST_COMPLETED")
            ev.cancel()
            text = run.out.decode(errors="replace")
            end = text.rfind("\n") + 1
            for line in text[seen:end].splitlines():
                if line.startswith("@@PCK-"):
                    last_marker = time.monotonic()
                    on_line(line)
            seen = max(seen, end)
    finally:
        process.release(run.proc)  # kills L0's whole group if it still runs
        _done, pending = await asyncio.wait([*run.pumps, run.waiter], timeout=5)
        for task in pending:
            task.cancel()
    return (run.out.decode(errors="replace"), run.err.decode(errors="replace"),
            run.proc.returncode, timed_out)


def run_session(host: Host, l0: L0Qemu, vmlinux: Path, initrd: Path, n_configs: int,
                *, only: list[str] | None = None, lock: Path | None = DEFAULT_LOCK,
                on_line: Callable[[str], None] | None = None,
                quiet: float = PER_CONFIG_BUDGET) -> SessionOutput:
    """Boot L0 once and collect L1's console; SIGINT/SIGTERM end L0 before re-raising.

    :raises BootError: L0 could not be started.
    """
    append = " ".join(filter(None, (L1_APPEND, host.l1_append,
                                    f"pc.only={','.join(only)}" if only else "")))
    argv = host.argv(l0, vmlinux, initrd, append)
    timeout = L1_BOOT_BUDGET + PER_CONFIG_BUDGET * n_configs
    if lock is not None and not lock.parent.is_dir():
        lock = None

    # SIGINT/SIGTERM/SIGHUP: process.guard() (around the CLI command) kills L0's group,
    # which spawn_qemu registered; the ``finally`` above kills it on every other path
    with tcg_lock(lock) as waited:
        t0 = time.monotonic()
        out, err, rc, timed_out = asyncio.run(
            _session(argv, timeout, on_line or (lambda _l: None), quiet))
        seconds = time.monotonic() - t0
    if "@@PCK-KVM" not in out and not timed_out:
        tail = " | ".join(err.strip().splitlines()[-3:]) or "no output"
        raise BootError(f"L0 ({host.name}) exited {rc} before L1 came up: {tail}")
    return SessionOutput(tuple(argv), out, err, rc, round(seconds, 1), timed_out,
                         round(waited, 1))
