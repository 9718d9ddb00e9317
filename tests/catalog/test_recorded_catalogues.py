"""The history's catalogue of each release against the one recorded from its real binary
(src/powercompat/data/qemu-R.json): exactly the same pseries models, PVRs and aliases."""

from __future__ import annotations

import pytest

from powercompat import messages
from powercompat.catalog.history import RELEASES, Release
from powercompat.catalog.recorded import recorded_catalogue
from powercompat.errors import CpuNotPseriesError, UnknownCpuError
from powercompat.machine.options import resolve_pseries_cpu
from powercompat.profiles import parse_profile

RECORDED = [r for r in RELEASES if r.recorded]


def test_every_recorded_release_has_a_row() -> None:
    assert {r.recorded for r in RECORDED} == {"5.2", "7.2", "10.0", "11.1"}


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
