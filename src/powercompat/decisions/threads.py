"""How many threads per core the guest may see. Source: target/ppc/compat.c
ppc_compat_max_vthreads(), capped by smp_threads in hw/ppc/spapr.c spapr_dt_cpu()."""

from __future__ import annotations

from powercompat.catalog.modes import CompatMode


def max_vthreads(nr_threads: int, mode: CompatMode | None) -> int:
    """min(threads per core, the mode's max_vthreads); raw mode: threads per core.

    >>> from powercompat.catalog.history import HEAD
    >>> from powercompat.catalog.modes import mode_by_name
    >>> max_vthreads(8, mode_by_name("power7", HEAD.modes))
    4
    """
    return min(nr_threads, mode.max_vthreads) if mode else nr_threads
