"""The upgrade diff from the real binaries (``powercompat verify diff``).

Each release's answers are what its Debian binary did, never what the engine predicts:

- the catalogue: ``-cpu help`` as recorded (``data/qemu-R.json``: pseries models, PVRs,
  aliases as listed);
- start-up: the recorded probe matrix (``tests/data/real/qemu-R-startup-probes.json``: every
  model x ``max-cpu-compat``), and a new probe (``-S``, then ``quit``; ~0.1 s, no lock) for every
  situation the pair asks that no recording answers (aliases, the other release's names,
  ``-smp 2,threads=2``, ``-cpu X,compat=Y``);
- boots: the recorded guest boots (``qemu-R-linux-K-{vof,slof}.json``, one vCPU), per guest;
- migrations: the recorded cross-release migrations (``qemu-R1-to-R2-migration.json``).

The same comparison as ``diff`` (:func:`powercompat.upgrade.compare.compare`) turns them into
differences; :func:`hold` holds the engine's diff to them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from powercompat.catalog.history import HEAD
from powercompat.catalog.machines import machine_version
from powercompat.catalog.modes import mode_name
from powercompat.catalog.recorded import recorded_catalogue
from powercompat.messages import invalid_compat_mode
from powercompat.upgrade.compare import Difference, compare, subject_of
from powercompat.upgrade.observe import (
    CPU_COMPAT,
    PLAIN,
    THREADS,
    Boot,
    Catalog,
    Move,
    Observations,
    Situation,
    Start,
    ordered_modes,
    situations,
    unknown_name,
)
from powercompat.verify import process, signals
from powercompat.verify.catalog import PROBE_TIMEOUT, split_warnings
from powercompat.verify.errors import RecordError
from powercompat.verify.matrix import CellResult, load_cells
from powercompat.verify.qemu import QemuBinary
from powercompat.verify.qemu import parse_version as parse_version_line
from powercompat.verify.suites import build_label

SCHEMA: Final = "powercompat-diff/1"
METHOD: Final = (
    "each release's answers from its own Debian binary: the catalogue from -cpu help "
    "(src/powercompat/data/qemu-R.json); start-up from the recorded probe matrix "
    "(qemu-R-startup-probes.json) and, where no recording answers, a new probe: QEMU -M "
    "pseries[,max-cpu-compat=M] -cpu C[,compat=M] [-smp 2,threads=2] -m 1G -S -nodefaults "
    "-display none -monitor stdio, 'quit' on stdin (exit 0 = started, else the refusal on "
    "stderr); CAS from the recorded guest boots (qemu-R-linux-K-{vof,slof}.json, one vCPU, "
    "the trace's new mode and whether init died with SIGILL); live migrations from the "
    "recorded cross-release runs (qemu-R1-to-R2-migration.json: same -cpu and "
    "max-cpu-compat on both sides, the machine type pinned, after CAS). 'extra_probes': the "
    "start-up probes beyond the probe matrix, run by verify diff (now, or for an earlier "
    "diff-*.json and reused). The differences are "
    "computed by the same comparison as 'powercompat diff'. A probe keeps its argv, exit "
    "status and stderr; TCG's 'doesn't support requested feature' warnings are only counted."
)

#: the recorded boots the diff reads, per release: one vCPU, conclusive firmware runs
_BOOT_FILES: Final = ("vof", "vof-oldcpus", "slof")


# ---------------------------------------------------------------- probes


def probe_options(situation: Situation) -> list[str]:
    """QEMU options of a new start-up probe of ``situation`` (binary prefix not included)."""
    name, mode, variant = situation
    if variant == CPU_COMPAT:
        machine, cpu = "pseries", f"{name},compat={mode}"
    else:
        machine = "pseries" + (f",max-cpu-compat={mode}" if mode is not None else "")
        cpu = name
    smp = ["-smp", "2,threads=2"] if variant == THREADS else []
    return ["-M", machine, "-cpu", cpu, *smp, "-m", "1G", "-S", "-nodefaults", "-display",
            "none", "-monitor", "stdio"]


def run_probe(qemu: QemuBinary, situation: Situation) -> dict[str, Any]:
    """Start the machine stopped and quit it; the record keeps argv, status and stderr.

    :raises EnvironmentProblem: QEMU cannot be run or hangs.
    """
    options = probe_options(situation)
    proc = process.run(qemu.argv(*options), timeout=PROBE_TIMEOUT, stdin_text="quit\n")
    stderr, warnings = split_warnings(proc.stderr)
    started = proc.returncode == 0
    err = None if started else signals.startup_error(stderr)
    return {"cpu": situation.name, "max_cpu_compat": situation.mode,
            "variant": situation.variant, "argv": [qemu.binary.name, *options],
            "returncode": proc.returncode, "started": started,
            "startup_error": err.message if err else None, "stderr": stderr,
            "tcg_warnings": len(warnings)}


# ---------------------------------------------------------------- recorded files


def _read(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RecordError(f"{path}: cannot read the recording ({err})") from err
    return data


@dataclass(frozen=True)
class Recorded:
    """What was recorded of one release: its version, probes, boots and the files read."""

    release: str
    header: Mapping[str, str | None]
    startup: Mapping[Situation, Start]
    boots: Mapping[tuple[str, Situation], Boot]
    files: tuple[str, ...]


def load_recorded(recordings: Path, release: str) -> Recorded:
    """Every recording of ``release`` under ``recordings`` (tests/data/real).

    :raises RecordError: the start-up probe matrix of the release is missing or unreadable.
    """
    probes_file = recordings / f"qemu-{release}-startup-probes.json"
    if not probes_file.is_file():
        raise RecordError(f"{probes_file}: no start-up probes recorded for QEMU {release} "
                          f"(powercompat verify catalog --release {release} --record)")
    data = _read(probes_file)
    startup = {}
    for p in data["probes"]:
        if p.get("extra"):
            continue
        startup[Situation(p["cpu"], p["max_cpu_compat"])] = Start(p["started"],
                                                                  p["startup_error"])
    header = {"release": data["qemu_release"], "qemu_version": data["qemu_version"],
              "debian_version": data["qemu_debian_version"], "suite": data["qemu_suite"]}
    boots: dict[tuple[str, Situation], Boot] = {}
    files = [probes_file.name]
    boot_files = []
    for path in recordings.glob(f"qemu-{release}-linux-*.json"):
        kind = path.stem.split("-", 3)[3].split("-", 1)
        if len(kind) == 2 and kind[1] in _BOOT_FILES:
            boot_files.append((_BOOT_FILES.index(kind[1]), path.name, path, kind))
    for _, _, path, kind in sorted(boot_files):  # a VOF boot before a SLOF one
        head, cells = load_cells(path)
        guest = str(head["guest"]) if head.get("guest") else f"linux-{kind[0]}"
        used = False
        for cell in cells:
            boot = cell_boot(cell)
            key = (guest, Situation(cell.cpu, cell.max_cpu_compat))
            if boot is not None and key not in boots:
                boots[key] = boot
                used = True
        if used:
            files.append(path.name)
    return Recorded(release, header, startup, boots, tuple(files))


def cell_boot(cell: CellResult) -> Boot | None:
    """A recorded one-vCPU boot as a :class:`Boot`; None if it did not start."""
    if cell.smp != 1 or cell.startup_error is not None:
        return None
    if cell.cas_trace_count == 0:
        return Boot("no CAS")
    if cell.cas_failed:
        compat = "CAS failed"
    else:
        new = cell.trace_new or 0
        compat = mode_name(new, HEAD.modes) or "raw"
    init = None if cell.init_sigill is None else ("SIGILL" if cell.init_sigill else "runs")
    return Boot(compat, init)


def source_ran(m: Mapping[str, Any]) -> bool:
    """The source ran the guest up to the migration: it started, and it had not exited
    before the migration began (refused to start, or its guest died: no migration at all)."""
    s = m["src"]
    return bool(s["started"]) and not (m["migrate_status"] is None
                                       and s["exit_status"] is not None)


def load_moves(recordings: Path, first: str, second: str
               ) -> tuple[dict[tuple[str, str, Situation], Move], tuple[str, ...]]:
    """The recorded cross-release migrations of a pair, both ways: the same -cpu and
    max-cpu-compat on both sides, the same pinned machine type (of several, the newest), a
    running guest (after CAS; a source whose guest never ran is the boot's difference)."""
    moves: dict[tuple[str, str, Situation], Move] = {}
    versions: dict[tuple[str, str, Situation], tuple[int, int]] = {}
    files = []
    for direction, src, dst in (("forward", first, second), ("back", second, first)):
        path = recordings / f"qemu-{src}-to-{dst}-migration.json"
        if not path.is_file():
            continue
        files.append(path.name)
        for m in _read(path)["migrations"]:
            s, d = m["src"], m["dst"]
            version = machine_version(s["machine"])
            if (m["stage"] != "after-cas" or m.get("inconclusive") or s["cpu"] != d["cpu"]
                    or s["max_cpu_compat"] != d["max_cpu_compat"]
                    or s["machine"] != d["machine"] or version is None):
                continue
            if not (source_ran(m) and d["started"]):
                continue
            error = None if m["moved"] else (d.get("first_error") or m.get("migrate_error"))
            key = (direction, m["guest"], Situation(s["cpu"], s["max_cpu_compat"]))
            if key not in versions or version > versions[key]:
                versions[key] = version
                moves[key] = Move(bool(m["moved"]), error, s["machine"])
    return moves, tuple(files)


# ---------------------------------------------------------------- observations


def side_label(header: Mapping[str, Any]) -> str:
    """A recorded side's name (suites.build_label): ``10.0``, or ``10.0.2`` for another
    build of that release."""
    return build_label(str(header["release"]), header.get("suite"),
                       parse_version_line(str(header["qemu_version"])).version)


def earlier_probes(recordings: Path, release: str) -> dict[Situation, dict[str, Any]]:
    """The start-up probes earlier real diffs ran on ``release`` (a side's label, ``10.0`` or
    ``10.0.2``; ``diff-*.json``): a probe is run once, then reused like any recording."""
    out: dict[Situation, dict[str, Any]] = {}
    for path in sorted(recordings.glob("diff-*.json")):
        data = _read(path)
        if data.get("schema") != SCHEMA:
            continue
        for side in ("from", "to"):
            if side_label(data[side]) != release:
                continue
            for record in data["extra_probes"][side]:
                situation = Situation(record["cpu"], record["max_cpu_compat"],
                                      record["variant"])
                out.setdefault(situation, record)
    return out


def real_catalog(release: str, startup: Mapping[Situation, Start]) -> Catalog:
    """The recorded ``-cpu help`` of ``release`` (pseries models, aliases listed for them)
    and the modes its probes accepted. Another build of a release (``10.0.2``) reads its
    release's ``-cpu help``: ``verify catalog --release bookworm-backports`` finds no model,
    alias or PVR of 10.0.2 that differs from the recorded 10.0.13 catalogue."""
    recorded = recorded_catalogue(".".join(release.split(".")[:2]))
    models = {m.name: m.pvr for m in recorded.pseries}
    aliases = {a: t for a, t in recorded.aliases if t in models}
    modes = {s.mode for s in startup if s.mode is not None and s.variant == PLAIN}
    refused = {s.mode for s, st in startup.items()
               if s.mode is not None and st.error == invalid_compat_mode(s.mode)}
    return Catalog(models, aliases, ordered_modes(m for m in modes if m not in refused))


def resolutions(catalog: Catalog, startup: Mapping[Situation, Start],
                names: Iterable[str]) -> dict[str, str]:
    """The model each name starts: itself or the alias's listed target, when the binary
    knows the name (its plain probe is not 'unable to find CPU model')."""
    out = {}
    for name in sorted(names):
        start = startup.get(Situation(name, None))
        if start is None or unknown_name(start, name):
            continue
        out[name] = name if name in catalog.models else catalog.aliases.get(name, name)
    return out


def observations(recorded: Recorded, catalog: Catalog, startup: Mapping[Situation, Start],
                 asked: Iterable[Situation]) -> Observations:
    names = {s.name for s in asked}
    label = str(recorded.header.get("qemu_version") or f"QEMU {recorded.release}")
    return Observations(recorded.release, label, catalog,
                        resolutions(catalog, startup, names), dict(startup),
                        dict(recorded.boots))


@dataclass(frozen=True)
class RealDiff:
    """A pair's real answers and their differences (what ``verify diff --record`` writes)."""

    before: Observations
    after: Observations
    moves: Mapping[tuple[str, str, Situation], Move]
    changes: tuple[Difference, ...]
    headers: tuple[Mapping[str, str | None], Mapping[str, str | None]]
    files: Mapping[str, tuple[str, ...]]
    extra_probes: Mapping[str, tuple[dict[str, Any], ...]]

    def to_json(self, command: str, date: str | None = None) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "from": dict(self.headers[0]),
            "to": dict(self.headers[1]),
            "date": date or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": command,
            "method": METHOD,
            "sources": {k: list(v) for k, v in self.files.items()},
            "extra_probes": {k: list(v) for k, v in self.extra_probes.items()},
            "observations": {"from": observations_json(self.before),
                             "to": observations_json(self.after),
                             "moves": moves_json(self.moves)},
            "counts": _counts(self.changes),
            "changes": [_plain(d) for d in self.changes],
        }


def _counts(changes: Iterable[Difference]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in changes:
        out[d.kind] = out.get(d.kind, 0) + 1
    return out


def _plain(diff: Difference) -> dict[str, object]:
    """An entry without the engine's attribution (a recording holds observations only)."""
    out = diff.to_json()
    for key in ("commit", "changes", "source_rule", "evidence"):
        out.pop(key, None)
    return out


def real_diff(recordings: Path, first: str, second: str,
              probe: Callable[[str, Situation], dict[str, Any]] | None = None) -> RealDiff:
    """The real diff of releases ``first`` -> ``second`` (release names, ``7.2``).

    A situation no probe matrix answers is taken from an earlier real diff's probes, else
    ``probe(release, situation)`` runs a new start-up probe; with ``probe`` None it stays
    unanswered (not compared).

    :raises RecordError: a release has no recorded probe matrix.
    """
    ra, rb = load_recorded(recordings, first), load_recorded(recordings, second)
    starts = {first: dict(ra.startup), second: dict(rb.startup)}
    ca = real_catalog(first, ra.startup)
    cb = real_catalog(second, rb.startup)
    asked = situations(ca, cb)
    new: dict[str, list[dict[str, Any]]] = {first: [], second: []}
    for release in (first, second):
        earlier = earlier_probes(recordings, release)
        for situation in asked:
            if situation in starts[release]:
                continue
            record = earlier.get(situation)
            if record is None and probe is not None:
                record = probe(release, situation)
            if record is not None:
                new[release].append(record)
                starts[release][situation] = Start(record["started"], record["startup_error"])
    before = observations(ra, ca, starts[first], asked)
    after = observations(rb, cb, starts[second], asked)
    moves, move_files = load_moves(recordings, first, second)
    changes = compare(before, after, moves)
    return RealDiff(before, after, moves, tuple(changes), (ra.header, rb.header),
                    {"from": ra.files, "to": rb.files, "migrations": move_files},
                    {"from": tuple(new[first]), "to": tuple(new[second])})


# ---------------------------------------------------------------- the recording's JSON


def observations_json(obs: Observations) -> dict[str, Any]:
    return {
        "release": obs.release, "label": obs.label,
        "models": {n: f"0x{p:08x}" for n, p in obs.catalog.models.items()},
        "aliases": dict(obs.catalog.aliases), "modes": list(obs.catalog.modes),
        "resolves": dict(sorted(obs.resolves.items())),
        "startup": [[s.name, s.mode, s.variant, st.started, st.error]
                    for s, st in sorted(obs.startup.items(), key=lambda i: i[0].order)],
        "boots": [[g, s.name, s.mode, b.compat, b.init]
                  for (g, s), b in sorted(obs.boots.items(), key=lambda i: (i[0][0],
                                                                           i[0][1].order))],
    }


def observations_from_json(data: Mapping[str, Any]) -> Observations:
    catalog = Catalog({n: int(p, 16) for n, p in data["models"].items()},
                      dict(data["aliases"]), tuple(data["modes"]))
    startup = {Situation(n, m, v): Start(ok, e) for n, m, v, ok, e in data["startup"]}
    boots = {(g, Situation(n, m)): Boot(c, i) for g, n, m, c, i in data["boots"]}
    return Observations(data["release"], data["label"], catalog, dict(data["resolves"]),
                        startup, boots)


def moves_json(moves: Mapping[tuple[str, str, Situation], Move]) -> list[list[object]]:
    return [[d, g, s.name, s.mode, mv.moved, mv.error, mv.machine]
            for (d, g, s), mv in sorted(moves.items(), key=lambda i: (i[0][0], i[0][1],
                                                                      i[0][2].order))]


def moves_from_json(rows: Iterable[list[Any]]) -> dict[tuple[str, str, Situation], Move]:
    return {(d, g, Situation(n, m)): Move(ok, e, *machine)
            for d, g, n, m, ok, e, *machine in rows}


# ---------------------------------------------------------------- holding the engine to it


@dataclass(frozen=True)
class Agreement:
    """The engine's diff held to a real one: ``missed``: real differences the engine does
    not report with the same values; ``invented``: engine differences about binary behaviour,
    in a situation the recording answers on both sides, that the binaries do not show."""

    agreed: tuple[Difference, ...]
    missed: tuple[tuple[Difference, Difference | None], ...]
    invented: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        return not self.missed and not self.invented


def covered(diff: Difference, before: Observations, after: Observations,
            moves: Mapping[tuple[str, str, Situation], Move]) -> bool:
    """Does the real recording answer the question behind ``diff`` on both sides?"""
    if not diff.binary:
        return False
    s = diff.situation
    if s is None:
        return True  # the catalogue (models, aliases, modes) is recorded whole
    if diff.kind == "cas-changed":
        return (diff.guest, s) in before.boots and (diff.guest, s) in after.boots
    if diff.kind == "migration-refused":
        # any name the recording moved that the diff reports under the same subject
        return any((d, g) == (diff.direction, diff.guest) and known(before, after, m)
                   and subject_of(before, after, m) == diff.subject for d, g, m in moves)
    return s in before.startup and s in after.startup


def known(before: Observations, after: Observations, situation: Situation) -> bool:
    """Both releases know the -cpu name (its subject can be spelled)."""
    return situation.name in before.resolves and situation.name in after.resolves


def _same(x: Difference, y: Difference) -> bool:
    return (x.before, x.after) == (y.before, y.after)


def hold(real: Iterable[Difference], engine: Iterable[Difference], before: Observations,
         after: Observations, moves: Mapping[tuple[str, str, Situation], Move]) -> Agreement:
    """Every real difference must be in the engine's diff with the same values; every engine
    difference the recording can see must be a real one."""
    mine = {d.key: d for d in engine}
    theirs = {d.key: d for d in real}
    agreed, missed = [], []
    for key, r in theirs.items():
        e = mine.get(key)
        if e is not None and _same(r, e):
            agreed.append(r)
        else:
            missed.append((r, e))
    invented = [e for key, e in mine.items()
                if key not in theirs and covered(e, before, after, moves)]
    return Agreement(tuple(agreed), tuple(missed), tuple(invented))
