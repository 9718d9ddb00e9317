"""The generated per-release catalogues (src/powercompat/data/qemu-*.json) and their probes.

Each catalogue was written by ``powercompat verify catalog --release R --record`` from the real
binary; these tests hold the files to their schema and to the probe matrix recorded with them,
so a hand edit or a half-written recording fails here.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from powercompat.verify.catalog import (
    NAME,
    PROBE_MODES,
    SCHEMA,
    UNKNOWN_MODEL,
    parse_cpu_help,
    probe_argv,
    split_warnings,
)
from powercompat.verify.catalog_check import DATA_DIR, catalog_path, diff_catalogs
from powercompat.verify.qemu import parse_version

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"
RELEASES = ("5.2", "7.2", "10.0", "11.1")
KEYS = ["schema", "release", "qemu_version", "debian_version", "suite", "command", "date",
        "models", "aliases", "texts"]


def _load(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(catalog_path(release).read_text())
    return data


def _probes(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (REAL / f"qemu-{release}-startup-probes.json").read_text())
    return data


def test_every_release_has_a_catalogue_in_the_package_data() -> None:
    assert sorted(p.name for p in DATA_DIR.glob("qemu-*.json")) == sorted(
        f"qemu-{r}.json" for r in RELEASES)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["powercompat"]
    assert "data/*" in package_data or "data/*.json" in package_data


@pytest.mark.parametrize("release", RELEASES)
def test_catalogue_shape(release: str) -> None:
    data = _load(release)
    assert list(data) == KEYS
    assert data["schema"] == SCHEMA and data["release"] == release
    version = parse_version(data["qemu_version"])
    assert version.release == release and version.debian_version == data["debian_version"]
    names = [m["name"] for m in data["models"]]
    assert len(names) == len(set(names)) > 200
    for m in data["models"]:
        assert list(m) == ["name", "pvr", "description", "pseries"]
        assert re.fullmatch(r"0x[0-9a-f]{8}", m["pvr"]) and isinstance(m["pseries"], bool)
    assert set(data["aliases"].values()) <= set(names)
    assert not set(data["aliases"]) & set(names)
    assert data["texts"]["unknown_model"] == f"unable to find CPU model '{NAME}'"
    assert data["texts"]["not_pseries"] == "Unable to find sPAPR CPU Core definition"


@pytest.mark.parametrize("release", RELEASES)
def test_catalogue_agrees_with_its_probe_matrix(release: str) -> None:
    data, probes = _load(release), _probes(release)
    assert probes["qemu_version"] == data["qemu_version"]
    unset = {p["cpu"]: p for p in probes["probes"] if p["max_cpu_compat"] is None}
    for m in data["models"]:
        p = unset[m["name"]]
        assert p["started"] == m["pseries"] == (p["returncode"] == 0), m["name"]
        assert p["argv"][1:] == probe_argv(m["name"], None)
    unknown = unset[UNKNOWN_MODEL]
    assert unknown["startup_error"] == data["texts"]["unknown_model"].replace(
        NAME, UNKNOWN_MODEL)
    # every pseries server model was probed with every max-cpu-compat value
    modes = {(p["cpu"], p["max_cpu_compat"]) for p in probes["probes"]}
    for m in data["models"]:
        if m["pseries"] and m["name"].startswith(("970", "power")):
            assert all((m["name"], mode) in modes for mode in PROBE_MODES)
    for p in probes["probes"]:  # TCG's feature warnings are never part of the refusal text
        assert "TCG doesn't support requested feature" not in p["stderr"]


def test_release_facts_seen_in_the_binaries() -> None:
    """What the recorded binaries say about the names issue #9 is about."""
    def pseries(release: str) -> set[str]:
        return {m["name"] for m in _load(release)["models"] if m["pseries"]}

    assert {"power9_v1.0", "power10_v1.0", "970mp_v1.0", "power5+_v2.1",
            "power7+_v2.1"} <= pseries("7.2")
    assert not {"power5p_v2.1", "power7p_v2.1"} & pseries("7.2")
    assert _load("7.2")["aliases"]["power5gs"] == "power5+_v2.1"
    assert _load("7.2")["aliases"]["power9"] == "power9_v2.0"
    for release in ("10.0", "11.1"):
        assert _load(release)["aliases"]["power9"] == "power9_v2.2"
        assert "power11_v2.0" in pseries(release)
    assert "power8e_v2.1" in pseries("10.0") and "power8e_v2.1" not in pseries("11.1")
    assert _load("5.2")["aliases"]["power10"] == "power10_v1.0"


def test_cpu_help_in_both_formats() -> None:
    old = ("PowerPC power9_v2.0         PVR 004e1200\n"
           "PowerPC power9           (alias for power9_v2.0)\n")
    new = ("Available CPUs:\n  power9_v2.2      PVR 004e1202\n"
           "  power9           (alias for power9_v2.2)\n")
    a, b = parse_cpu_help(old), parse_cpu_help(new)
    assert [(m.name, m.pvr) for m in a.models] == [("power9_v2.0", 0x004E1200)]
    assert a.aliases == (("power9", "power9_v2.0"),) and a.unparsed == ()
    assert [(m.name, m.pvr) for m in b.models] == [("power9_v2.2", 0x004E1202)]
    assert b.aliases == (("power9", "power9_v2.2"),) and b.unparsed == ("Available CPUs:",)


def test_tcg_warnings_are_split_off() -> None:
    stderr = ("qemu-system-ppc64: warning: TCG doesn't support requested feature, "
              "cap-cfpc=workaround\n"
              "qemu-system-ppc64: Compatibility PVR 0x0f000006 not valid for CPU\n")
    kept, warnings = split_warnings(stderr)
    assert kept == "qemu-system-ppc64: Compatibility PVR 0x0f000006 not valid for CPU\n"
    assert warnings == ("qemu-system-ppc64: warning: TCG doesn't support requested feature, "
                        "cap-cfpc=workaround",)


def test_diff_names_every_change() -> None:
    old = _load("10.0")
    assert diff_catalogs(old, old) == []
    new = json.loads(json.dumps(old))
    new["models"] = [m for m in new["models"] if m["name"] != "power8e_v2.1"]
    new["aliases"]["power9"] = "power9_v2.0"
    new["texts"]["not_pseries"] = "x"
    assert diff_catalogs(old, new) == [
        "alias power9: recorded power9_v2.2, now power9_v2.0",
        "model power8e_v2.1 no longer listed",
        "text not_pseries: recorded 'Unable to find sPAPR CPU Core definition', now 'x'",
    ]
