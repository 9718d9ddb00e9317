"""The part of a QEMU release that the pure decisions need: its table and its checks."""

from __future__ import annotations

from dataclasses import dataclass

from powercompat.catalog.history import HEAD
from powercompat.catalog.modes import CompatMode


@dataclass(frozen=True, slots=True)
class CompatRules:
    """``modes``: the compat table as that release has it (order is meaning).
    ``logical_pvr_check``: pcc_compat step 4 (ac0fbbb2), numeric comparison against the
    class's spapr_logical_pvr.
    """

    modes: tuple[CompatMode, ...] = HEAD.modes
    logical_pvr_check: bool = HEAD.switches.logical_pvr_check


HEAD_RULES = CompatRules()
