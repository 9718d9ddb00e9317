"""How many threads per core the guest may see. Source: target/ppc/compat.c
ppc_compat_max_vthreads(), capped by smp_threads in hw/ppc/spapr.c spapr_dt_cpu()."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from powercompat import messages
from powercompat.catalog.behaviour import SmtRule
from powercompat.catalog.modes import CompatMode


def max_vthreads(nr_threads: int, mode: CompatMode | None) -> int:
    """min(threads per core, the mode's max_vthreads); raw mode: threads per core.

    >>> from powercompat.catalog.history import HEAD
    >>> from powercompat.catalog.modes import mode_by_name
    >>> max_vthreads(8, mode_by_name("power7", HEAD.modes))
    4
    """
    return min(nr_threads, mode.max_vthreads) if mode else nr_threads


def _power_of_2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _ppc_realize(threads: int, tcg: bool, p8_within_max: bool) -> str | None:
    # ppc_cpu_realizefn(): max_smt = kvmppc_smt_threads(), 1 under TCG (the host's SMT
    # under KVM is not modelled), then the power of 2
    if tcg and threads > 1:
        return messages.ppc_smt_limit(1, "TCG")
    if not _power_of_2(threads):
        return messages.ppc_smt_not_power_of_2(threads, "TCG" if tcg else "KVM")
    return None


def _tcg_single(threads: int, tcg: bool, p8_within_max: bool) -> str | None:
    if tcg and threads > 1:
        return messages.TCG_SMT_UNSUPPORTED
    if not _power_of_2(threads):
        return messages.smt_not_power_of_2(threads)
    return None


def _tcg_power8(threads: int, tcg: bool, p8_within_max: bool) -> str | None:
    if tcg and threads > 1:
        if not p8_within_max:
            return messages.TCG_SMT_NEEDS_POWER8
        if threads > TCG_MAX_THREADS:
            return messages.tcg_smt_limit(TCG_MAX_THREADS)
    if not _power_of_2(threads):
        return messages.smt_not_power_of_2(threads)
    return None


#: hw/ppc/spapr.c spapr_set_vsmt_mode() (10.0 on): TCG's limit
TCG_MAX_THREADS = 8
#: the one table: each release's rule, as (threads, under TCG, POWER8 within the maximum)
SMT_RULES: Mapping[SmtRule, Callable[[int, bool, bool], str | None]] = MappingProxyType({
    SmtRule.PPC_REALIZE: _ppc_realize,
    SmtRule.TCG_SINGLE: _tcg_single,
    SmtRule.TCG_POWER8: _tcg_power8,
})


def smt_refusal(rule: SmtRule, threads: int, tcg: bool, p8_within_max: bool) -> str | None:
    """QEMU's refusal of ``threads`` per core at machine init, or None when it starts.

    >>> smt_refusal(SmtRule.TCG_POWER8, 3, True, True)
    'Cannot support 3 threads/core on a pseries machine because it must be a power of 2'
    """
    return SMT_RULES[rule](threads, tcg, p8_within_max)
