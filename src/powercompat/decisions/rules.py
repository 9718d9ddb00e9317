"""The part of a QEMU release that the pure decisions need: its table and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from powercompat.catalog.history import HEAD
from powercompat.catalog.modes import CompatMode


@dataclass(frozen=True, slots=True)
class CompatRules:
    """``modes``: the compat table as that release has it (order is meaning).
    ``logical_pvr_check``: pcc_compat step 4 (ac0fbbb2), numeric comparison against the
    class's spapr_logical_pvr.

    The hash is computed once: the rules are part of the key of every cached decision, and
    hashing the whole table each time cost more than most decisions (issue #13).
    """

    modes: tuple[CompatMode, ...] = HEAD.modes
    logical_pvr_check: bool = HEAD.switches.logical_pvr_check
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.modes, self.logical_pvr_check)))

    def __hash__(self) -> int:
        return self._hash


HEAD_RULES = CompatRules()
