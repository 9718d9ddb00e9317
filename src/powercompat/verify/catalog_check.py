"""``verify catalog``: a live binary's catalogue against the recorded one and the engine.

Why two comparisons: the recorded catalogue (``powercompat/data/qemu-<release>.json``) is what
the engine is built from, so a live binary that differs from it means the data is stale (a new
Debian upload renamed a model); the engine's start-up verdicts (started or refused, with
QEMU's text) are what users are told, so a probe the engine answers differently is an engine
bug. Recording writes both files only after every probe ran.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powercompat.verify.assets import check_cache_dir, find_qemu
from powercompat.verify.catalog import CatalogRun, run_catalog
from powercompat.verify.compare import Outcome, Verdict, judge_probe, qemu_profile
from powercompat.verify.errors import AssetError, UnknownQemuError
from powercompat.verify.report import prepare_output_file
from powercompat.verify.suites import FALLBACK_GUEST

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
REAL_DIR = Path("tests") / "data" / "real"


def catalog_path(release: str) -> Path:
    """Where the generated catalogue of ``release`` lives (package data)."""
    return DATA_DIR / f"qemu-{release}.json"


@dataclass
class CatalogReport:
    """What ``verify catalog`` found; ``ok`` decides the exit status."""

    qemu_version: str
    release: str
    profile: str | None
    models: int
    pseries: int
    probes: int
    seconds: float
    data_diffs: list[str] = field(default_factory=list)
    engine: list[Verdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Verdict]:
        return [v for v in self.engine if v.outcome is Outcome.MISMATCH]

    @property
    def ok(self) -> bool:
        return not (self.data_diffs or self.mismatches or self.problems)

    def lines(self) -> list[str]:
        out = [f"{self.qemu_version}: {self.models} models, {self.pseries} start as pseries "
               f"CPUs; {self.probes} start-up probes in {self.seconds:.1f} s"]
        out += [f"recorded catalogue differs: {d}" for d in self.data_diffs]
        out += [f"engine: {v}" for v in self.mismatches]
        if self.profile is not None:
            agree = len(self.engine) - len(self.mismatches)
            out.append(f"engine profile {self.profile}: {agree} of {len(self.engine)} start-up "
                       f"verdicts agree")
        out += self.problems
        out += [f"wrote {w}" for w in self.written]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "qemu_version": self.qemu_version, "release": self.release,
            "profile": self.profile, "models": self.models, "pseries": self.pseries,
            "probes": self.probes, "seconds": self.seconds, "data_diffs": self.data_diffs,
            "mismatches": [str(v) for v in self.mismatches], "problems": self.problems,
            "written": self.written, "ok": self.ok,
        }


def diff_catalogs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two catalogue files (models, PVRs, pseries flags,
    aliases, texts); provenance keys are ignored."""
    out: list[str] = []
    before = {m["name"]: m for m in old.get("models", [])}
    after = {m["name"]: m for m in new.get("models", [])}
    out += [f"model {n} no longer listed" for n in before if n not in after]
    out += [f"model {n} newly listed" for n in after if n not in before]
    for name in before.keys() & after.keys():
        for key in ("pvr", "pseries"):
            if before[name].get(key) != after[name].get(key):
                out.append(f"model {name} {key}: recorded {before[name].get(key)}, "
                           f"now {after[name].get(key)}")
    old_aliases, new_aliases = old.get("aliases", {}), new.get("aliases", {})
    for alias in sorted(old_aliases.keys() | new_aliases.keys()):
        if old_aliases.get(alias) != new_aliases.get(alias):
            out.append(f"alias {alias}: recorded {old_aliases.get(alias)}, "
                       f"now {new_aliases.get(alias)}")
    for key, text in new.get("texts", {}).items():
        if old.get("texts", {}).get(key) != text:
            out.append(f"text {key}: recorded {old.get('texts', {}).get(key)!r}, now {text!r}")
    return sorted(out)


def catalog_command(
    cache: Path,
    *,
    release: str | None = None,
    qemu_binary: Path | None = None,
    record: bool = False,
    probes_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> CatalogReport:
    """Probe the binary, compare, and (``record``) write the two files.

    :raises VerifyError: the binary is not set up or cannot be run; an output path is not
        writable (checked before any probe).
    """
    qemu, _guest_suite = find_qemu(check_cache_dir(cache, create=False), release=release,
                                   qemu_binary=qemu_binary)
    binary, version = qemu.binary, qemu.version
    suite = qemu.suite or None
    out_catalog = catalog_path(version.release)
    out_probes = probes_out or REAL_DIR / f"qemu-{version.release}-startup-probes.json"
    if record:
        prepare_output_file(out_catalog, "catalogue file")
        if probes_out is None and not REAL_DIR.is_dir():
            raise AssetError(f"{REAL_DIR} not found: run from the repository root or give "
                             f"--probes-out")
        prepare_output_file(out_probes, "--probes-out")
    if progress is not None:
        progress(f"probing {version.line}")
    run = run_catalog(binary, version, suite=suite)
    words = ["powercompat", "verify", "catalog",
             *(["--release", suite] if suite else ["--qemu-binary", str(qemu_binary)]),
             *(["--record"] if record else [])]
    command = shlex.join(words)
    new = run.catalog_json(command)
    report = CatalogReport(
        qemu_version=version.line, release=version.release, profile=None,
        models=len(run.help.models), pseries=sum(run.pseries.values()),
        probes=len(run.probes), seconds=run.seconds,
    )  # fmt: skip
    if out_catalog.is_file():
        report.data_diffs = diff_catalogs(json.loads(out_catalog.read_text()), new)
    elif not record:
        report.problems.append(f"no recorded catalogue {out_catalog.name} to compare with")
    _judge(run, report)
    if record:
        _write(out_catalog, new)
        _write(out_probes, run.probes_json(command, binary))
        report.written += [str(out_catalog), str(out_probes)]
        report.data_diffs = []  # the recording is now the reference
    return report


def _judge(run: CatalogRun, report: CatalogReport) -> None:
    try:
        report.profile = qemu_profile(run.version.line)
    except UnknownQemuError as err:
        report.problems.append(f"engine: {err}; start-up verdicts not compared")
        return
    for probe in run.probes:
        verdict = judge_probe(probe, qemu=report.profile, guest=FALLBACK_GUEST)
        if verdict is not None:
            report.engine.append(verdict)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
