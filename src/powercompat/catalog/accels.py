"""The accelerators a machine can run on, as the CLI spells them, and what each one is.

Sources: QEMU hw/ppc/spapr.c (the ``kvm-type`` machine property: ``auto``, ``hv``, ``pr``;
HV wins when both modules are loaded), Linux book3s_hv.c / book3s_pr.c (the two KVM
implementations). ``kvm-pr-ignore`` is powercompat's own proposal (the seed's, issue #14), not
a real kernel: a PR handler that accepts ARCH_COMPAT and enforces nothing; no Linux release has
it (the recorded PR runs, tests/data/real/kvm-pr-*.json, answer EINVAL). ``kvm`` is the real
KVM of a ppc64 host.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple


class Accel(StrEnum):
    """An accelerator flavour; its value is the CLI spelling."""

    TCG = "tcg"
    KVM_HV = "kvm-hv"
    KVM_PR = "kvm-pr"
    KVM_PR_IGNORE = "kvm-pr-ignore"
    KVM = "kvm"

    @property
    def kvm(self) -> bool:
        return self is not Accel.TCG

    @property
    def description(self) -> str:
        return ACCEL_FACTS[self].title

    @property
    def kvm_type(self) -> str | None:
        """The pseries ``kvm-type`` value that selects it (None: TCG)."""
        return ACCEL_FACTS[self].kvm_type

    @property
    def modelled(self) -> bool:
        """Run on a kernel model (False: TCG needs none, ``kvm`` is the real kernel)."""
        return ACCEL_FACTS[self].modelled


class AccelFacts(NamedTuple):
    title: str
    kvm_type: str | None
    modelled: bool


#: the one table of what each flavour is
ACCEL_FACTS: Final[Mapping[Accel, AccelFacts]] = MappingProxyType({
    Accel.TCG: AccelFacts("TCG", None, False),
    Accel.KVM_HV: AccelFacts("KVM HV", "hv", True),
    Accel.KVM_PR: AccelFacts("KVM PR", "pr", True),
    # ours, not a kernel: no Linux release has such a handler (issue #14)
    Accel.KVM_PR_IGNORE: AccelFacts("KVM PR accepting and ignoring ARCH_COMPAT (powercompat's "
                                    "proposal, not a real kernel)", "pr", True),
    Accel.KVM: AccelFacts("the real KVM of this ppc64 host", "auto", False),
})

#: every flavour's spelling, in the enum's order
ACCELS: Final[tuple[str, ...]] = tuple(a.value for a in Accel)
