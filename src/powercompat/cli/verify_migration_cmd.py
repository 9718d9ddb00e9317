"""``powercompat verify migration``: real live migrations between two QEMU releases."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from powercompat.cli.common import want_json
from powercompat.errors import InvalidValueError


def _say(message: str) -> None:
    click.echo(message, err=True)


def _line(r: dict[str, Any]) -> str:
    src, dst = r["src"], r["dst"]
    moved = "MOVED  " if r["moved"] else "refused"
    why = dst["first_error"] or (src["first_error"] and f"source: {src['first_error']}") or ""
    return (f"{moved} {r['stage']:<11} {src['machine']:<12} {src['cpu']}"
            f"[{src['max_cpu_compat'] or '-'}] -> {dst['cpu']}[{dst['max_cpu_compat'] or '-'}]"
            f" {r['guest']} {r['seconds']:5.1f}s  {why}")


@click.command("migration")
@click.option("--src-release", required=True, metavar="R",
              help="The source's QEMU release or Debian suite (7.2, 10.0, 11.1, ...).")
@click.option("--dst-release", required=True, metavar="R",
              help="The destination's QEMU release or Debian suite.")
@click.option("--cpu", default=None, metavar="CPU",
              help="Run one case of your own: the source's -cpu (default: the recorded "
                   "cases of the pair).")
@click.option("--dst-cpu", default=None, metavar="CPU", help="The destination's -cpu "
              "(default: --cpu).")
@click.option("--max-cpu-compat", default=None, metavar="MODE",
              help="The source's max-cpu-compat (default: unset).")
@click.option("--dst-max-cpu-compat", default=None, metavar="MODE",
              help="The destination's max-cpu-compat (default: unset).")
@click.option("--machine", default="pseries", show_default=True, metavar="TYPE",
              help="Machine type on both sides; plain pseries is each release's newest.")
@click.option("--before-boot", is_flag=True,
              help="Migrate a source created with -S that never ran (no CAS, raw PVR).")
@click.option("--guest", default="linux-6.1", show_default=True, metavar="G",
              help="Guest kernel booted on the source.")
@click.option("--only", default=None, metavar="TEXT",
              help="Of the recorded cases, only those whose key contains TEXT.")
@click.option("--record", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Write every observation with versions to FILE (tests/data/real/...).")
@click.option("--lock", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="flock FILE around each batch (default: /work/locks/tcg.lock if it "
                   "exists).")
@click.option("--batch", default=6, show_default=True, help="Cases per lock hold.")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Where the suites are set up (default: $POWERCOMPAT_CACHE or "
                   "~/.cache/powercompat).")
@click.option("--json", "as_json", is_flag=True, help="Print every observation as JSON.")
def migration(src_release: str, dst_release: str, cpu: str | None, dst_cpu: str | None,
              max_cpu_compat: str | None, dst_max_cpu_compat: str | None, machine: str,
              before_boot: bool, guest: str, only: str | None, record: Path | None,
              lock: Path | None, batch: int, cache: Path | None, as_json: bool) -> int:
    """Live-migrate a real guest from one QEMU release to another on loopback (TCG), each
    side its own binary, and record what each side did. Needs `verify setup --release R`
    for both releases. Exit 1 when a case was inconclusive (the guest never booted, the
    migration never ended); a refusal by either QEMU is an observation, not a failure."""
    from powercompat.verify import process
    from powercompat.verify.assets import default_cache_dir, load_assets
    from powercompat.verify.report import prepare_output_file
    from powercompat.verify.suites import parse_suite
    from powercompat.verify.xmigration import (
        DEFAULT_LOCK,
        Side,
        Stage,
        XCase,
        pair_cases,
        run_pair,
    )

    want_json(as_json)
    src_rel = parse_suite(src_release).qemu_release
    dst_rel = parse_suite(dst_release).qemu_release
    if cpu is not None:
        cases: tuple[XCase, ...] = (XCase(
            Side(src_rel, cpu, max_cpu_compat, machine),
            Side(dst_rel, dst_cpu or cpu, dst_max_cpu_compat, machine), "given on the command "
            "line", Stage.BEFORE_BOOT if before_boot else Stage.AFTER_CAS, guest),)
    else:
        cases = tuple(c for c in pair_cases(src_rel, dst_rel) if only is None or only in c.key)
        if not cases:
            raise InvalidValueError(f"no recorded cases from {src_rel} to {dst_rel}"
                                    + (f" matching '{only}'" if only else "")
                                    + "; give --cpu for a case of your own")
    if record is not None:
        prepare_output_file(record, "record file")
    folder = cache or default_cache_dir()
    held = lock if lock is not None else (DEFAULT_LOCK if DEFAULT_LOCK.exists() else None)

    def load(release: str, g: str) -> Any:
        return load_assets(folder, release=release, guest=g)

    def progress(r: dict[str, Any]) -> None:
        if not as_json:
            _say(_line(r))

    with process.guard():
        run = run_pair(cases, load, lock=held, batch=batch, progress=progress)
    command = "powercompat verify migration " + shlex.join(sys.argv[3:] if sys.argv[1:3] == [
        "verify", "migration"] else sys.argv[1:])
    data = run.to_json(command, dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    if record is not None:
        record.write_text(json.dumps(data, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        moved = sum(r["moved"] for r in run.migrations)
        click.echo(f"{run.src.qemu_version} -> {run.dst.qemu_version}: {len(run.migrations)} "
                   f"cases, {moved} moved, {run.wall_seconds:.1f} s wall "
                   f"({run.lock_waited_seconds:.1f} s waiting for the lock)"
                   + (f"; recorded in {record}" if record else ""))
    stuck = [r for r in run.migrations if r["inconclusive"]]
    for r in stuck:
        _say(f"inconclusive: {r['key']}: {r['inconclusive']}")
    return 1 if stuck else 0
