"""CAS on a real machine: over CPU models x max x buffers x accelerators x profiles, a guest
never gets a mode above max-cpu-compat, the CPU, or (fixed profiles, KVM HV) the host, and
gets the newest mode it listed that passes whenever the write goes through."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.strategies import cas_buffers, machine_options

from powercompat.decisions.cas import CasOutcome, choose_compat, parse_cas_pvrs
from powercompat.errors import CasBufferError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.machine.state import Lifecycle
from powercompat.profiles import ALL_PROFILES
from powercompat.stress.invariants import check_bounds, is_fixed
from powercompat.stress.reference import ref_cas_choice, ref_host_accepts, ref_index

SETTINGS = settings(max_examples=2000, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(ALL_PROFILES), st.data(), cas_buffers)
def test_choice_is_newest_listed_valid_mode_within_max(profile: object, data: st.DataObject,
                                                       buf: bytes) -> None:
    p = profile
    model = data.draw(st.sampled_from(p.cpu_models))  # type: ignore[attr-defined]
    max_mode = data.draw(st.sampled_from([None, *p.rules.modes]))  # type: ignore[attr-defined]
    max_pvr = max_mode.pvr if max_mode else 0
    try:
        parsed = parse_cas_pvrs(buf)
    except CasBufferError:
        return
    choice = choose_compat(model, model.pvr, max_pvr, parsed, p.rules)  # type: ignore[attr-defined]
    pairs = [(e.mask, e.value) for e in parsed.entries]
    best, explicit = ref_cas_choice(p, model.family, model.pvr, max_pvr, pairs)  # type: ignore[arg-type]
    assert (choice.cas_pvr, choice.raw_mode_supported) == (best, explicit)
    if best:
        assert choice.outcome is CasOutcome.COMPAT
        assert best in [v for _, v in pairs]
        if max_pvr:
            assert ref_index(p, best) <= ref_index(p, max_pvr)  # type: ignore[arg-type]
    else:
        raw = explicit and not max_pvr
        assert choice.outcome is (CasOutcome.RAW if raw else CasOutcome.FAIL)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine_options(), cas_buffers, st.booleans())
def test_machine_cas_never_exceeds_max_cpu_or_host(options: MachineOptions, buf: bytes,
                                                   reboot_first: bool) -> None:
    machine = PseriesMachine.from_options(options)
    try:
        machine.realize()
        machine.reset()
    except Exception:
        assert machine.state is not Lifecycle.RUNNING
        return
    if reboot_first:
        machine.reboot()
    before = machine.boot_cpu.compat_pvr
    try:
        result = machine.cas(buf)
    except CasBufferError as err:
        assert machine.boot_cpu.compat_pvr == before and 0 <= err.offset <= len(buf)
        return
    assert check_bounds(machine) == []
    config = machine.config
    p = config.profile
    pairs = [(e.mask, e.value) for e in parse_cas_pvrs(buf).entries]
    best, _ = ref_cas_choice(p, config.model.family, config.model.pvr,
                             config.max_compat_pvr, pairs)
    mode = machine.boot_cpu.compat_pvr
    if result.hcall_ret == 0 and not result.raw_fallback:
        assert mode == best  # the newest mode the guest listed that passes
    elif result.hcall_ret != 0 and is_fixed(p):
        # H_HARDWARE: the boot vCPU keeps its pre-CAS mode (or, for QEMU's stop-at-first,
        # the set failed on it first); never something the host refused
        assert mode in (before, best)
    if config.accel == "kvm-hv" and is_fixed(p):
        assert all(ref_host_accepts(config.host_kernel.name, config.host.family, c.compat_pvr)
                   for c in machine.vcpus)
