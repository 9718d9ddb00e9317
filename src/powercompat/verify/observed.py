"""What really became of the guest in each recorded configuration, as a verdict.

Why a module of its own: the verdict (:mod:`powercompat.decisions.verdict`) is the one word
every command reports; these functions read it off the *recorded observations* of each kind
of real run under ``tests/data/real/``, so ``verify`` reports reality's verdict and the tests
hold negotiate's, simulate's, migrate-check's and fleet plan's to it. The order is the
verdict's (the first thing that went wrong). None: the run observed only part of the guest's
life (a start-up probe, a migration of a guest with no init); :class:`Partial` says which
part.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from powercompat.decisions.verdict import Fate, Verdict
from powercompat.messages import CAS_NO_SUITABLE_PVR
from powercompat.verify.matrix import CellResult


class Partial(StrEnum):
    """How much of the guest's life a run observed, when not all of it."""

    #: QEMU started (or refused) and nothing more was run (probes, gdbstub readings, a
    #: libvirt domain started but not booted)
    STARTED = "started"
    #: the migration went through; the guest had no init, so its userland is unknown
    MOVED = "moved"


def cell_fate(cell: CellResult) -> Fate:
    """A booted (or refused) matrix cell: refusal, exit, no CAS, CAS failure, init's death,
    a kernel that panicked or went silent, or the init script's report."""
    if cell.startup_error is not None:
        return Fate(Verdict.QEMU_REFUSES, cell.startup_error)
    if cell.stop_reason == "exited" and cell.returncode not in (0, None):
        return Fate(Verdict.QEMU_EXITS, f"QEMU exited with status {cell.returncode} after the "
                                        "guest started")
    if cell.cas_trace_count == 0:
        return Fate(Verdict.KERNEL_HANGS, f"no CAS: the guest kernel stopped before it "
                                          f"(stop: {cell.stop_reason})")
    if cell.cas_failed:
        return Fate(Verdict.CAS_FAILS, CAS_NO_SUITABLE_PVR)
    if cell.init_sigill:
        return Fate(Verdict.USERLAND_DIES, "init was killed by SIGILL")
    if cell.stop_reason == "reported":
        return Fate(Verdict.WORKS, "the init script reported")
    return Fate(Verdict.KERNEL_HANGS, cell.os_panic or f"the guest kernel stopped after CAS "
                                                      f"(stop: {cell.stop_reason})")


def patched_fate(boot: dict[str, Any]) -> Fate:
    """A boot of the kernel with its PVR list patched (verify/patched.py)."""
    if boot["startup_error"] is not None:
        return Fate(Verdict.QEMU_REFUSES, boot["startup_error"])
    if boot["cas_failed"]:
        return Fate(Verdict.CAS_FAILS, CAS_NO_SUITABLE_PVR)
    if not boot["kernel_reached_userspace"]:
        return Fate(Verdict.KERNEL_HANGS, f"the kernel never reached userspace (stop: "
                                          f"{boot['stop_reason']})")
    if boot["init_sigill"]:
        return Fate(Verdict.USERLAND_DIES, "init was killed by SIGILL")
    return Fate(Verdict.WORKS, "the init script reported")


def migration_fate(run: dict[str, Any]) -> Fate | Partial:
    """A live migration between two real QEMUs (verify/migration.py): the destination's
    refusal (QEMU's first two lines), or moved."""
    if not run["dst_running"]:
        errors = run["dst_errors"]
        return Fate(Verdict.MIGRATION_REFUSED, "; ".join(errors[:2]) if errors else
                    f"the destination did not run (migration {run['migrate_status']})")
    return Partial.MOVED


def xmigration_fate(run: dict[str, Any]) -> Fate | Partial:
    """A live migration between two QEMU releases (``verify migration``, schema
    powercompat-xmigration/1): moved; the source's own end (QEMU refused to start it, or
    its guest's init died: ``OS terminated``); else the destination's refusal (it did not
    start, or refused the stream), the guest staying on the source."""
    src, dst = run["src"], run["dst"]
    if run["moved"]:
        return Partial.MOVED
    if src["started"] and run["migrate_status"] is None and src["exit_status"] is not None:
        first = src["first_error"] or "the source exited"
        if first.startswith("OS terminated"):
            return Fate(Verdict.USERLAND_DIES, first)
        return Fate(Verdict.QEMU_REFUSES, first)
    errors = dst["errors"] or ([dst["first_error"]] if dst["first_error"] else [])
    return Fate(Verdict.MIGRATION_REFUSED, "; ".join(errors[:2]) if errors else
                f"the destination did not take the guest (migration {run['migrate_status']})")


def startup_fate(error: str | None) -> Fate | Partial:
    """A start-up probe or a gdbstub reading: QEMU's refusal, or it started."""
    return Fate(Verdict.QEMU_REFUSES, error) if error is not None else Partial.STARTED


def hotplug_fate(run: dict[str, Any]) -> Fate:
    """A CPU hot-plug after CAS (verify/hotplug.py): the guest reported both vCPUs, or the
    device_add was refused, or init died before the hot-plug was asked."""
    if run.get("init_sigill"):
        return Fate(Verdict.USERLAND_DIES, "init was killed by SIGILL before the hot-plug")
    if not run["plugged"]:
        return Fate(Verdict.QEMU_REFUSES, "device_add was refused")
    if run["reported"]:
        return Fate(Verdict.WORKS, "the init script reported every cpu-version")
    return Fate(Verdict.KERNEL_HANGS, "the guest did not report after the hot-plug")


def libvirt_fate(case: dict[str, Any]) -> Fate | Partial:
    """A <cpu> case on a real libvirtd (verify/libvirt.py): libvirt's or QEMU's refusal, the
    guest's report, or started (the case booted no guest)."""
    define, start = case["define"], case["start"] or {}
    if not define["ok"]:
        return Fate(Verdict.LIBVIRT_REFUSES, f"libvirt: {define['error']}")
    if not start["ok"]:
        qemu_errors = start.get("qemu_errors") or []
        if qemu_errors:
            return Fate(Verdict.QEMU_REFUSES, qemu_errors[-1])
        return Fate(Verdict.LIBVIRT_REFUSES, f"libvirt: {start['error']}")
    guest = case.get("guest")
    if guest and guest.get("reported"):
        return Fate(Verdict.WORKS, "the init script reported")
    return Partial.STARTED
