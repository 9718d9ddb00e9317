"""Check the engine against real QEMU booting real Linux guests (issues #4, #9).

The CLI (``powercompat verify setup|run|catalog|check``) calls the plain functions below; it
owns all printing and passes progress callbacks. Every child process goes through
:mod:`powercompat.verify.process`; every QEMU is a :class:`QemuBinary`.
"""

from __future__ import annotations

from powercompat.verify.assets import Assets, default_cache_dir, ensure_assets, load_assets
from powercompat.verify.boot import BootSpec, Firmware
from powercompat.verify.compare import Outcome, Verdict, judge_cell, judge_file, qemu_profile
from powercompat.verify.errors import (
    AssetError,
    BootError,
    EnvironmentProblem,
    UnknownGuestError,
    UnknownQemuError,
    VerifyError,
)
from powercompat.verify.matrix import CellResult, MatrixRun, load_cells, run_matrix
from powercompat.verify.qemu import QemuBinary, QemuVersion, query_version

setup = ensure_assets

__all__ = [
    "AssetError",
    "Assets",
    "BootError",
    "BootSpec",
    "CellResult",
    "EnvironmentProblem",
    "Firmware",
    "MatrixRun",
    "Outcome",
    "QemuBinary",
    "QemuVersion",
    "UnknownGuestError",
    "UnknownQemuError",
    "Verdict",
    "VerifyError",
    "default_cache_dir",
    "ensure_assets",
    "judge_cell",
    "judge_file",
    "load_assets",
    "load_cells",
    "qemu_profile",
    "query_version",
    "run_matrix",
    "setup",
]
