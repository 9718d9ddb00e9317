"""``powercompat verify``: boot real guests on real QEMU and compare with the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from powercompat.cli.common import want_json
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
_RELEASE_HELP = "Debian suite or its QEMU release: bullseye|bookworm|trixie|sid or "\
    "5.2|7.2|10.0|11.1 (default: bookworm, the host's own)."
_GUEST_HELP = "Guest kernel: linux-6.1 (bookworm), linux-6.12 (trixie), linux-7.2 (sid); "\
    "default: the release's own suite's kernel."


@click.group("verify")
def verify() -> None:
    """Check the engine against real QEMU booting real Linux guests (TCG)."""


def _say(message: str) -> None:
    click.echo(message, err=True)


@verify.command("setup")
@click.option("--release", default=None, metavar="R", help=_RELEASE_HELP)
@click.option("--guest", default=None, metavar="G", help=_GUEST_HELP)
@click.option("--extract-qemu", is_flag=True,
              help="Run the suite's QEMU from its extracted packages even when the installed "
                   "one is that release (bookworm).")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the assets as JSON.")
def setup(release: str | None, guest: str | None, extract_qemu: bool, cache: Path | None,
          as_json: bool) -> int:
    """Fetch one suite's QEMU (its amd64 package closure, extracted) and guest (ppc64el kernel
    and busybox) through private apt states under the cache, and write the initramfs. Installs
    nothing on the host; never touches the host's dpkg. Idempotent."""
    want_json(as_json)
    with _process.guard():
        assets = ensure_assets(cache or default_cache_dir(), None if as_json else _say,
                               release=release, guest=guest, extract=extract_qemu)
    if as_json:
        click.echo(json.dumps(assets.to_json(), indent=2))
        return 0
    click.echo(f"QEMU:    {assets.qemu_version} ({assets.qemu_source}: {assets.qemu.name})")
    click.echo(f"guest:   {assets.guest}: {assets.kernel_package} {assets.kernel_version}")
    click.echo(f"busybox: {assets.busybox_version}")
    for note in assets.notes:
        click.echo(f"note:    {note}")
    click.echo("fetched: " + (f"{len(assets.fetched)} packages" if assets.fetched else
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


@verify.command("run")
@click.option("--release", default=None, metavar="R", help=_RELEASE_HELP)
@click.option("--guest", default=None, metavar="G", help=_GUEST_HELP)
@click.option("--qemu-binary", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="Your own qemu-system-ppc64 build; its --version picks the profile.")
@click.option("--cpus", default=None, metavar="LIST",
              help=f"QEMU -cpu names, comma-separated (default: {','.join(DEFAULT_CPUS)}).")
@click.option("--modes", default=None, metavar="LIST",
              help="max-cpu-compat values; 'unset' for none (default: unset and power6 .. "
                   "power10, and power11 where the release has it).")
@click.option("--jobs", "-j", default=2, show_default=True, help="Guests booted at once.")
@click.option("--smp", default=1, show_default=True, help="vCPUs per guest (-smp N).")
@click.option("--firmware", type=click.Choice([f.value for f in Firmware]), default=None,
              help="VOF (x-vof=on, fast; QEMU 6.1 and later) or SLOF (default: VOF where the "
                   "release has it).")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("verify-report"),
              show_default=True, help="Where report.json and report.md are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def run(release: str | None, guest: str | None, qemu_binary: Path | None, cpus: str | None,
        modes: str | None, jobs: int, smp: int, firmware: str | None, cache: Path | None,
        report_dir: Path, as_json: bool) -> int:
    """Boot the matrix (CPU models x max-cpu-compat) on a set-up release and compare every
    cell with the engine's prediction for the binary's own version; exit 1 on any mismatch.
    Never downloads or installs: 'verify setup' does that."""
    want_json(as_json)
    if not 1 <= jobs <= 16:
        raise InvalidValueError(f"--jobs must be 1..16, got {jobs}")
    if not 1 <= smp <= 8:
        raise InvalidValueError(f"--smp must be 1..8, got {smp}")
    if release is not None and qemu_binary is not None:
        raise InvalidValueError("--release and --qemu-binary exclude each other")
    cpu_list = [c for c in _split(cpus, DEFAULT_CPUS, False) if c is not None]
    mode_list = _split(modes, DEFAULT_MODES, True)
    prepare_output_dir(report_dir, "--report-dir")
    with _process.guard():
        assets = load_assets(cache or default_cache_dir(), release=release, guest=guest,
                             qemu_binary=qemu_binary)
        try:  # an unknown QEMU or guest is an error, never a guess; the boots still count
            profile: str | None = qemu_profile(assets.qemu_version)
            guest_name: str | None = guest_profile(assets.kernel_version)
            missing: VerifyError | None = None
        except VerifyError as err:
            profile, guest_name, missing = None, None, err
        if modes is None and knows_mode(assets.qemu):
            mode_list.append(NEWEST_MODE)
        chosen = Firmware(firmware) if firmware else default_firmware(assets.qemu_release)
        with _bar(len(cpu_list) * len(mode_list), not as_json) as advance:
            result = run_matrix(assets, cpus=cpu_list, modes=mode_list, firmware=chosen,
                                jobs=jobs, progress=advance, smp=smp)
    if profile is None or guest_name is None:
        write_json(result, report_dir / "report.json", extra={"profile": None})
        (report_dir / "report.md").write_text(markdown(result))
        if not as_json:
            click.echo(f"{len(result.cells)} cells booted in {result.wall_seconds:.1f} s wall "
                       f"({jobs} at a time); observations in {report_dir}/, not compared:")
        assert missing is not None
        raise missing
    verdicts = [judge_cell(c, qemu=profile, guest=guest_name) for c in result.cells]
    write_json(result, report_dir / "report.json",
               extra={"profile": profile, "verdicts": [str(v) for v in verdicts]})
    (report_dir / "report.md").write_text(markdown(result, [v.outcome.value for v in verdicts]))
    bad = [v for v in verdicts if not v.ok]
    if as_json:
        click.echo(json.dumps({
            "qemu_version": assets.qemu_version, "profile": profile, "guest": guest_name,
            "firmware": chosen.value, "wall_seconds": result.wall_seconds,
            "mismatches": len(bad), "verdicts": [_verdict_json(v) for v in verdicts]},
            indent=2))
    else:
        _print_verdicts(verdicts, f"{assets.qemu_version} (profile {profile}), guest "
                        f"{guest_name}, {chosen.value}")
        click.echo(f"{len(result.cells)} cells in {result.wall_seconds:.1f} s wall "
                   f"({jobs} at a time); reports in {report_dir}/")
    return 1 if bad else 0


@verify.command("catalog")
@click.option("--release", default=None, metavar="R", help=_RELEASE_HELP)
@click.option("--qemu-binary", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="Your own qemu-system-ppc64 build instead of a set-up release.")
@click.option("--record", is_flag=True,
              help="Write the catalogue (powercompat/data/qemu-<release>.json) and the probe "
                   "matrix (--probes-out).")
@click.option("--probes-out", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Where --record writes the probe matrix (default: "
                   "tests/data/real/qemu-<release>-startup-probes.json).")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def catalog(release: str | None, qemu_binary: Path | None, record: bool,
            probes_out: Path | None, cache: Path | None, as_json: bool) -> int:
    """Read the binary's CPU catalogue (-cpu help, then a start-up probe of every model and of
    every pseries model x max-cpu-compat, -S with 'quit' on stdin) and compare it with the
    recorded catalogue and with the engine's start-up verdicts; exit 1 on any difference."""
    from powercompat.verify.catalog_check import catalog_command

    want_json(as_json)
    if release is not None and qemu_binary is not None:
        raise InvalidValueError("--release and --qemu-binary exclude each other")
    with _process.guard():
        report = catalog_command(cache or default_cache_dir(), release=release,
                                 qemu_binary=qemu_binary, record=record, probes_out=probes_out,
                                 progress=None if as_json else _say)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    return 0 if report.ok else 1


@verify.command("check")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def check(files: tuple[Path, ...], as_json: bool) -> int:
    """Judge recorded matrix files (tests/data/real/*.json) against the engine, no booting."""
    want_json(as_json)
    verdicts: list[Verdict] = []
    for path in files:
        header, cells = load_cells(path)
        judged = judge_file(header, cells)
        verdicts += judged
        if not as_json:
            _print_verdicts(judged, f"{path.name}: {header['qemu_version']}")
    if as_json:
        click.echo(json.dumps({"verdicts": [_verdict_json(v) for v in verdicts],
                               "mismatches": sum(not v.ok for v in verdicts)}, indent=2))
    return 0 if all(v.ok for v in verdicts) else 1


def _verdict_json(v: Verdict) -> dict[str, object]:
    return {"cpu": v.cpu, "max_cpu_compat": v.max_cpu_compat, "outcome": v.outcome.value,
            "ok": v.ok, "detail": str(v)}


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
    click.echo(", ".join(f"{n} {name}" for name, n in sorted(counts.items())))


def _add_migration() -> None:
    from powercompat.cli.verify_migration_cmd import migration

    verify.add_command(migration)


_add_migration()
