"""``powercompat verify migration``: real live migrations between two QEMU releases."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import Any

from powercompat.cli.common import add_json, count
from powercompat.cli.main import Command
from powercompat.errors import InvalidValueError


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _line(r: dict[str, Any]) -> str:
    src, dst = r["src"], r["dst"]
    moved = "MOVED  " if r["moved"] else "refused"
    why = dst["first_error"] or (src["first_error"] and f"source: {src['first_error']}") or ""
    return (f"{moved} {r['stage']:<11} {src['machine']:<12} {src['cpu']}"
            f"[{src['max_cpu_compat'] or '-'}] -> {dst['cpu']}[{dst['max_cpu_compat'] or '-'}]"
            f" {r['guest']} {r['seconds']:5.1f}s  {why}")


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--src-release", required=True, metavar="R",
                        help="The source's QEMU release or Debian suite (7.2, 10.0, 11.1, ...).")
    parser.add_argument("--dst-release", required=True, metavar="R",
                        help="The destination's QEMU release or Debian suite.")
    parser.add_argument("--cpu", default=None, metavar="CPU",
                        help="Run one case of your own: the source's -cpu (default: the "
                             "recorded cases of the pair).")
    parser.add_argument("--dst-cpu", default=None, metavar="CPU",
                        help="The destination's -cpu (default: --cpu).")
    parser.add_argument("--max-cpu-compat", default=None, metavar="MODE",
                        help="The source's max-cpu-compat (default: unset).")
    parser.add_argument("--dst-max-cpu-compat", default=None, metavar="MODE",
                        help="The destination's max-cpu-compat (default: unset).")
    parser.add_argument("--machine", default="pseries", metavar="TYPE",
                        help="Machine type on both sides; plain pseries is each release's "
                             "newest (default: %(default)s).")
    parser.add_argument("--before-boot", action="store_true",
                        help="Migrate a source created with -S that never ran (no CAS, raw "
                             "PVR).")
    parser.add_argument("--firmware", choices=["vof", "slof"], default=None,
                        help="Firmware on both ends (default: vof, slof when one end is 5.2).")
    parser.add_argument("--busy", action="store_true",
                        help="The guest never idles (a counting loop instead of sleep).")
    parser.add_argument("--guest", default="linux-6.1", metavar="G",
                        help="Guest kernel booted on the source (default: %(default)s).")
    parser.add_argument("--only", default=None, metavar="TEXT",
                        help="Of the recorded cases, only those whose key contains TEXT.")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="Write every observation with versions to FILE "
                             "(tests/data/real/qemu-R1-to-R2-migration.json).")
    parser.add_argument("--lock", type=Path, default=None, metavar="FILE",
                        help="flock FILE around each batch (default: /work/locks/tcg.lock if "
                             "it exists).")
    parser.add_argument("--batch", type=count, default=6, metavar="N",
                        help="Cases per lock hold (default: %(default)s).")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Where the suites are set up (default: $POWERCOMPAT_CACHE or "
                             "~/.cache/powercompat).")
    add_json(parser)


def migration(args: Namespace) -> int:
    """Run the pair's cases (or one of the user's) and print or record what each side did."""
    src_release, dst_release, cpu = args.src_release, args.dst_release, args.cpu
    dst_cpu, max_cpu_compat = args.dst_cpu, args.max_cpu_compat
    dst_max_cpu_compat, machine, before_boot = (args.dst_max_cpu_compat, args.machine,
                                                args.before_boot)
    guest, only, record, lock, batch, cache, as_json = (
        args.guest, args.only, args.record, args.lock, args.batch, args.cache, args.as_json)
    from powercompat.verify import process
    from powercompat.verify.assets import default_cache_dir, load_assets
    from powercompat.verify.report import prepare_output_file
    from powercompat.verify.suites import parse_suite
    from powercompat.verify.xmigration import (
        DEFAULT_LOCK,
        Side,
        Stage,
        Workload,
        XCase,
        pair_cases,
        run_pair,
    )

    src_rel = parse_suite(src_release).qemu_release
    dst_rel = parse_suite(dst_release).qemu_release
    if cpu is not None:
        firmware = args.firmware or ("slof" if "5.2" in (src_rel, dst_rel) else "vof")
        cases: tuple[XCase, ...] = (XCase(
            Side(src_rel, cpu, max_cpu_compat, machine, firmware),
            Side(dst_rel, dst_cpu or cpu, dst_max_cpu_compat, machine, firmware),
            "given on the command line", Stage.BEFORE_BOOT if before_boot else Stage.AFTER_CAS,
            guest, Workload.BUSY if args.busy else Workload.IDLE),)
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
        # each side from the suite given (a release number names its first suite): another
        # build of a release, bookworm-backports' 10.0.2, is loaded as itself
        suites = (parse_suite(src_release).name, parse_suite(dst_release).name)
        run = run_pair(cases, load, lock=held, batch=batch, progress=progress, suites=suites)
    command = "powercompat verify migration " + shlex.join(sys.argv[3:] if sys.argv[1:3] == [
        "verify", "migration"] else sys.argv[1:])
    data = run.to_json(command, dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    if record is not None:
        record.write_text(json.dumps(data, indent=2) + "\n")
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        moved = sum(r["moved"] for r in run.migrations)
        print(f"{run.src.qemu_version} -> {run.dst.qemu_version}: {len(run.migrations)} "
                   f"cases, {moved} moved, {run.wall_seconds:.1f} s wall "
                   f"({run.lock_waited_seconds:.1f} s waiting for the lock)"
                   + (f"; recorded in {record}" if record else ""))
    stuck = [r for r in run.migrations if r["inconclusive"]]
    for r in stuck:
        _say(f"inconclusive: {r['key']}: {r['inconclusive']}")
    return 1 if stuck else 0


MIGRATION = Command(
    "Live-migrate a real guest between two QEMU releases and record both sides.",
    configure=configure, run=migration,
    description="Live-migrate a real guest from one QEMU release to another on loopback "
    "(TCG), each side its own binary (verify setup --release R for both), and record what "
    "each side did: both command lines, the source's negotiated mode, whether the guest "
    "moved, the destination's exit status and exact errors, and the guest after the move. "
    "Without --cpu it runs the pair's recorded cases. Exit 1 when a case was inconclusive "
    "(the guest never booted, the migration never ended); a refusal by either QEMU is an "
    "observation, not a failure.")


def configure_machines(parser: ArgumentParser) -> None:
    parser.add_argument("--release", required=True, metavar="R",
                        help="QEMU release or Debian suite (5.2, 7.2, 10.0, 11.1, ...).")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="Write the catalogue to FILE "
                             "(src/powercompat/data/machines-R.json).")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Where the suites are set up (default: $POWERCOMPAT_CACHE or "
                             "~/.cache/powercompat).")
    add_json(parser)


def machines(args: Namespace) -> int:
    """Read one release's pseries machine types from its binary."""
    from powercompat.verify import process
    from powercompat.verify.assets import default_cache_dir, load_qemu
    from powercompat.verify.errors import AssetError
    from powercompat.verify.machines import read_machines
    from powercompat.verify.report import prepare_output_file
    from powercompat.verify.suites import parse_suite

    suite = parse_suite(args.release)
    if args.record is not None:
        prepare_output_file(args.record, "record file")
    qemu = load_qemu(args.cache or default_cache_dir(), suite)
    if qemu is None:
        raise AssetError(f"QEMU {suite.qemu_release} ({suite.name}) is not set up; run: "
                         f"powercompat verify setup --release {suite.name}")
    with process.guard():
        data = read_machines(qemu.binary, qemu.version)
    data["command"] = "powercompat verify machines " + shlex.join(sys.argv[3:])
    if args.record is not None:
        args.record.write_text(json.dumps(data, indent=2) + "\n")
    if args.as_json:
        print(json.dumps(data, indent=2))
        return 0
    names = [m["name"] + (" (deprecated)" if m["deprecated"] else "") for m in data["machines"]]
    print(f"{data['qemu_version']}: pseries = {data['pseries']}")
    print("machine types: " + ", ".join(names))
    for key, lines in data["texts"].items():
        print(f"{key}: " + " / ".join(lines))
    return 0


MACHINES = Command(
    "Read a QEMU's pseries machine types (-M help) and its words for a missing one.",
    configure=configure_machines, run=machines,
    description="Read one set-up release's pseries machine types from its binary (-M help), "
    "what plain 'pseries' stands for, which are deprecated, and its words for a missing and a "
    "deprecated type (start-up probes, no guest). --record writes the catalogue the engine "
    "reads (src/powercompat/data/machines-R.json).")
