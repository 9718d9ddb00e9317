"""The history's catalogue of each release against the one recorded from its real binary
(src/powercompat/data/qemu-R.json): exactly the same pseries models, PVRs and aliases."""

from __future__ import annotations

import os

import pytest

from powercompat import messages
from powercompat.catalog.data import DATA_DIR
from powercompat.catalog.history import RELEASES, Release
from powercompat.catalog.recorded import recorded_catalogue
from powercompat.errors import CpuNotPseriesError, UnknownCpuError
from powercompat.machine.options import resolve_pseries_cpu
from powercompat.profiles import parse_profile

RECORDED = [r for r in RELEASES if r.recorded]


def test_every_recorded_file_has_its_release_row() -> None:
    """A data/qemu-R.json file is held to the history only through the row of release R."""
    files = {f[len("qemu-"):-len(".json")] for f in os.listdir(DATA_DIR)
             if f.startswith("qemu-") and f.endswith(".json")}
    assert files, DATA_DIR
    assert {r.name for r in RECORDED if r.version} == files
    assert {r.recorded for r in RECORDED} == files


def test_a_release_without_a_recording_uses_the_one_before() -> None:
    """An unrecorded point (a version between releases) knows the non-pseries names of the
    newest recording at or before it; before any recording it knows none."""
    assert parse_profile("8.2").recorded == "7.2"
    assert parse_profile("11.0.4").recorded == "10.0"
    assert parse_profile("2.11").recorded is None


@pytest.mark.parametrize("release", RECORDED, ids=lambda r: r.name)
def test_pseries_models_and_pvrs(release: Release) -> None:
    recorded = recorded_catalogue(release.recorded or "")
    engine = parse_profile(release.name)
    assert sorted((m.name, m.pvr) for m in engine.cpu_models) == sorted(
        (m.name, m.pvr) for m in recorded.pseries)


def _listed(alias: str, aliases: dict[str, str]) -> str:
    # ``-cpu help`` lists an alias's target as ppc_cpu_class_by_name() finds it: one more hop
    target = aliases[alias]
    return aliases.get(target, target)


@pytest.mark.parametrize("release", RECORDED, ids=lambda r: r.name)
def test_aliases_as_listed(release: Release) -> None:
    recorded = recorded_catalogue(release.recorded or "")
    pseries = {m.name for m in recorded.pseries}
    engine = dict(parse_profile(release.name).aliases)
    assert {a: _listed(a, engine) for a in engine} == {
        a: t for a, t in recorded.aliases if t in pseries}


@pytest.mark.parametrize("release", RECORDED, ids=lambda r: r.name)
def test_every_listed_name_resolves_as_the_binary_does(release: Release) -> None:
    """Every model and alias the binary lists: a pseries CPU of the same PVR, or QEMU's
    refusal (no sPAPR core), through the engine's own lookup."""
    recorded = recorded_catalogue(release.recorded or "")
    profile = parse_profile(release.name)
    for name in [m.name for m in recorded.models] + [a for a, _ in recorded.aliases]:
        found = recorded.cpu_class(name)
        if found is None:  # an upper-case class name: QEMU lower-cases -cpu, never finds it
            assert name != name.lower()
            with pytest.raises(UnknownCpuError):
                resolve_pseries_cpu(name, profile)
            continue
        try:
            model = resolve_pseries_cpu(name, profile)
        except CpuNotPseriesError:
            assert not found.pseries, name
        except UnknownCpuError:
            # listed, yet a lookup misses it: an upper-case class name, or an alias whose
            # target is itself an alias (10.0's power5gs)
            assert name != name.lower() or name in dict(recorded.aliases), name
        else:
            assert found.pseries and model.pvr == found.pvr, name


@pytest.mark.parametrize("release", RECORDED, ids=lambda r: r.name)
def test_qemu_texts(release: Release) -> None:
    texts = dict(recorded_catalogue(release.recorded or "").texts)
    assert texts["unknown_model"].format(model="x") == messages.unknown_cpu_model("x")
    assert texts["not_pseries"] == messages.NO_SPAPR_CORE
