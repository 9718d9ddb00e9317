"""Machine types per release (catalog/machines.py), recorded from the binaries."""

from __future__ import annotations

import pytest

from powercompat.catalog.machines import (
    RECORDED,
    MachineType,
    machine_catalogue,
    machine_version,
    xics_only,
)


def test_plain_pseries_is_each_release_newest() -> None:
    assert {r: machine_catalogue(r).resolve("pseries").name for r in RECORDED} == {
        "5.2": "pseries-5.2", "7.2": "pseries-7.2", "10.0": "pseries-10.0",
        "11.1": "pseries-11.1"}
    assert machine_catalogue("2.10").resolve("pseries") == MachineType("pseries-2.10", (2, 10))


def test_releases_drop_old_types() -> None:
    # 10.0 starts at 3.0; Debian's 11.1 binary at 5.2 (upstream's tree still has 5.0, 5.1)
    assert machine_catalogue("10.0").names[0] == "pseries-3.0"
    assert machine_catalogue("11.1").names[0] == "pseries-5.2"
    assert machine_catalogue("11.1").resolve("pseries-5.1") is None
    assert machine_catalogue("7.2").resolve("pseries-5.1") is not None
    # pseries-5.2 is the one type every recorded release has
    common = set.intersection(*(set(machine_catalogue(r).names) for r in RECORDED))
    assert common == {"pseries-5.2"}


def test_missing_type_in_each_release_words() -> None:
    assert machine_catalogue("5.2").unsupported_lines("pseries-7.2") == (
        "-M pseries-7.2: unsupported machine type",
        "Use -machine help to list supported machines")
    assert machine_catalogue("7.2").unsupported_lines("pseries-10.0")[0] == \
        "unsupported machine type"
    assert machine_catalogue("10.0").unsupported_lines("pseries-11.1")[0] == \
        'unsupported machine type: "pseries-11.1"'
    assert machine_catalogue("11.1").resolve("pseries-7.2") == MachineType(
        "pseries-7.2", (7, 2), deprecated=True)


def test_versions_and_interrupt_controllers() -> None:
    assert machine_version("pseries-2.12-sxxm") == (2, 12)
    assert machine_version("pseries") is None and machine_version("q35") is None
    assert xics_only(MachineType("pseries-4.0", (4, 0)))
    assert not xics_only(MachineType("pseries-4.1", (4, 1)))
    with pytest.raises(KeyError):
        machine_catalogue("9.9")
