"""Every recorded real migration between QEMU releases (tests/data/real/qemu-R1-to-R2-
migration.json, ``powercompat verify migration``) against ``migrate_check``, word for word:
whether the guest moved, which side refused, every line that side's QEMU printed (its
release's words), the mode the source negotiated, and whether the guest ran on after the
move."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from recorded_gaps import gap_marks

from powercompat.machine.options import MachineOptions
from powercompat.scenario import MigrationCheck, migrate_check, simulate
from powercompat.verify.compare import qemu_profile
from powercompat.verify.signals import QEMU_PREFIX

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _builds(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The file's migrations, each side given the engine profile of the exact QEMU build
    that ran it: a release's stable builds differ (10.0.2 lacks 10.0.13's icp/server
    backport); a build with its named release's changes resolves to that release."""
    qemu = {side: qemu_profile(data[side]["qemu_version"]) for side in ("src", "dst")}
    return [{**m, **{side: {**m[side], "qemu": qemu[side]} for side in qemu}}
            for m in data["migrations"]]


RECORDS = [(p.name, m) for p in sorted(REAL.glob("qemu-*-to-*-migration.json"))
           for m in _builds(json.loads(p.read_text()))]


def qemu_lines(stderr: list[str]) -> tuple[str, ...]:
    """What one QEMU printed, as the engine words it: its own lines without the program
    prefix, warnings and trace events left out (the hint lines have no prefix)."""
    out = []
    for line in stderr:
        body = line.removeprefix(QEMU_PREFIX)
        if body.startswith("warning:") or "spapr_cas_pvr" in body:
            continue
        out.append(body)
    return tuple(out)


def check_of(m: dict[str, Any]) -> MigrationCheck:
    src, dst = m["src"], m["dst"]
    return migrate_check(
        src["cpu"], dst["cpu"], src["max_cpu_compat"], guest=m["guest"], accel="tcg",
        dst_max_cpu_compat=dst["max_cpu_compat"] or "", src_qemu=src["qemu"],
        dst_qemu=dst["qemu"], machine=src["machine"],
        before_boot=m["stage"] == "before-boot")


def refusing_side(m: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """Which side refused in the real run, and every line it printed; None: it moved."""
    src, dst = m["src"], m["dst"]
    if m["moved"]:
        return None
    if not src["started"]:  # the destination did not start: the source was not booted
        return "destination", qemu_lines(dst["stderr"])
    if m["migrate_status"] is None and src["exit_status"] is not None:
        return "source", qemu_lines(src["stderr"])  # refused to start, or its guest died
    return "destination", qemu_lines(dst["stderr"])


def _id(item: tuple[str, dict[str, Any]]) -> str:
    return item[1]["key"]


def _params(records: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [pytest.param(r, id=_id(r), marks=gap_marks(r[0])) for r in records]


@pytest.mark.parametrize("record", _params(RECORDS))
def test_recorded_migration_matches_migrate_check(record: tuple[str, dict[str, Any]]) -> None:
    _name, m = record
    check = check_of(m)
    assert check.ok == m["moved"], (check.lines, check.detail)
    real = refusing_side(m)
    if real is not None:
        side, lines = real
        assert (check.side, check.lines) == (side, lines)
        assert check.error == lines[0]
        assert check.cause == (lines[1] if len(lines) > 1 else None)
    cas = m["src"]["cas"]
    if cas and m["stage"] == "after-cas":
        assert check.source.compat_pvr == cas[-1]["new"]
    after = m["guest_after"]
    if m["moved"] and m["stage"] == "after-cas":
        # an idle guest runs on exactly when the engine finds no reason it stops; a busy one
        # (never halted) runs on everywhere
        expected = check.idle_guest_stops is None or m.get("workload", "idle") == "busy"
        assert after["alive"] == expected, check.idle_guest_stops
    if m["moved"] and m["stage"] == "before-boot":
        assert after["booted_there"] and after["alive"]


def test_every_rule_that_refuses_is_recorded() -> None:
    rules = {check_of(m).rule for _, m in RECORDS if not m["moved"]}
    assert rules >= {"machine-type", "cpu-model", "start-up", "guest", "xive-section",
                     "vmstate-version", "compat-mode", "pvr", "icp-section"}
    cross = [m for _, m in RECORDS if m["src"]["release"] != m["dst"]["release"]]
    assert len(cross) >= 40



LOAD_RULES = {"machine-type", "xive-section", "vmstate-version", "compat-mode", "pvr",
              "icp-section"}


def simulated(m: dict[str, Any]) -> bool:
    """A recording simulate's migrate event can replay: the source booted to CAS, the
    destination started (or refused the stream itself), same max-cpu-compat on both sides
    (simulate gives the destination the source's options)."""
    src, dst = m["src"], m["dst"]
    if m["stage"] != "after-cas" or not src["started"]:
        return False
    if dst["max_cpu_compat"] != src["max_cpu_compat"]:
        return False
    check = check_of(m)
    return check.source.started and (check.ok or (check.side == "destination"
                                                  and check.rule in LOAD_RULES))


SIMULATED = [r for r in RECORDS if simulated(r[1])]


@pytest.mark.parametrize("record", _params(SIMULATED))
def test_simulate_migrate_agrees_with_the_recording(record: tuple[str, dict[str, Any]]
                                                    ) -> None:
    """simulate's migrate event with the destination's release: the same first line as the
    real destination printed (None: it moved)."""
    _name, m = record
    src, dst = m["src"], m["dst"]
    options = MachineOptions(cpu=src["cpu"], max_cpu_compat=src["max_cpu_compat"],
                             accel="tcg", qemu=src["qemu"], machine=src["machine"])
    sim = simulate(options, ("realize", "reset", "cas", "migrate"), m["guest"],
                   dst_cpu=dst["cpu"], dst_qemu=dst["qemu"])
    real = refusing_side(m)
    assert sim.error == (None if real is None else real[1][0])


def test_simulate_replays_most_recordings() -> None:
    assert len(SIMULATED) >= 60
    # the raw-PVR refusals are all recorded before boot (simulate always boots the source)
    assert {check_of(m).rule for _, m in SIMULATED} >= LOAD_RULES - {"pvr"}
