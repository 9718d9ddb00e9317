"""Check the engine against real QEMU booting real Linux guests (issue #4).

The CLI (``powercompat verify setup|run``) calls the plain functions below; it owns all
printing and passes progress callbacks.
"""

from __future__ import annotations

from powercompat.verify.assets import Assets, default_cache_dir, ensure_assets
from powercompat.verify.boot import BootSpec, Firmware
from powercompat.verify.compare import Outcome, Verdict, judge_cell, judge_file, qemu_profile
from powercompat.verify.errors import AssetError, BootError, UnknownQemuError, VerifyError
from powercompat.verify.matrix import CellResult, MatrixRun, load_cells, run_matrix

setup = ensure_assets

__all__ = [
    "AssetError",
    "Assets",
    "BootError",
    "BootSpec",
    "CellResult",
    "Firmware",
    "MatrixRun",
    "Outcome",
    "UnknownQemuError",
    "Verdict",
    "VerifyError",
    "default_cache_dir",
    "ensure_assets",
    "judge_cell",
    "judge_file",
    "load_cells",
    "qemu_profile",
    "run_matrix",
    "setup",
]
