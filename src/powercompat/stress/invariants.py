"""Invariants every machine must keep after every step, checked on the machine alone.

Each check returns a list of violation texts (empty: fine). They read only what an observer
can see: the vCPUs, the kernel model's view, and the recorded ONE_REG calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from powercompat.accel.transport import OneRegCall
from powercompat.catalog.accels import Accel
from powercompat.catalog.behaviour import SetCompat
from powercompat.machine.migration import decode_stream
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Lifecycle
from powercompat.messages import hex32
from powercompat.profiles import ALL_PROFILES, Profile
from powercompat.stress.reference import ref_host_accepts, ref_index, ref_refusal


def is_fixed(profile: Profile) -> bool:
    """Every 2017 fix is in (e4f0c6bb, cc7b35b1, e07cc192): no documented ONE_REG bug, so
    the strict invariants apply. Read from the switches, so a new release cannot escape."""
    s = profile.switches
    return (s.set_compat is SetCompat.NEW_VALUE and s.cas_raw_fallback
            and s.migration_forces_write)


#: the named profiles the strict invariants apply to
FIXED_PROFILES = frozenset(p.name for p in ALL_PROFILES if is_fixed(p))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What an observer sees of a machine before a step."""

    state: Lifecycle
    vcpus: tuple[tuple[int, int, int], ...]
    kernel: tuple[tuple[int, int | None] | None, ...]
    ncalls: int


def snapshot(machine: PseriesMachine) -> Snapshot:
    views = []
    for cpu in machine.vcpus:
        view = machine.accel.kernel_view(cpu.index)
        views.append(None if view is None else (view.arch_compat, view.pcr))
    transport = machine.accel.transport
    return Snapshot(machine.state,
                    tuple((c.index, c.compat_pvr, c.spr_pcr) for c in machine.vcpus),
                    tuple(views), len(transport.calls) if transport else 0)


def calls_since(machine: PseriesMachine, before: Snapshot) -> list[OneRegCall]:
    transport = machine.accel.transport
    return transport.calls[before.ncalls:] if transport else []


def check_bounds(machine: PseriesMachine, check_max: bool = True) -> list[str]:
    """The mode is a known mode valid for the CPU, within max-cpu-compat, and (fixed
    profiles under kvm-hv) within the host's level.

    ``check_max`` False after an incoming migration: QEMU neither migrates max-cpu-compat
    nor checks the loaded mode against the destination's (qemu.md 7, cpu_post_load only
    asks ppc_set_compat, i.e. the CPU class), so a stream may bring a mode above it.
    """
    if machine.state is Lifecycle.EXITED:
        return []
    out = []
    config = machine.config
    profile = config.profile
    max_pvr = config.max_compat_pvr
    for cpu in machine.vcpus:
        pvr = cpu.compat_pvr
        if not pvr:
            continue
        refusal = ref_refusal(profile, cpu.model.family, pvr)
        if refusal:
            out.append(f"vCPU {cpu.index} in {hex32(pvr)}: {refusal} for {cpu.model.name}")
            continue
        if check_max and max_pvr and ref_index(profile, pvr) > ref_index(profile, max_pvr):
            out.append(f"vCPU {cpu.index} in {hex32(pvr)} above max-cpu-compat "
                       f"{hex32(max_pvr)}")
        if (config.accel is Accel.KVM_HV and is_fixed(profile)
                and not ref_host_accepts(config.host_kernel.name, config.host.family, pvr)):
            out.append(f"vCPU {cpu.index} in {hex32(pvr)} above the "
                       f"{config.host.family.name} host's level")
    return out


def check_agreement(machine: PseriesMachine) -> list[str]:
    """Whenever the kernel accepted a vCPU's last write (and no sibling thread wrote the
    shared vcore since), QEMU's compat_pvr equals the kernel's arch_compat.

    Exempt: 2.10, whose documented bugs (the old value is sent, 5dfaa532; no write after
    migration, fixed by e07cc192) make the two views differ by design. 2.9/2.10-pre's
    commit-before-KVM only shows after a failed write, which this rule already skips.
    """
    config = machine.config
    transport = machine.accel.transport
    if (transport is None or config.accel not in (Accel.KVM_HV, Accel.KVM_PR_IGNORE)
            or config.profile.switches.set_compat.kvm_gets_old_value):
        return []
    hv = config.accel is Accel.KVM_HV
    last_set: dict[int, tuple[int, int]] = {}  # vcpu -> (call index, errno)
    last_ok_on_key: dict[int, tuple[int, int]] = {}  # vcore/vcpu -> (call index, vcpu)
    for i, call in enumerate(transport.calls):
        if call.op != "set":
            continue
        last_set[call.vcpu] = (i, call.errno)
        if not call.errno:
            key = call.vcpu // config.threads if hv else call.vcpu
            last_ok_on_key[key] = (i, call.vcpu)
    out = []
    for cpu in machine.vcpus:
        own = last_set.get(cpu.index, (-1, 0))
        if own[1]:
            continue
        key = cpu.index // config.threads if hv else cpu.index
        other = last_ok_on_key.get(key)
        if other is not None and other[1] != cpu.index and other[0] > own[0]:
            continue
        view = machine.accel.kernel_view(cpu.index)
        assert view is not None
        if view.arch_compat != cpu.compat_pvr:
            out.append(f"vCPU {cpu.index}: QEMU compat_pvr {hex32(cpu.compat_pvr)} but the "
                       f"kernel holds {hex32(view.arch_compat)} after an accepted write")
    return out


def check_set_count(machine: PseriesMachine, before: Snapshot, step: str,
                    stream: bytes | None = None) -> list[str]:
    """Fixed profiles: one ONE_REG set per real mode change, none for an unchanged vCPU.

    Sets after the first failed one are the powercompat profile's rollback; they are
    counted separately and must undo exactly the changes made before the failure.
    Incoming migration forces one write per vCPU with a mode (e07cc192).
    """
    if not is_fixed(machine.config.profile) or machine.accel.transport is None:
        return []
    sets = [c for c in calls_since(machine, before) if c.op == "set"]
    first_fail = next((i for i, c in enumerate(sets) if c.errno), None)
    primary = sets if first_fail is None else sets[:first_fail + 1]
    rollback = [] if first_fail is None else sets[first_fail + 1:]
    ok = [c for c in primary if not c.errno]
    out = []
    all_or_nothing = machine.config.profile.switches.all_or_nothing
    if rollback and not all_or_nothing:
        out.append(f"{step}: {len(rollback)} set(s) after a failed one outside powercompat")
    pre = {index: compat for index, compat, _ in before.vcpus}
    # a forced migration write of the mode the vCPU already had changes nothing to undo
    changed = [c for c in ok if c.value != pre.get(c.vcpu, 0)]
    if all_or_nothing and first_fail is not None \
            and len(rollback) != len(changed):
        out.append(f"{step}: {len(changed)} change(s) before the failure but "
                   f"{len(rollback)} rollback set(s)")
    targets = [c.vcpu for c in primary]
    if len(set(targets)) != len(targets):
        out.append(f"{step}: a vCPU got two sets in one step: {targets}")
    post = {c.index: c.compat_pvr for c in machine.vcpus}
    if step == "migrate-in":
        if first_fail is None and machine.state is Lifecycle.RUNNING and stream is not None:
            wanted = sum(1 for r in decode_stream(stream).cpus
                         if (r.compat_pvr if r.compat_pvr is not None
                             else pre.get(r.index, 0)))
            if len(ok) != wanted:
                out.append(f"migrate-in: {len(ok)} set(s) for {wanted} vCPU(s) with a mode")
        return out
    for call in ok:
        if call.value == pre.get(call.vcpu, 0):
            out.append(f"{step}: set of vCPU {call.vcpu} to its current mode "
                       f"{hex32(call.value or 0)}")
    if first_fail is None:
        written = {c.vcpu: c.value for c in ok}
        for index, compat in post.items():
            if compat != pre.get(index, 0) and written.get(index) != compat:
                out.append(f"{step}: vCPU {index} changed to {hex32(compat)} without a set")
    return out


def check_unchanged(machine: PseriesMachine, before: Snapshot, step: str) -> list[str]:
    """powercompat: a failed or refused step leaves the lifecycle, every vCPU and (unless a
    rollback write itself failed) the kernel exactly as they were."""
    after = snapshot(machine)
    out = []
    if after.state is not before.state:
        out.append(f"{step} failed but the lifecycle went {before.state.value} -> "
                   f"{after.state.value}")
    if after.vcpus != before.vcpus:
        out.append(f"{step} failed but the vCPUs changed: {before.vcpus} -> {after.vcpus}")
    sets = [c for c in calls_since(machine, before) if c.op == "set"]
    rollback_failed = sum(1 for c in sets if c.errno) > 1
    # Compare the kernel's mode only: a new HV vcore holds pcr 0 and a raw write stores
    # PCR_MASK, which the kernel ORs in on every guest entry anyway (13c7bb3c57dc).
    modes_before = [None if v is None else v[0] for v in before.kernel]
    modes_after = [None if v is None else v[0] for v in after.kernel]
    if modes_after != modes_before and not rollback_failed:
        out.append(f"{step} failed but the kernel changed: {before.kernel} -> {after.kernel}")
    return out
