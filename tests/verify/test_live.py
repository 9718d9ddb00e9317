"""Live boots on the real QEMU (marker ``live``): one cell per kind of outcome.

Skipped, loudly, only when the assets cannot be had because a Debian download failed; any
other failure to set up or boot is a test failure.
"""

from __future__ import annotations

import pytest

from powercompat.verify.assets import Assets, ensure_assets
from powercompat.verify.boot import BootSpec
from powercompat.verify.compare import Outcome, guest_profile, judge_cell, qemu_profile
from powercompat.verify.errors import AssetError
from powercompat.verify.matrix import CellResult, run_matrix_async

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def assets() -> Assets:
    try:
        return ensure_assets()
    except AssetError as err:
        if err.registry:
            pytest.skip(f"LIVE TESTS SKIPPED: Debian download failed: {err}")
        raise


@pytest.fixture(scope="module")
def cells(assets: Assets) -> dict[tuple[str, str | None], CellResult]:
    import asyncio

    specs = [BootSpec("power9", "power8"), BootSpec("power10"), BootSpec("power8", "power9")]
    run = asyncio.run(run_matrix_async(specs, assets, jobs=2))
    return {(c.cpu, c.max_cpu_compat): c for c in run.cells}


def test_negotiates_down(cells: dict[tuple[str, str | None], CellResult]) -> None:
    c = cells[("power9", "power8")]
    assert (c.trace_current, c.trace_new) == (0x0F000004, 0x0F000004)
    assert c.cpu_versions == (0x0F000004,)
    assert c.guest_cpu_line == "POWER8 (architected), altivec supported"


def test_unset_negotiates_newest(cells: dict[tuple[str, str | None], CellResult]) -> None:
    c = cells[("power10", None)]
    assert (c.trace_current, c.trace_new) == (0, 0x0F000006)
    assert c.guest_cpu_line == "POWER10 (architected), altivec supported"


def test_refused_at_startup_costs_no_boot(
    cells: dict[tuple[str, str | None], CellResult],
) -> None:
    c = cells[("power8", "power9")]
    assert c.startup_error == "Compatibility PVR 0x0f000005 not valid for CPU"
    assert c.wall_seconds < 2


def test_live_cells_match_engine(
    assets: Assets, cells: dict[tuple[str, str | None], CellResult]
) -> None:
    qemu = qemu_profile(assets.qemu_version)
    guest = guest_profile(assets.kernel_version)
    for c in cells.values():
        v = judge_cell(c, qemu=qemu, guest=guest)
        assert v.outcome is not Outcome.MISMATCH, str(v)
