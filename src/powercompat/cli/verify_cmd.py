"""``powercompat verify``: boot real guests on real QEMU and compare with the engine."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser, ArgumentTypeError, Namespace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from powercompat.cli.main import Command
from powercompat.cli.verify_kvm_cmd import KVM
from powercompat.cli.verify_migration_cmd import MACHINES, MIGRATION
from powercompat.cli.verify_pr_cmd import COMMAND as PR_KERNEL
from powercompat.errors import InvalidValueError
from powercompat.verify import (
    Firmware,
    Verdict,
    default_cache_dir,
    ensure_assets,
    judge_cell,
    judge_file,
    load_cells,
    qemu_profile,
    run_matrix,
)
from powercompat.verify import process as _process
from powercompat.verify.assets import load_assets
from powercompat.verify.compare import guest_profile
from powercompat.verify.errors import VerifyError
from powercompat.verify.matrix import (
    DEFAULT_CPUS,
    DEFAULT_MODES,
    NEWEST_MODE,
    CellResult,
    default_firmware,
    knows_mode,
)
from powercompat.verify.report import markdown, prepare_output_dir, write_json

_CACHE_HELP = "Where the QEMUs and guests of each suite live (default: $POWERCOMPAT_CACHE "\
    "or ~/.cache/powercompat)."
_RELEASE_HELP = "Debian suite (bullseye|bookworm|trixie|sid, or the other builds "\
    "bookworm-backports|forky) or the QEMU release it ships, 5.2|7.2|10.0|11.1: the first "\
    "of those suites that ships it (default: bookworm, the host's own)."
_GUEST_HELP = "Guest kernel: linux-6.1 (bookworm), linux-6.12 (trixie), linux-7.2 (sid); "\
    "default: the release's own suite's kernel."


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _add_cache(parser: ArgumentParser) -> None:
    parser.add_argument("--cache", type=Path, default=None, help=_CACHE_HELP)


def _add_release(parser: ArgumentParser, guest: bool = True) -> None:
    parser.add_argument("--release", default=None, metavar="R", help=_RELEASE_HELP)
    if guest:
        parser.add_argument("--guest", default=None, metavar="G", help=_GUEST_HELP)


def configure_setup(parser: ArgumentParser) -> None:
    _add_release(parser)
    parser.add_argument("--extract-qemu", action="store_true",
                        help="Run the suite's QEMU from its extracted packages even when the "
                        "installed one is that release (bookworm).")
    _add_cache(parser)
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the assets as JSON.")


def setup(args: Namespace) -> int:
    """Fetch one suite's QEMU and guest into the cache; install nothing on the host."""
    with _process.guard():
        assets = ensure_assets(args.cache or default_cache_dir(),
                               progress=None if args.as_json else _say, release=args.release,
                               guest=args.guest, extract=args.extract_qemu)
    if args.as_json:
        print(json.dumps(assets.to_json(), indent=2))
        return 0
    print(f"QEMU:    {assets.qemu_version} ({assets.qemu_source}: {assets.qemu.name})")
    print(f"guest:   {assets.guest}: {assets.kernel_package} {assets.kernel_version}")
    print(f"busybox: {assets.busybox_version}")
    for note in assets.notes:
        print(f"note:    {note}")
    print("fetched: " + (f"{len(assets.fetched)} packages" if assets.fetched else
                         "nothing (all cached)"))
    return 0


def _split(text: str | None, default: tuple[str | None, ...], unset_ok: bool
           ) -> list[str | None]:
    if text is None:
        return list(default)
    items: list[str | None] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise InvalidValueError(f"empty item in '{text}'")
        items.append(None if unset_ok and part == "unset" else part)
    return items


@contextmanager
def _bar(total: int, wanted: bool) -> Iterator[Callable[[CellResult], None]]:
    """A rich progress bar on stderr while the guests boot (only on a terminal)."""
    if not wanted or not sys.stderr.isatty():
        yield lambda cell: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("booting", total=total)

        def advance(cell: CellResult) -> None:
            label = f"{cell.cpu} {cell.max_cpu_compat or '(unset)'}"
            bar.update(task, advance=1, description=f"booted {label:<22}")

        yield advance


def configure_run(parser: ArgumentParser) -> None:
    _add_release(parser)
    parser.add_argument("--qemu-binary", type=Path, default=None, metavar="PATH",
                        help="Your own qemu-system-ppc64 build; its --version picks the "
                        "profile.")
    parser.add_argument("--cpus", default=None, metavar="LIST",
                        help=f"QEMU -cpu names, comma-separated (default: "
                        f"{','.join(DEFAULT_CPUS)}).")
    parser.add_argument("--modes", default=None, metavar="LIST",
                        help="max-cpu-compat values; 'unset' for none (default: unset and "
                        "power6 .. power10, and power11 where the release has it).")
    parser.add_argument("--jobs", "-j", default=2, type=int, metavar="N",
                        help="Guests booted at once (default: %(default)s).")
    parser.add_argument("--smp", default=1, type=int, metavar="N",
                        help="vCPUs per guest (-smp N) (default: %(default)s).")
    parser.add_argument("--threads", default=1, type=int, metavar="T",
                        help="Threads per core (-smp N,threads=T; TCG takes more than 1 from "
                        "QEMU 10.0) (default: %(default)s).")
    parser.add_argument("--firmware", choices=[f.value for f in Firmware], default=None,
                        help="VOF (x-vof=on, fast; QEMU 6.1 and later) or SLOF (default: VOF "
                        "where the release has it).")
    _add_cache(parser)
    parser.add_argument("--report-dir", type=Path, default=Path("verify-report"),
                        metavar="DIR",
                        help="Where report.json and report.md are written (default: "
                        "%(default)s).")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the verdicts as JSON.")


def run(args: Namespace) -> int:
    """Boot the matrix on a set-up release and compare every cell with the engine."""
    jobs, smp, as_json, report_dir = args.jobs, args.smp, args.as_json, args.report_dir
    if not 1 <= jobs <= 16:
        raise InvalidValueError(f"--jobs must be 1..16, got {jobs}")
    if not 1 <= smp <= 8:
        raise InvalidValueError(f"--smp must be 1..8, got {smp}")
    if not 1 <= args.threads <= smp or smp % args.threads:
        raise InvalidValueError(f"--threads must divide --smp {smp}, got {args.threads}")
    if args.release is not None and args.qemu_binary is not None:
        raise InvalidValueError("--release and --qemu-binary exclude each other")
    cpu_list = [c for c in _split(args.cpus, DEFAULT_CPUS, False) if c is not None]
    mode_list = _split(args.modes, DEFAULT_MODES, True)
    prepare_output_dir(report_dir, "--report-dir")  # before anything boots
    with _process.guard():
        assets = load_assets(args.cache or default_cache_dir(), release=args.release,
                             guest=args.guest, qemu_binary=args.qemu_binary)
        try:  # an unknown QEMU or guest is an error, never a guess; the boots still count
            profile: str | None = qemu_profile(assets.qemu_version)
            guest: str | None = guest_profile(assets.kernel_version)
            missing: VerifyError | None = None
        except VerifyError as err:
            profile, guest, missing = None, None, err
        if args.modes is None and knows_mode(assets.qemu):
            mode_list.append(NEWEST_MODE)
        firmware = (Firmware(args.firmware) if args.firmware
                    else default_firmware(assets.qemu_release))
        with _bar(len(cpu_list) * len(mode_list), not as_json) as advance:
            result = run_matrix(assets, cpus=cpu_list, modes=mode_list, firmware=firmware,
                                jobs=jobs, progress=advance, smp=smp, threads=args.threads)
    if profile is None or guest is None:
        write_json(result, report_dir / "report.json", extra={"profile": None})
        (report_dir / "report.md").write_text(markdown(result))
        if not as_json:
            print(f"{len(result.cells)} cells booted in {result.wall_seconds:.1f} s wall "
                  f"({jobs} at a time); observations in {report_dir}/, not compared:")
        assert missing is not None
        raise missing
    verdicts = [judge_cell(c, qemu=profile, guest=guest) for c in result.cells]
    write_json(result, report_dir / "report.json",
               extra={"profile": profile, "verdicts": [str(v) for v in verdicts]})
    (report_dir / "report.md").write_text(markdown(result, [v.outcome.value for v in verdicts]))
    bad = [v for v in verdicts if not v.ok]
    if as_json:
        print(json.dumps({
            "qemu_version": assets.qemu_version, "profile": profile, "guest": guest,
            "firmware": firmware.value, "wall_seconds": result.wall_seconds,
            "mismatches": len(bad), "verdicts": [_verdict_json(v) for v in verdicts]},
            indent=2))
    else:
        _print_verdicts(verdicts, f"{assets.qemu_version} (profile {profile}), guest {guest}, "
                        f"{firmware.value}")
        print(f"{len(result.cells)} cells in {result.wall_seconds:.1f} s wall "
              f"({jobs} at a time); reports in {report_dir}/")
    return 1 if bad else 0


def configure_catalog(parser: ArgumentParser) -> None:
    _add_release(parser, guest=False)
    parser.add_argument("--qemu-binary", type=Path, default=None, metavar="PATH",
                        help="Your own qemu-system-ppc64 build instead of a set-up release.")
    parser.add_argument("--record", action="store_true",
                        help="Write the catalogue (powercompat/data/qemu-<release>.json) and "
                        "the probe matrix (--probes-out).")
    parser.add_argument("--probes-out", type=Path, default=None, metavar="FILE",
                        help="Where --record writes the probe matrix (default: "
                        "tests/data/real/qemu-<release>-startup-probes.json).")
    _add_cache(parser)
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the comparison as JSON.")


def catalog(args: Namespace) -> int:
    """Read the binary's CPU catalogue and compare it with the recorded one and the engine."""
    from powercompat.verify.catalog_check import catalog_command

    if args.release is not None and args.qemu_binary is not None:
        raise InvalidValueError("--release and --qemu-binary exclude each other")
    with _process.guard():
        report = catalog_command(args.cache or default_cache_dir(), release=args.release,
                                 qemu_binary=args.qemu_binary, record=args.record,
                                 probes_out=args.probes_out,
                                 progress=None if args.as_json else _say)
    if args.as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1


def existing_file(text: str) -> Path:
    """An argparse ``type``: a path to a file that exists (else a usage error, exit 2)."""
    path = Path(text)
    if not path.exists():
        raise ArgumentTypeError(f"file '{text}' does not exist")
    if path.is_dir():
        raise ArgumentTypeError(f"'{text}' is a directory")
    return path


def configure_check(parser: ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=existing_file, metavar="FILE",
                        help="Recorded matrix files (tests/data/real/*.json).")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the verdicts as JSON.")


def check(args: Namespace) -> int:
    """Judge recorded matrix files against the engine, no booting."""
    verdicts: list[Verdict] = []
    for path in args.files:
        header, cells = load_cells(path)
        judged = judge_file(header, cells)
        verdicts += judged
        if not args.as_json:
            _print_verdicts(judged, f"{path.name}: {header['qemu_version']}")
    if args.as_json:
        print(json.dumps({"verdicts": [_verdict_json(v) for v in verdicts],
                          "mismatches": sum(not v.ok for v in verdicts)}, indent=2))
    return 0 if all(v.ok for v in verdicts) else 1


def _verdict_json(v: Verdict) -> dict[str, object]:
    """One cell: the comparison (outcome, ok, detail) and the guest's verdict as the real run
    showed it (``verdict``, ``verdict_reason``) beside the engine's (``engine_verdict``)."""
    out: dict[str, object] = {"cpu": v.cpu, "max_cpu_compat": v.max_cpu_compat,
                              "outcome": v.outcome.value, "ok": v.ok, "detail": str(v)}
    if v.observed is not None:
        out.update(v.observed.to_json())
    if v.predicted is not None:
        out["engine_verdict"] = v.predicted.verdict.value
        out["engine_verdict_reason"] = v.predicted.reason
    return out


def _print_verdicts(verdicts: list[Verdict], title: str) -> None:
    from powercompat.cli.tables import show, table

    out = table("cpu", "max-cpu-compat", "verdict", "detail", title=title, wrap=("detail",))
    for v in verdicts:
        detail = "; ".join(str(d) for d in v.diffs) or v.note
        out.add_row(v.cpu, v.max_cpu_compat or "(unset)", v.outcome.value, detail)
    show(out)
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.outcome.value] = counts.get(v.outcome.value, 0) + 1
    print(", ".join(f"{n} {name}" for name, n in sorted(counts.items())))


def configure_libvirt(parser: ArgumentParser) -> None:
    parser.add_argument("--connect", dest="uri", default=None, metavar="URI",
                        help="Use the libvirtd at URI (default: qemu:///system if it answers, "
                             "else a private one).")
    parser.add_argument("--private", action="store_true",
                        help="Start a private libvirtd even if one runs.")
    parser.add_argument("--lock", type=Path, default=None, metavar="FILE",
                        help="flock FILE around each batch of guest starts (default: "
                             "$POWERCOMPAT_TCG_LOCK).")
    _add_cache(parser)
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="Write the recording (tests/data/real/libvirt-*.json).")
    parser.add_argument("--check", dest="recorded", type=existing_file, default=None,
                        metavar="FILE",
                        help="Judge a recording against the model instead of running libvirt.")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the cases and their verdicts as JSON.")


def libvirt(args: Namespace) -> int:
    """Record the <cpu> matrix on a real libvirtd (or read a recording), then judge it."""
    import os
    import shlex

    from powercompat.cli.tables import show, table
    from powercompat.decisions.libvirt import LibvirtHost, qemu_facts
    from powercompat.decisions.verdict import Fate
    from powercompat.profiles import parse_profile
    from powercompat.scenario import negotiate
    from powercompat.verify.libvirt import (
        default_cases,
        judge_case,
        run_libvirt,
        write_recording,
    )
    from powercompat.verify.observed import libvirt_fate

    if args.recorded is not None:
        data = json.loads(args.recorded.read_text())
    else:
        lock = args.lock or (Path(os.environ["POWERCOMPAT_TCG_LOCK"])
                             if os.environ.get("POWERCOMPAT_TCG_LOCK") else None)
        assets = ensure_assets(args.cache or default_cache_dir(), progress=_say)
        data = run_libvirt(assets, default_cases(), uri=args.uri, private=args.private,
                           lock=lock, say=_say)
        if args.out is not None:
            write_recording(data, args.out, "powercompat " + shlex.join(sys.argv[1:]))
            note = f"recorded {len(data['cases'])} cases in {args.out}"
            if args.as_json:  # stdout is the JSON object alone
                _say(note)
            else:
                print(note)
    host = LibvirtHost(data["host_arch"], qemu_facts(parse_profile(
        qemu_profile(data["qemu_version"]))))
    version = next((line.rsplit(" ", 1)[-1] for line in data["virsh_version"]
                    if line.startswith("Using library:")), "?")
    out = table("case", "libvirt", "guest", "verdict", title=(
        f"libvirt {version} on {data['host_arch']}, {data['qemu_version']}"),
        wrap=("verdict",))
    bad = 0
    cases: list[dict[str, object]] = []
    for case in data["cases"]:
        diffs = judge_case(case, host, negotiate)
        bad += bool(diffs)
        stage = ("refused at define" if not case["define"]["ok"] else
                 "starts" if case["start"]["ok"] else "refused at start")
        guest = case.get("guest") or {}
        out.add_row(case["id"], stage, str(guest.get("cpu") or ""),
                    "; ".join(diffs) or "agrees")
        seen = libvirt_fate(case)  # what the recording shows became of the guest
        fate: dict[str, str | None] = (
            dict(seen.to_json()) if isinstance(seen, Fate)
            else {"verdict": None, "verdict_reason": f"observed only: {seen.value}"})
        cases.append({"id": case["id"], "libvirt": stage, "guest_cpu": guest.get("cpu"),
                      "agrees": not diffs, "differences": list(diffs), **fate})
    if args.as_json:
        print(json.dumps({"libvirt": version, "host_arch": data["host_arch"],
                          "qemu_version": data["qemu_version"], "cases": cases,
                          "disagreements": bad}, indent=2))
        return 1 if bad else 0
    show(out)
    print(f"{len(data['cases']) - bad} of {len(data['cases'])} cases agree")
    return 1 if bad else 0


def configure_diff(parser: ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_release", required=True, metavar="R1",
                        help="The release the hosts run now: " + _RELEASE_HELP.split(": ", 1)[1]
                        .replace(" (default: bookworm, the host's own)", ""))
    parser.add_argument("--to", dest="to_release", required=True, metavar="R2",
                        help="The release they move to (same spellings).")
    parser.add_argument("--recorded", type=Path, default=Path("tests/data/real"), metavar="DIR",
                        help="Where the recordings are (default: %(default)s).")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="Write the real diff (tests/data/real/diff-R1-to-R2.json).")
    parser.add_argument("--no-probes", dest="probes", action="store_false",
                        help="Run no new start-up probes: compare only what is recorded.")
    _add_cache(parser)
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the real diff and the engine's agreement as JSON.")


def diff_real(args: Namespace) -> int:
    """The upgrade diff from the real binaries; the engine's diff held to it."""
    import shlex

    from powercompat.cli.common import check_output_file
    from powercompat.cli.diff_cmd import diff_items
    from powercompat.cli.tables import show
    from powercompat.upgrade.diff import diff
    from powercompat.upgrade.observe import Situation
    from powercompat.upgrade.real import hold, real_diff, run_probe
    from powercompat.verify.assets import find_qemu
    from powercompat.verify.qemu import QemuBinary
    from powercompat.verify.suites import names_release, parse_suite

    if args.record is not None:
        check_output_file(args.record, "--record")
    cache = args.cache or default_cache_dir()
    suites: dict[str, str] = {}  # side label -> the suite whose binary it is

    def side(text: str) -> str:
        """A release names its first suite; another build of it (bookworm-backports' 10.0.2)
        is labelled by its exact version, as its recordings are named."""
        suite = parse_suite(text)
        label = suite.qemu_release
        if not names_release(suite):  # the build's version only when it is needed
            label = find_qemu(cache, release=suite.name)[0].version.version
        suites[label] = suite.name
        return label

    first, second = side(args.from_release), side(args.to_release)
    binaries: dict[str, QemuBinary] = {}
    counted = [0]

    def probe(release: str, situation: Situation) -> dict[str, object]:
        if release not in binaries:
            binaries[release] = find_qemu(cache, release=suites[release])[0].binary
        counted[0] += 1
        if counted[0] % 100 == 0:
            _say(f"{counted[0]} new start-up probes")
        return run_probe(binaries[release], situation)

    with _process.guard():
        real = real_diff(args.recorded, first, second, probe if args.probes else None)
    engine = diff(first, second)
    agreement = hold(real.changes, engine.changes, real.before, real.after, real.moves)
    if args.record is not None:
        data = real.to_json("powercompat " + shlex.join(sys.argv[1:]))
        args.record.write_text(json.dumps(data, indent=2) + "\n")
        _say(f"recorded {len(real.changes)} differences in {args.record}")
    if args.as_json:
        print(json.dumps({
            "from": first, "to": second, "real": [d.to_json() for d in real.changes],
            "agreed": len(agreement.agreed),
            "missed": [{"real": r.to_json(), "engine": e.to_json() if e else None}
                       for r, e in agreement.missed],
            "invented": [e.to_json() for e in agreement.invented]}, indent=2))
        return 0 if agreement.ok else 1
    show(*diff_items(real.changes, first, second, real.before.label, real.after.label))
    print(f"\nengine: {len(agreement.agreed)} of {len(real.changes)} real differences "
          f"reported with the same values")
    for r, e in agreement.missed:
        said = f"{e.before} -> {e.after}" if e else "not reported"
        print(f"  missed {r.kind} {r.subject} {r.guest or ''}: real {r.before} -> {r.after}; "
              f"engine {said}")
    for e in agreement.invented:
        print(f"  engine only {e.kind} {e.subject} {e.guest or ''}: {e.before} -> {e.after}")
    return 0 if agreement.ok else 1


SETUP = Command(
    "Fetch one Debian suite's QEMU and guest into the cache.", configure=configure_setup,
    run=setup,
    description="Fetch one suite's QEMU (its amd64 package closure, extracted) and guest "
    "(ppc64el kernel and busybox) through private apt states under the cache, and write the "
    "initramfs. Installs nothing on the host; never touches the host's dpkg. Idempotent.")
RUN = Command(
    "Boot the matrix on real QEMU and compare with the engine.", configure=configure_run,
    run=run,
    description="Boot the matrix (CPU models x max-cpu-compat) on a set-up release and compare "
    "every cell with the engine's prediction for the binary's own version; exit 1 on any "
    "mismatch. Never downloads or installs: 'verify setup' does that.")
CATALOG = Command(
    "Read a QEMU's CPU catalogue and compare it with the recording and the engine.",
    configure=configure_catalog, run=catalog,
    description="Read the binary's CPU catalogue (-cpu help, then a start-up probe of every "
    "model and of every pseries model x max-cpu-compat, -S with 'quit' on stdin) and compare "
    "it with the recorded catalogue and with the engine's start-up verdicts; exit 1 on any "
    "difference. --record writes both files.")
CHECK = Command(
    "Judge recorded matrix files against the engine.", configure=configure_check, run=check,
    description="Judge recorded matrix files (tests/data/real/*.json) against the engine, no "
    "booting.")
LIBVIRT = Command(
    "Ask a real libvirtd about <cpu> forms and compare with the model.",
    configure=configure_libvirt, run=libvirt,
    description="Define and start the <cpu> matrix on a real libvirtd (TCG), boot the guests, "
    "record libvirt's verdicts, arguments and written XML, and compare each case with the "
    "model (exit 1 on any difference). Uses the libvirtd answering qemu:///system, or starts "
    "a private one in session mode and stops it. By hand only: never run in CI.")
DIFF = Command(
    "The upgrade diff of two releases from the real binaries; the engine held to it.",
    configure=configure_diff, run=diff_real,
    description="Compute 'powercompat diff' from what the two Debian binaries did: the recorded "
    "catalogues, start-up probes, guest boots and cross-release migrations, plus a new start-up "
    "probe (-S, then quit; no lock needed) for every situation no recording answers. Then hold "
    "the engine's diff to it: every real difference must be reported with the same values, and "
    "every engine difference the recordings can see must be real (exit 1 otherwise). --record "
    "writes the real diff.")
COMMAND = Command(
    "Check the engine against real QEMU booting real Linux guests.",
    subcommands={"setup": SETUP, "run": RUN, "catalog": CATALOG, "check": CHECK,
                 "libvirt": LIBVIRT, "kvm": KVM, "pr-kernel": PR_KERNEL,
                 "migration": MIGRATION, "machines": MACHINES, "diff": DIFF},
    description="Check the engine against real QEMU booting real Linux guests (TCG).")
