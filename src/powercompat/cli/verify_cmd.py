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
from powercompat.verify.compare import guest_profile
from powercompat.verify.matrix import DEFAULT_CPUS, DEFAULT_MODES, CellResult
from powercompat.verify.report import markdown, write_json

_CACHE_HELP = "Where the guest kernel, busybox and initramfs live (default: $POWERCOMPAT_CACHE "\
    "or ~/.cache/powercompat)."


@click.group("verify")
def verify() -> None:
    """Check the engine against real QEMU booting real Linux guests (TCG)."""


def _say(message: str) -> None:
    click.echo(message, err=True)


@verify.command("setup")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the assets as JSON.")
def setup(cache: Path | None, as_json: bool) -> int:
    """Install QEMU if missing, fetch the ppc64el kernel and busybox through a private apt
    state (never the host's dpkg), write the initramfs. Idempotent."""
    want_json(as_json)
    assets = ensure_assets(cache or default_cache_dir(), progress=None if as_json else _say)
    if as_json:
        click.echo(json.dumps(assets.to_json(), indent=2))
        return 0
    click.echo(f"QEMU:    {assets.qemu_version} ({assets.qemu})")
    click.echo(f"kernel:  {assets.kernel_package} {assets.kernel_version}")
    click.echo(f"busybox: {assets.busybox_version}")
    click.echo("fetched: " + (", ".join(assets.fetched) if assets.fetched else
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
@click.option("--cpus", default=None, metavar="LIST",
              help=f"QEMU -cpu names, comma-separated (default: {','.join(DEFAULT_CPUS)}).")
@click.option("--modes", default=None, metavar="LIST",
              help="max-cpu-compat values; 'unset' for none (default: unset and power6 .. "
                   "power10).")
@click.option("--jobs", "-j", default=2, show_default=True, help="Guests booted at once.")
@click.option("--smp", default=1, show_default=True, help="vCPUs per guest (-smp N).")
@click.option("--firmware", type=click.Choice([f.value for f in Firmware]), default="vof",
              show_default=True, help="VOF (x-vof=on, fast) or SLOF.")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help=_CACHE_HELP)
@click.option("--report-dir", type=click.Path(path_type=Path), default=Path("verify-report"),
              show_default=True, help="Where report.json and report.md are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
def run(cpus: str | None, modes: str | None, jobs: int, smp: int, firmware: str,
        cache: Path | None, report_dir: Path, as_json: bool) -> int:
    """Boot the matrix (CPU models x max-cpu-compat) and compare every cell with the engine's
    prediction for the installed QEMU's profile; exit 1 on any mismatch."""
    want_json(as_json)
    if not 1 <= jobs <= 16:
        raise InvalidValueError(f"--jobs must be 1..16, got {jobs}")
    if not 1 <= smp <= 8:
        raise InvalidValueError(f"--smp must be 1..8, got {smp}")
    cpu_list = [c for c in _split(cpus, DEFAULT_CPUS, False) if c is not None]
    mode_list = _split(modes, DEFAULT_MODES, True)
    assets = ensure_assets(cache or default_cache_dir(), progress=None if as_json else _say)
    profile = qemu_profile(assets.qemu_version)  # an unknown QEMU is an error, not a guess
    guest = guest_profile(assets.kernel_version)
    with _bar(len(cpu_list) * len(mode_list), not as_json) as advance:
        result = run_matrix(assets, cpus=cpu_list, modes=mode_list, firmware=firmware,
                            jobs=jobs, progress=advance, smp=smp)
    verdicts = [judge_cell(c, qemu=profile, guest=guest) for c in result.cells]
    report_dir.mkdir(parents=True, exist_ok=True)
    write_json(result, report_dir / "report.json",
               extra={"profile": profile, "verdicts": [str(v) for v in verdicts]})
    (report_dir / "report.md").write_text(markdown(result, [v.outcome.value for v in verdicts]))
    bad = [v for v in verdicts if not v.ok]
    if as_json:
        click.echo(json.dumps({
            "qemu_version": assets.qemu_version, "profile": profile, "guest": guest,
            "wall_seconds": result.wall_seconds, "mismatches": len(bad),
            "verdicts": [_verdict_json(v) for v in verdicts]}, indent=2))
    else:
        _print_verdicts(verdicts, f"{assets.qemu_version} (profile {profile}), guest {guest}")
        click.echo(f"{len(result.cells)} cells in {result.wall_seconds:.1f} s wall "
                   f"({jobs} at a time); reports in {report_dir}/")
    return 1 if bad else 0


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


def _add_kvm() -> None:
    """``verify kvm`` lives in its own module (issue #10): one line to register it."""
    from powercompat.cli.verify_kvm_cmd import kvm

    verify.add_command(kvm)


_add_kvm()
