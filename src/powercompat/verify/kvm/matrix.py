"""The nested-KVM matrix: which L2 configurations each (host, L1 kernel) session runs, and
the recorded file each session writes.

Why these cells (issue #10): every L1 QEMU (7.2, 10.0, 11.1) with ``max-cpu-compat`` unset
and each mode the host accepts, one mode the host (QEMU or kernel) does not accept, hash-MMU
guests on powernv9, ``-smp 2`` everywhere, and ``-cpu POWER8`` (not the host model) for the
real KVM-HV refusal text of each release.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powercompat.verify.kvm.assets import KvmAssets, L1Kernel
from powercompat.verify.kvm.guest import KPROBES, L2_APPEND, L1Image, L2Config
from powercompat.verify.kvm.parse import ConfigRun, parse_session
from powercompat.verify.kvm.session import DEFAULT_LOCK, HOSTS, Host, run_session

SCHEMA = "powercompat-verify-kvm/1"
QEMUS = ("7.2", "10.0", "11.1")
#: max-cpu-compat values per host (None = unset)
MODES: dict[str, tuple[str | None, ...]] = {
    "pseries-power9": (None, "power9", "power8", "power10"),
    "pseries-power11": (None, "power9", "power10", "power11", "power8"),
    "powernv9": (None, "power9", "power8", "power7"),
    "powernv9-hash": (None, "power9", "power8", "power7"),
    # power7+ is 0x0f100003, KVM's ISA 2.06+ arm (7.2 takes it on POWER8; 10.0 and 11.1's
    # logical-PVR check refuses it first)
    "powernv8": (None, "power8", "power7+", "power7", "power6"),
    "powernv9-dd22": (None, "power9", "power8", "power7"),
    "powernv10": (None, "power10", "power9", "power11", "power8"),
    "pseries-power10": (None, "power10", "power9", "power11", "power8"),
    # KVM PR (issue #14): unset and every maximum QEMU's POWER8 allows (power7+ is refused
    # by the releases with the logical-PVR check, 10.0 and 11.1, before KVM is asked)
    "pseries-power8": (None, "power8", "power7+", "power7", "power6"),
}
#: a non-host CPU model: KVM HV only runs the host's PVR (kvm_arch_vcpu_ioctl_set_sregs_hv);
#: KVM PR emulates any (kvmppc_set_pvr_pr), so there the cell is an ordinary start
NON_HOST_CPU = {"pseries-power9": "POWER8", "pseries-power11": "POWER9", "powernv9": "POWER8",
                "powernv9-hash": "POWER8", "pseries-power8": "POWER7", "powernv8": "POWER7",
                "powernv9-dd22": "POWER8", "powernv10": "POWER9", "pseries-power10": "POWER9"}
#: L2 under KVM PR (issue #14, kvm-kernel.md "KVM PR"): SLOF, because VOF's start ends at PC 0
#: under PR here; a longer L2 budget, as PR emulates every privileged instruction inside TCG.
#: (The caps PR lacks are the host's ``l2_machine``, session.HOSTS["pseries-power8"].)
PR_FIRMWARE = "slof"
PR_L2_TIMEOUT = 900


def configs_for(host: str, qemus: tuple[str, ...] = QEMUS,
                kvm_type: str | None = None) -> list[L2Config]:
    """The L2 list of one session, ids in run order (``q72-power9`` etc.)."""
    out: list[L2Config] = []
    for q in qemus:
        tag = "q" + q.replace(".", "")
        extra = HOSTS[host].l2_machine_for(q)
        pr: dict[str, Any] = {}
        if kvm_type == "PR":
            pr = {"firmware": PR_FIRMWARE, "timeout": PR_L2_TIMEOUT}
        for mode in MODES[host]:
            out.append(L2Config(f"{tag}-{mode or 'unset'}", q, mode, kvm_type=kvm_type,
                                machine_extra=extra, **pr))
        out.append(L2Config(f"{tag}-cpu-{NON_HOST_CPU[host].lower()}", q,
                            cpu=NON_HOST_CPU[host], kvm_type=kvm_type, machine_extra=extra,
                            **pr))
        # the machine type's own cap-hpt-max-page-size (64 KiB), which KVM HV refuses on a
        # 4K-page L1 (spapr_check_pagesize); the other cells set it to L1's page size. PR
        # checks no page size (no KVM_PPC_PAGE_SIZES_REAL): every mode has the cell, so
        # that reality says so
        out.append(L2Config(f"{tag}-cap64k", q, kvm_type=kvm_type,
                            machine_extra=(*extra, "cap-hpt-max-page-size=64k"), **pr))
    # L1 runs them in this order; modes below power8 (a POWER8-built userland) go last
    return sorted(out, key=lambda c: c.max_cpu_compat in ("power7", "power6"))


@dataclass
class SessionResult:
    host: Host
    kernel: str
    configs: list[L2Config]
    runs: list[ConfigRun]
    facts: dict[str, str]
    data: dict[str, Any]
    path: Path | None


def _outside_blocks(console: str) -> list[str]:
    """Console lines that are not inside a per-configuration block or a marker."""
    out, inside = [], False
    for ln in console.splitlines():
        ln = ln.rstrip("\r")
        if ln.startswith("@@PCK-") and ln.split()[0].endswith("-BEGIN"):
            inside = True
        elif ln.startswith("@@PCK-") and ln.split()[0].endswith("-END"):
            inside = False
        elif not inside and not ln.startswith("@@"):
            out.append(ln)
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def run_kvm_session(assets: KvmAssets, host_name: str, kernel: str | L1Kernel,
                    configs: list[L2Config], *, record_dir: Path | None, command: list[str],
                    lock: Path | None = DEFAULT_LOCK,
                    progress: Callable[[str], None] | None = None,
                    kprobes: tuple[str, ...] = KPROBES, flavour: str = "hv") -> SessionResult:
    """Build L1's initramfs, boot L0 once, parse and (optionally) record the session.

    ``kernel``: a label of ``assets.kernels`` or any L1Kernel (e.g. a rebuilt kernel whose
    ``modules`` are the KVM PR set); ``kprobes`` and the configs' ``kvm_type`` go with it;
    ``flavour`` names the recorded file (``kvm-<flavour>-...``).
    """
    say = progress or (lambda _m: None)
    host = HOSTS[host_name]
    k = assets.kernels[kernel] if isinstance(kernel, str) else kernel
    kernel = k.label
    image = L1Image(assets.busybox, list(k.modules),
                    {q: v.folder for q, v in assets.qemus.items()},
                    assets.kernels[assets.l2_kernel].vmlinux, configs, k.page_size,
                    kprobes=kprobes)
    t0 = time.monotonic()
    initrd = image.write(assets.cache / f"l1-{host_name}-{kernel}.cpio", host.initrd_limit)
    build = round(time.monotonic() - t0, 1)
    say(f"[{host_name} L1 {kernel}] initramfs {initrd.stat().st_size >> 20} MiB in {build} s; "
        f"{len(configs)} L2 configurations; waiting for the TCG lock")
    done = [0]

    def on_line(line: str) -> None:
        if line.startswith("@@PCK-BEGIN "):
            say(f"[{host_name} L1 {kernel}] {done[0] + 1}/{len(configs)} {line.split()[1]} ...")
        elif line.startswith("@@PCK-RC "):
            done[0] += 1
            say(f"[{host_name} L1 {kernel}]   exit {line.split()[2]}")
        elif line.startswith("@@PCK-KVM"):
            say(f"[{host_name} L1 {kernel}] L1 up, /dev/kvm: {line.split()[-1]}")

    l0 = assets.l0[host.l0_qemu]
    out = run_session(host, l0, k.vmlinux, initrd, len(configs), lock=lock, on_line=on_line)
    facts, runs = parse_session(out.console)
    by_id = {r.id: r for r in runs}
    cells = []
    for cfg in configs:
        run = by_id.get(cfg.id)
        cells.append({"config": {**cfg.to_json(),
                                 "argv": [*cfg.argv(k.page_size), "-append", L2_APPEND]},
                      "run": run.to_json() if run else None})
    pvrs = [r.sregs[0].pvr for r in runs
            if r.sregs and by_id.get(r.id) and next(c for c in configs if c.id == r.id).cpu
            == "host"]
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "accel": f"kvm-{flavour}",
        "host_pvr": f"0x{pvrs[0]:08x}" if pvrs else None,
        "date": _now(),
        "command": shlex.join(command),
        "host": {"name": host.name, "machine": host.machine, "l0_cpu": host.cpu,
                 "engine_host_cpu": host.host_cpu, "l1_append": host.l1_append},
        "l0_qemu": l0.version,
        "l1_kernel": {"label": kernel, "package": k.package, "version": k.version,
                      "release": k.release, "page_size": k.page_size},
        "l1_qemus": {q: {"suite": v.suite, "package_version": v.package_version,
                         "reported": facts.get(f"qemu {q}"), "borrowed": list(v.borrowed)}
                     for q, v in assets.qemus.items()},
        "l2_kernel": {"label": assets.l2_kernel,
                      "version": assets.kernels[assets.l2_kernel].version},
        "busybox": assets.busybox_version,
        "l1": {"uname_cpu": facts.get("l1"), "kvm": facts.get("kvm"),
               "problems": facts.get("problems")},
        "kprobes": list(kprobes),
        "session": {"l0_argv": list(out.argv), "returncode": out.returncode,
                    # what L0's console showed outside the harness's blocks (L1 kernel
                    # messages: lockups, oopses), for a session that ended badly
                    "l1_console_tail": _outside_blocks(out.console)[-40:],
                    "timed_out": out.timed_out, "wall_seconds": out.seconds,
                    "initramfs_build_seconds": build, "lock_wait_seconds": out.lock_wait,
                    "initramfs_bytes": initrd.stat().st_size},
        "cells": cells,
    }
    path = None
    if record_dir is not None:
        record_dir.mkdir(parents=True, exist_ok=True)
        path = record_dir / f"kvm-{flavour}-{host_name}-l1-{kernel}.json"
        path.write_text(json.dumps(data, indent=1) + "\n")
    say(f"[{host_name} L1 {kernel}] session {out.seconds} s, L0 exit {out.returncode}"
        + (" (TIMEOUT)" if out.timed_out else "") + (f"; recorded {path}" if path else ""))
    return SessionResult(host, kernel, configs, runs, facts, data, path)
