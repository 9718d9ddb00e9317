"""The real diff's plumbing: which situations need a new probe, what a probe runs, and how a
recorded boot reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from powercompat.upgrade.observe import CPU_COMPAT, THREADS, Situation
from powercompat.upgrade.real import probe_options, real_diff

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def test_probe_options_spell_each_variant() -> None:
    tail = ["-m", "1G", "-S", "-nodefaults", "-display", "none", "-monitor", "stdio"]
    assert probe_options(Situation("power9", None)) == ["-M", "pseries", "-cpu", "power9",
                                                        *tail]
    assert probe_options(Situation("power9", "power8", THREADS)) == [
        "-M", "pseries,max-cpu-compat=power8", "-cpu", "power9", "-smp", "2,threads=2", *tail]
    assert probe_options(Situation("power9_v2.0", "power8", CPU_COMPAT)) == [
        "-M", "pseries", "-cpu", "power9_v2.0,compat=power8", *tail]


def test_unanswered_situations_are_probed_once_each(tmp_path: Path) -> None:
    """With only the probe matrices, every other question goes to a new probe (here a stand-in
    that answers 'starts'); the answers then count like recorded ones."""
    for name in ("qemu-10.0-startup-probes.json", "qemu-11.1-startup-probes.json"):
        shutil.copy(REAL / name, tmp_path / name)
    asked: list[tuple[str, Situation]] = []

    def probe(release: str, situation: Situation) -> dict[str, Any]:
        asked.append((release, situation))
        return {"cpu": situation.name, "max_cpu_compat": situation.mode,
                "variant": situation.variant, "started": True, "startup_error": None}

    result = real_diff(tmp_path, "10.0", "11.1", probe)
    assert len(asked) == len(set(asked)) > 0
    assert ("11.1", Situation("power8e", None)) in asked  # gone from 11.1: asked, not assumed
    # a model x max-cpu-compat of the release's own catalogue is in its matrix: never asked
    assert not [s for r, s in asked
                if r == "10.0" and not s.variant and s.name in result.before.catalog.models]
    assert len(result.extra_probes["from"]) + len(result.extra_probes["to"]) == len(asked)
    # the stand-in said every alias starts: an alias 11.1 really lost now "starts" there
    assert not any(d.kind == "alias-removed" for d in result.changes)
