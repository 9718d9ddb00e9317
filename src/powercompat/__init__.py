"""powercompat: POWER processor compatibility modes of pseries VMs, as QEMU, Linux KVM and
the guest negotiate and enforce them, modelled from their sources and checked against real
QEMU booting real Linux.

The names below are the public surface, most important first; errors last, most generic
first. Everything is importable lazily, so ``import powercompat`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from powercompat.version import VERSION

__version__ = VERSION

__all__ = [  # noqa: RUF022 - ordered by importance, as STYLE.md asks
    "negotiate",
    "simulate",
    "migrate_check",
    "PseriesMachine",
    "MachineOptions",
    "parse_profile",
    "profile_for_version",
    "PowerCompatError",
    "InputError",
    "CompatError",
    "KvmError",
    "MigrationError",
]


_LAZY = {
    "negotiate": "powercompat.scenario",
    "simulate": "powercompat.scenario",
    "migrate_check": "powercompat.scenario",
    "PseriesMachine": "powercompat.machine.pseries",
    "MachineOptions": "powercompat.machine.options",
    "parse_profile": "powercompat.profiles",
    "profile_for_version": "powercompat.profiles",
    "PowerCompatError": "powercompat.errors",
    "InputError": "powercompat.errors",
    "CompatError": "powercompat.errors",
    "KvmError": "powercompat.errors",
    "MigrationError": "powercompat.errors",
}

if TYPE_CHECKING:
    from powercompat.errors import (
        CompatError,
        InputError,
        KvmError,
        MigrationError,
        PowerCompatError,
    )
    from powercompat.machine.options import MachineOptions
    from powercompat.machine.pseries import PseriesMachine
    from powercompat.profiles import parse_profile, profile_for_version
    from powercompat.scenario import migrate_check, negotiate, simulate


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'powercompat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
