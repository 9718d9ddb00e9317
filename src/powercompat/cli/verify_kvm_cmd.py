"""``powercompat verify kvm``: real KVM HV nested under TCG (thin glue over verify.kvm)."""

from __future__ import annotations

import json
import sys
import time
from argparse import ArgumentParser, Namespace
from pathlib import Path

from powercompat.cli.main import Command
from powercompat.errors import InvalidValueError

HOST_NAMES = ("pseries-power9", "pseries-power11", "powernv9", "powernv9-hash", "powernv8",
              "powernv9-dd22", "powernv10", "pseries-power10")
KERNELS = ("6.1", "6.12", "7.2")
QEMUS = ("7.2", "10.0", "11.1")


def _items(text: str, valid: tuple[str, ...], what: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    bad = [i for i in items if i not in valid]
    if not items or bad:
        raise InvalidValueError(f"unknown {what} '{','.join(bad) or text}' "
                                f"(valid: {', '.join(valid)})")
    return items


def configure_kvm(parser: ArgumentParser) -> None:
    parser.add_argument("--mode", choices=["hv", "pr"], default="hv",
                        help="hv: Debian's kernels with kvm-hv.ko; pr: the KVM PR kernel built "
                        "by 'verify pr-kernel' in a hash-MMU pseries L1, L2 with kvm-type=PR "
                        "(--hosts and --l1-kernels do not apply) (default: %(default)s).")
    parser.add_argument("--pr-cache", type=Path, default=None, metavar="DIR",
                        help="Where 'verify pr-kernel' built; its page size names L1 (6.1-pr, "
                        "or 6.1-pr4k for --page-size 4) (default: $POWERCOMPAT_CACHE/pr "
                        "or ~/.cache/powercompat/pr).")
    parser.add_argument("--hosts", default=",".join(HOST_NAMES[:3]), metavar="LIST",
                        help="L0 set-ups: pseries-power9, pseries-power10, pseries-power11 "
                        "(nested HV, radix "
                        "L2), powernv9 (bare-metal HV, radix host, POWER9 DD2.0 under L0 7.2), "
                        "powernv9-dd22 (the same under L0 10.0: DD2.2, hash guests beside "
                        "radix), powernv10 (bare-metal POWER10, L0 10.0), powernv8 "
                        "(bare-metal POWER8: every guest hash), powernv9-hash "
                        "(L1 booted with disable_radix for hash L2 guests; its L1 stopped "
                        "responding in every attempt so far) (default: %(default)s).")
    parser.add_argument("--l1-kernels", default=",".join(KERNELS), metavar="LIST",
                        help="L1 kernels: Debian bookworm 6.1, trixie 6.12, sid 7.2 (6.12 and "
                        "7.2 have 4K pages: on powernv9 QEMU then refuses every hash L2 guest, "
                        "'Unable to create 512MiB RMA'); 7.2 runs on pseries-power9, powernv9, "
                        "powernv9-dd22 and powernv8 (on pseries-power11 and powernv10 its first "
                        "L2 stalled L1 in every attempt) (default: %(default)s).")
    parser.add_argument("--qemus", default=",".join(QEMUS), metavar="LIST",
                        help="L1 QEMU releases: Debian bookworm, trixie, sid "
                        "(default: %(default)s).")
    parser.add_argument("--only", default=None, metavar="IDS",
                        help="Run only these configuration ids (e.g. q72-unset,q100-power9).")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Download and build cache (default: $POWERCOMPAT_CACHE/kvm or "
                        "~/.cache/powercompat/kvm).")
    parser.add_argument("--record-dir", type=Path, default=None,
                        help="Write each session's kvm-<hv|pr>-<host>-l1-<kernel>.json here.")
    parser.add_argument("--report-dir", type=Path, default=Path("verify-report"),
                        help="Where kvm-report.md is written (default: %(default)s).")
    parser.add_argument("--no-lock", action="store_true",
                        help="Do not take /work/locks/tcg.lock around each L0 session.")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the comparisons as JSON.")


def run_kvm(args: Namespace) -> int:
    from powercompat.verify import process

    with process.guard():
        return _run_kvm(args)


def _run_kvm(args: Namespace) -> int:
    from powercompat.verify.assets import default_cache_dir
    from powercompat.verify.kvm import pr
    from powercompat.verify.kvm.assets import ensure_kvm_assets
    from powercompat.verify.kvm.guest import KPROBES
    from powercompat.verify.kvm.matrix import configs_for, run_kvm_session
    from powercompat.verify.kvm.report import markdown, rows, verdict
    from powercompat.verify.kvm.session import DEFAULT_LOCK, HOSTS

    host_list = _items(args.hosts, HOST_NAMES, "host")
    kernel_list: list[str] = _items(args.l1_kernels, KERNELS, "L1 kernel")
    pr_kernel = None
    if args.mode == "pr":
        pr_kernel = pr.pr_l1_kernel((args.pr_cache or default_cache_dir() / "pr").resolve())
        host_list, kernel_list = [pr.HOST], [pr_kernel.label]
    qemu_list = tuple(_items(args.qemus, QEMUS, "QEMU"))
    only_ids = [i.strip() for i in args.only.split(",")] if args.only else None

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.monotonic()
    l0s = tuple(sorted({HOSTS[h].l0_qemu for h in host_list}))
    cache = args.cache or default_cache_dir() / "kvm"
    assets = ensure_kvm_assets(cache, l0s, say,
                               () if pr_kernel else tuple(kernel_list))
    say(f"assets ready in {time.monotonic() - t0:.1f} s")
    records = []
    for host in host_list:
        for kernel in kernel_list:
            if kernel not in HOSTS[host].l1_kernels:
                continue
            kvm_type = pr.KVM_TYPE if pr_kernel else None
            configs = [c for c in configs_for(host, qemu_list, kvm_type)
                       if only_ids is None or c.id in only_ids]
            if not configs:
                continue
            result = run_kvm_session(
                assets, host, pr_kernel or kernel, configs, record_dir=args.record_dir,
                command=["powercompat", "verify", "kvm", *sys.argv[3:]],
                lock=None if args.no_lock else DEFAULT_LOCK,
                progress=None if args.as_json else say,
                kprobes=pr.KPROBES if pr_kernel else KPROBES,
                flavour=pr.FLAVOUR if pr_kernel else "hv")
            records.append(result.data)
    if not records:
        raise InvalidValueError("no configuration selected")
    args.report_dir.mkdir(parents=True, exist_ok=True)
    (args.report_dir / "kvm-report.md").write_text(markdown(records))
    judged = [(rec, cell, comp) for rec in records for cell, comp in rows(rec)]
    bad = [c for _r, _cell, c in judged if c.gap is None and not c.agree]
    wall = round(time.monotonic() - t0, 1)
    if args.as_json:
        print(json.dumps({
            "wall_seconds": wall, "disagreements": len(bad),
            "cells": [{"host": r["host"]["name"], "l1_kernel": r["l1_kernel"]["label"],
                       "id": c.cell, "profile": c.profile, "gap": c.gap, "agree": c.agree,
                       "diffs": c.diffs} for r, _cell, c in judged]}, indent=2))
    else:
        for rec, cell, comp in judged:
            detail = f": {'; '.join(comp.diffs)}" if comp.diffs and comp.gap is None else ""
            print(f"{rec['host']['name']:<16} L1 {rec['l1_kernel']['label']:<5} "
                  f"{cell['config']['id']:<22} {verdict(comp)}{detail}")
        print(f"{len(judged)} configurations, {len(bad)} disagreement(s), wall {wall} s; "
              f"report in {args.report_dir}/kvm-report.md")
    return 1 if bad else 0


KVM = Command(
    "Real KVM HV nested under TCG: every ARCH_COMPAT call vs. the engine.",
    configure=configure_kvm, run=run_kvm,
    description="Boot L1 Linux under TCG with real kvm-hv.ko, run Debian's QEMU in it with "
    "accel=kvm for each L2 configuration, record every KVM_{SET,GET}_ONE_REG(ARCH_COMPAT) per "
    "phase (start-up, CAS, reboot) and compare with the engine; exit 1 on any disagreement.")
