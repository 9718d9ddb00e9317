"""The lifecycle steps a run is made of, and the one table that dispatches them.

``simulate --events`` and the stress generator name steps by these
values and run them through :func:`run_step`; a new step is one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:  # a protocol costs start-up time; it is only for the type checker

    class StepDriver(Protocol):
        """Whatever runs steps: a machine's timeline, or a machine beside its reference model."""

        def realize(self) -> object: ...

        def reset(self) -> object: ...

        def reboot(self) -> object: ...

        def cas(self, buffer: bytes) -> object: ...

        def hotplug(self) -> object: ...

        def migrate(self) -> object: ...


class Step(StrEnum):
    """A lifecycle step; its value is how a user spells it."""

    REALIZE = "realize"
    RESET = "reset"
    CAS = "cas"
    REBOOT = "reboot"
    HOTPLUG = "hotplug"
    MIGRATE = "migrate"


#: the one dispatch table: step -> how a driver runs it (``buffer``: the guest's CAS buffer)
STEP_CALLS: Final[Mapping[Step, Callable[[StepDriver, bytes], object]]] = MappingProxyType({
    Step.REALIZE: lambda d, buffer: d.realize(),
    Step.RESET: lambda d, buffer: d.reset(),
    Step.CAS: lambda d, buffer: d.cas(buffer),
    Step.REBOOT: lambda d, buffer: d.reboot(),
    Step.HOTPLUG: lambda d, buffer: d.hotplug(),
    Step.MIGRATE: lambda d, buffer: d.migrate(),
})

#: every step's name, in the table's order
STEP_NAMES: Final[tuple[str, ...]] = tuple(step.value for step in STEP_CALLS)


def run_step(driver: StepDriver, step: Step, buffer: bytes = b"") -> object:
    """Run one step on ``driver``."""
    return STEP_CALLS[step](driver, buffer)
