"""A vCPU's compat state as QEMU holds it."""

from __future__ import annotations

from dataclasses import dataclass

from powercompat.catalog.cpus import CpuModel


@dataclass(slots=True)
class VCpu:
    """``compat_pvr`` (0 = raw) and ``spr_pcr`` are PowerPCCPU.compat_pvr and
    env->spr[SPR_PCR]; ``core`` groups threads; ``hotplugged`` as QEMU's device flag."""

    index: int
    model: CpuModel
    core: int
    compat_pvr: int = 0
    spr_pcr: int = 0
    hotplugged: bool = False

    def snapshot(self) -> tuple[int, int]:
        return (self.compat_pvr, self.spr_pcr)

    def restore(self, snap: tuple[int, int]) -> None:
        self.compat_pvr, self.spr_pcr = snap

    @property
    def cpu_version(self) -> int:
        """Device-tree ``cpu-version``: spapr_dt_cpu() writes the real PVR, then
        spapr_fixup_cpu_smt_dt() overwrites it with compat_pvr when that is non-zero."""
        return self.compat_pvr or self.model.pvr
