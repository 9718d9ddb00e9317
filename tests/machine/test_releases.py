"""Behaviour that differs by QEMU release, each row a fact of qemu-releases.md (source read
per release, and section 11's runs of the Debian binaries)."""

from __future__ import annotations

import pytest

from powercompat.errors import InvalidModeError, InvalidValueError, SmtError
from powercompat.machine.options import MachineOptions
from powercompat.machine.pseries import PseriesMachine
from powercompat.scenario import negotiate

TCG1 = "TCG cannot support more than 1 thread/core on a pseries machine"
P8 = "TCG only supports SMT on POWER8 or newer CPUs"
POW2 = "Cannot support 3 threads/core on a pseries machine because it must be a power of 2"


# section 11 (run on 5.2, 7.2, 10.0, 11.1.3) and section 7 (2.9/2.10 from source)
@pytest.mark.parametrize(("qemu", "cpu", "threads", "max_compat", "error"), [
    ("5.2", "power9", 2, None, TCG1), ("7.2", "power9", 2, None, TCG1),
    ("10.0", "power9", 2, None, None), ("11.1", "power9", 2, None, None),
    ("5.2", "power9", 3, None, TCG1), ("7.2", "power9", 3, None, TCG1),
    ("10.0", "power9", 3, None, POW2), ("11.1", "power9", 3, None, POW2),
    ("7.2", "power7", 2, None, TCG1), ("10.0", "power7", 2, None, P8),
    ("11.1", "power9", 16, None,
     "TCG cannot support more than 8 threads/core on a pseries machine"),
    ("10.0", "power9", 2, "power7", P8), ("10.0", "power9", 8, "power8", None),
    ("2.9", "power8", 2, None, "Cannot support more than 1 threads on PPC with TCG"),
    ("2.11", "power8", 2, None, TCG1),
])
def test_tcg_threads_per_core(qemu: str, cpu: str, threads: int, max_compat: str | None,
                              error: str | None) -> None:
    n = negotiate(cpu, max_compat, qemu=qemu, smp=threads, threads=threads)
    assert (n.started, n.error) == (error is None, error)


def test_smt_is_a_typed_refusal_and_kvm_wants_a_power_of_2() -> None:
    m = PseriesMachine.from_options(MachineOptions(cpu="power9", smp=3, threads=3,
                                                   accel="kvm-hv", qemu="7.2"))
    with pytest.raises(SmtError) as info:
        m.realize()
    assert str(info.value) == POW2


def test_2_9_has_no_max_cpu_compat_only_cpu_compat() -> None:
    """qemu-releases.md 10 #1: a CPU property taking power6, power7 or power8."""
    with pytest.raises(InvalidValueError, match="QEMU 2.9 has no machine option"):
        negotiate("power8", "power7", qemu="2.9")
    with pytest.raises(InvalidModeError) as info:
        negotiate("power9,compat=power9", qemu="2.9")
    assert str(info.value) == 'Invalid compatibility mode "power9"'
    n = negotiate("power9,compat=power7", guest="logical-upto-power8", qemu="2.9")
    assert n.max_cpu_compat == "power7" and n.compat_pvr == 0x0F000003
    assert negotiate("power9,compat=power8", qemu="2.10").max_cpu_compat == "power8"
    with pytest.raises(Exception, match="Property 'power9_v2.2-powerpc64-cpu.compat' not"):
        negotiate("power9,compat=power8", qemu="10.0")


def test_2_9_pcr_is_zero_after_the_cpu_reset() -> None:
    """qemu-releases.md 10 #3: spapr_cpu_init sets the mode, then ppc_cpu_reset puts SPR_PCR
    back to 0; compat_pvr stays. CAS to the same mode leaves it 0."""
    m = PseriesMachine.from_options(MachineOptions(cpu="power9,compat=power8", qemu="2.9"))
    m.realize()
    m.reset()
    assert [(c.compat_pvr, c.spr_pcr) for c in m.vcpus] == [(0x0F000004, 0)]
    n = negotiate("power9,compat=power8", qemu="2.9")
    assert (n.compat_pvr, n.pcr) == (0x0F000004, 0)
    later = negotiate("power9,compat=power8", qemu="2.10")
    assert (later.compat_pvr, later.pcr) == (0x0F000004, 0x8)


@pytest.mark.parametrize(("qemu", "model", "pvr"), [
    ("2.9", "power9_v1.0", 0x004E0000), ("2.10", "power9_v1.0", 0x004E0000),
    ("2.11", "power9_v2.0", 0x004E1200), ("7.2", "power9_v2.0", 0x004E1200),
    ("10.0", "power9_v2.2", 0x004E1202), ("5.2", "power10_v1.0", 0x00800100),
    ("7.2", "power10_v2.0", 0x00800200), ("11.1", "power10_v2.0", 0x00801200),
])
def test_what_the_family_alias_names(qemu: str, model: str, pvr: int) -> None:
    n = negotiate("power10" if "power10" in model else "power9", qemu=qemu)
    assert (n.cpu, n.raw_pvr) == (model, pvr)
