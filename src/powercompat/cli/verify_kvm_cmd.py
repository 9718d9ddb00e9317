"""``powercompat verify kvm``: real KVM HV nested under TCG (thin glue over verify.kvm)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from powercompat.cli.common import want_json
from powercompat.errors import InvalidValueError


def _items(text: str, valid: tuple[str, ...], what: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    bad = [i for i in items if i not in valid]
    if not items or bad:
        raise InvalidValueError(f"unknown {what} '{','.join(bad) or text}' "
                                f"(valid: {', '.join(valid)})")
    return items


@click.command("kvm")
@click.option("--hosts", default="pseries-power9,pseries-power11,powernv9", show_default=True,
              metavar="LIST", help="L0 set-ups: pseries-power9, pseries-power11 (nested HV, "
              "radix L2), powernv9 (bare-metal HV, hash L2 possible).")
@click.option("--l1-kernels", default="6.1,6.12", show_default=True, metavar="LIST",
              help="L1 kernels (powernv9 runs 6.1 only: hash L2 needs its 64K pages).")
@click.option("--qemus", default="7.2,10.0,11.1", show_default=True, metavar="LIST",
              help="L1 QEMU releases (Debian bookworm, trixie, sid).")
@click.option("--only", default=None, metavar="IDS", help="Run only these configuration ids "
              "(e.g. q72-unset,q100-power9).")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Download and build cache (default: $POWERCOMPAT_CACHE/kvm or "
              "~/.cache/powercompat/kvm).")
@click.option("--record-dir", type=click.Path(path_type=Path), default=None,
              help="Write each session's kvm-hv-<host>-l1-<kernel>.json here.")
@click.option("--report-dir", type=click.Path(path_type=Path),
              default=Path("verify-report"), show_default=True)
@click.option("--no-lock", is_flag=True, help="Do not take /work/locks/tcg.lock.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparisons as JSON.")
def kvm(hosts: str, l1_kernels: str, qemus: str, only: str | None, cache: Path | None,
        record_dir: Path | None, report_dir: Path, no_lock: bool, as_json: bool) -> int:
    """Boot L1 Linux under TCG with real kvm-hv.ko, run Debian's QEMU in it with
    accel=kvm for each L2 configuration, record every KVM_{SET,GET}_ONE_REG(ARCH_COMPAT)
    per phase and compare with the engine; exit 1 on any disagreement."""
    from powercompat.verify.assets import default_cache_dir
    from powercompat.verify.kvm.assets import ensure_kvm_assets
    from powercompat.verify.kvm.matrix import QEMUS, configs_for, run_kvm_session
    from powercompat.verify.kvm.report import markdown, rows, verdict
    from powercompat.verify.kvm.session import DEFAULT_LOCK, HOSTS

    want_json(as_json)
    host_list = _items(hosts, tuple(HOSTS), "host")
    kernel_list = _items(l1_kernels, ("6.1", "6.12"), "L1 kernel")
    qemu_list = tuple(_items(qemus, QEMUS, "QEMU"))
    only_ids = [i.strip() for i in only.split(",")] if only else None

    def say(msg: str) -> None:
        click.echo(msg, err=True)

    t0 = time.monotonic()
    l0s = tuple(sorted({HOSTS[h].l0_qemu for h in host_list}))
    assets = ensure_kvm_assets(cache or default_cache_dir() / "kvm", l0s, say)
    say(f"assets ready in {time.monotonic() - t0:.1f} s")
    records = []
    for host in host_list:
        for kernel in kernel_list:
            if kernel not in HOSTS[host].l1_kernels:
                continue
            configs = [c for c in configs_for(host, qemu_list)
                       if only_ids is None or c.id in only_ids]
            if not configs:
                continue
            result = run_kvm_session(
                assets, host, kernel, configs, record_dir=record_dir,
                command=["powercompat", "verify", "kvm", *sys.argv[3:]],
                lock=None if no_lock else DEFAULT_LOCK, progress=None if as_json else say)
            records.append(result.data)
    if not records:
        raise InvalidValueError("no configuration selected")
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "kvm-report.md").write_text(markdown(records))
    judged = [(rec, cell, comp) for rec in records for cell, comp in rows(rec)]
    bad = [c for _r, _cell, c in judged if c.profile is not None and not c.agree]
    wall = round(time.monotonic() - t0, 1)
    if as_json:
        click.echo(json.dumps({
            "wall_seconds": wall, "disagreements": len(bad),
            "cells": [{"host": r["host"]["name"], "l1_kernel": r["l1_kernel"]["label"],
                       "id": c.cell, "profile": c.profile, "agree": c.agree,
                       "diffs": c.diffs} for r, _cell, c in judged]}, indent=2))
    else:
        for rec, cell, comp in judged:
            click.echo(f"{rec['host']['name']:<16} L1 {rec['l1_kernel']['label']:<5} "
                       f"{cell['config']['id']:<22} {verdict(comp)}"
                       + (f": {'; '.join(comp.diffs)}" if comp.diffs and comp.profile else ""))
        click.echo(f"{len(judged)} configurations, {len(bad)} disagreement(s), wall {wall} s; "
                   f"report in {report_dir}/kvm-report.md")
    return 1 if bad else 0
