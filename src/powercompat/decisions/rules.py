"""The part of a QEMU release that the pure decisions need: its table and its checks."""

from __future__ import annotations

from dataclasses import dataclass

from powercompat.catalog.modes import COMPAT_MODES, CompatMode


@dataclass(frozen=True, slots=True)
class CompatRules:
    """``modes``: the compat table as that release has it (order is meaning).
    ``logical_pvr_check``: pcc_compat step 4 (ac0fbbb2, 2024-07), numeric comparison
    against the class's spapr_logical_pvr.
    """

    modes: tuple[CompatMode, ...] = COMPAT_MODES
    logical_pvr_check: bool = True


HEAD_RULES = CompatRules()
