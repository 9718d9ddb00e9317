"""QEMU's history as data: one row per upstream change that altered what a guest sees, in
the order the changes landed, and the releases as points in that list.

Rows are NamedTuples (immutable, hashable, and ten times cheaper to define at import than
frozen dataclasses: this module is on every command's start-up path). A release's compat
table, CPU models, aliases, family match rules and behaviour switches are never written down
per release: they are what applying the changes up to its point gives
(:func:`build`). Adding a release is one :class:`Release` row (its version); a new upstream
change is one :class:`Change` row. Sources: ../shared/reference/qemu.md sections 1, 3, 6, 8
(commit ids, dates, values); the first release of each change from the release it shipped in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from typing import Any, Final, NamedTuple, cast

from powercompat.catalog.behaviour import (
    CpuCompat,
    HotplugRule,
    HptRule,
    MigrationErrors,
    ResetPath,
    SetCompat,
    SmtRule,
    Switches,
)
from powercompat.catalog.cpus import (
    FAMILIES,
    POWER5P,
    POWER7,
    POWER8,
    POWER8_BASE,
    POWER9,
    POWER10,
    POWER11,
    PPC970,
    PPC970MP,
    CpuFamily,
    CpuModel,
    PvrMatch,
)
from powercompat.catalog.modes import (
    LOGICAL_2_05,
    LOGICAL_2_06,
    LOGICAL_2_06_PLUS,
    LOGICAL_2_07,
    LOGICAL_3_00,
    LOGICAL_3_10,
    LOGICAL_3_10_P11,
    CompatMode,
)
from powercompat.catalog.pcr import (
    PCR_COMPAT_2_05,
    PCR_COMPAT_2_06,
    PCR_COMPAT_2_07,
    PCR_COMPAT_3_00,
    PCR_COMPAT_3_10,
    PCR_TM_DIS,
    PCR_VSX_DIS,
)

Version = tuple[int, ...]


def parse_version(text: str) -> Version:
    """``"2.10"`` -> ``(2, 10)``; the caller has checked the text is dotted digits."""
    return tuple(int(part) for part in text.split("."))


# ---------------------------------------------------------------- what a change can do


class AddMode(NamedTuple):
    """A new compat_table row, appended: every mode so far was added as the newest."""

    mode: CompatMode


class NewPcrBit(NamedTuple):
    """A new PCR_COMPAT bit, set in every row already in the table (the ISA rule: one
    architecture bit set means every newer one is set too)."""

    bit: int


class ModeThreads(NamedTuple):
    """A row's max_vthreads changes."""

    name: str
    max_vthreads: int


class AddModel(NamedTuple):
    model: CpuModel


class RemoveModel(NamedTuple):
    name: str


class ModelPvr(NamedTuple):
    """A model's raw PVR constant is renumbered."""

    name: str
    pvr: int


class Alias(NamedTuple):
    """ppc_cpu_aliases gains ``name`` -> ``target``, or loses ``name`` (target None)."""

    name: str
    target: str | None


class FamilyEdit(NamedTuple):
    """A family class changes (None: unchanged): its pvr_match callback (the PVR bases it
    accepts without ``best``, what it accepts with ``best``), or whether TCG runs ``scv``
    on it (POWERPC_FLAG_SCV)."""

    family: str
    bases: tuple[int, ...] | None = None
    best: PvrMatch | None = None
    scv: bool | None = None


class RenameModel(NamedTuple):
    """A model's name changes (the old one usually stays as an alias: an Alias effect)."""

    name: str
    new_name: str


class Flip(NamedTuple):
    """A behaviour switch (a field of :class:`Switches`) takes a new value."""

    switch: str
    value: object


Effect = AddMode | NewPcrBit | ModeThreads | AddModel | RemoveModel | ModelPvr | \
    RenameModel | Alias | FamilyEdit | Flip


class Change(NamedTuple):
    """One upstream change. ``commit`` is None while the id is not pinned; ``release`` is
    the first QEMU release that ships it (for an unpinned change: the first one known to);
    ``backported``: stable releases of earlier series that got it (``2.10.2``)."""

    commit: str | None
    date: str
    release: str
    title: str
    effects: tuple[Effect, ...]
    backported: tuple[str, ...] = ()

    @property
    def version(self) -> Version:
        return parse_version(self.release)

    @property
    def label(self) -> str:
        return self.commit or f"(unpinned, by {self.release})"


# ---------------------------------------------------------------- the history


def _mode(name: str, pvr: int, pcr: int, level: int, threads: int, isa: str) -> CompatMode:
    return CompatMode(name, pvr, pcr, level, threads, isa)


_P6_2017 = PCR_COMPAT_3_00 | PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05 | PCR_TM_DIS \
    | PCR_VSX_DIS
_P7_2017 = PCR_COMPAT_3_00 | PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_TM_DIS


def _models(*rows: tuple[str, int, CpuFamily, str]) -> tuple[AddModel, ...]:
    return tuple(AddModel(CpuModel(*row)) for row in rows)


#: every change, in the order it landed upstream (a release's point is a prefix). Model
#: rows: qemu-releases.md 2.2 / 2.3 (read per release) and the recorded catalogues
#: (data/qemu-*.json, held to this list by tests/catalog/test_recorded_catalogues.py).
CHANGES: Final[tuple[Change, ...]] = (
    Change("v2.9.0", "2017-04-20", "2.9",
           "the server CPU models and aliases of QEMU 2.9.0, where the modelled history "
           "starts (2.9/2.10 spell them upper-case: POWER8_v2.0; class names match "
           "case-insensitively)",
           (*_models(("970_v2.2", 0x00390202, PPC970, "PowerPC 970 v2.2"),
                     ("970mp_v1.0", 0x00440100, PPC970MP, "PowerPC 970MP v1.0"),
                     ("970mp_v1.1", 0x00440101, PPC970MP, "PowerPC 970MP v1.1"),
                     ("power5+_v2.1", 0x003B0201, POWER5P, "POWER5+ v2.1"),
                     ("power7_v2.3", 0x003F0203, POWER7, "POWER7 v2.3"),
                     ("power7+_v2.1", 0x004A0201, POWER7, "POWER7+ v2.1"),
                     ("power8e_v2.1", 0x004B0201, POWER8, "POWER8E v2.1"),
                     ("power8nvl_v1.0", 0x004C0100, POWER8, "POWER8NVL v1.0"),
                     ("power8_v2.0", 0x004D0200, POWER8, "POWER8 v2.0"),
                     # POWER9 DD1: CPU_POWERPC_POWER9_BASE in 2.9/2.10
                     ("power9_v1.0", 0x004E0000, POWER9, "POWER9 v1.0")),
            Alias("970", "970_v2.2"), Alias("970mp", "970mp_v1.1"),
            Alias("power5+", "power5+_v2.1"), Alias("power5gs", "power5+_v2.1"),
            Alias("power7", "power7_v2.3"), Alias("power7+", "power7+_v2.1"),
            Alias("power8e", "power8e_v2.1"), Alias("power8nvl", "power8nvl_v1.0"),
            Alias("power8", "power8_v2.0"), Alias("power9", "power9_v1.0"))),
    Change("9d6f1065", "2017-01-31", "2.9",
           "ppc_set_compat() becomes table-driven: compat_table with power6 .. power8",
           (AddMode(_mode("power6", LOGICAL_2_05, _P6_2017, PCR_COMPAT_2_05, 2, "2.05")),
            AddMode(_mode("power7", LOGICAL_2_06, _P7_2017, PCR_COMPAT_2_06, 4, "2.06")),
            AddMode(_mode("power7+", LOGICAL_2_06_PLUS, _P7_2017, PCR_COMPAT_2_06, 4,
                          "2.06+")),
            AddMode(_mode("power8", LOGICAL_2_07, PCR_COMPAT_3_00 | PCR_COMPAT_2_07,
                          PCR_COMPAT_2_07, 8, "2.07")))),
    Change("9b44c836", "2017-03-01", "2.9", "POWER9 in the compat table",
           (AddMode(_mode("power9", LOGICAL_3_00, PCR_COMPAT_3_00, PCR_COMPAT_3_00, 4,
                          "3.00")),)),
    Change("80c33d34", "2017-05-18", "2.10",
           "a failed CAS reports its error (messages.CAS_NO_SUITABLE_PVR)",
           (Flip("cas_failure_message", True),)),
    Change("d5fc133e", "2017-06-02", "2.10",
           "migration: cpu/compat is sent, and a destination checks the mode or the family",
           (Flip("migrates_compat", True),)),
    Change("7843c0d6", "2017-06-11", "2.10",
           "max-cpu-compat becomes a machine property; -cpu X,compat=Y is turned into it",
           (Flip("max_cpu_compat_option", True), Flip("cpu_compat", CpuCompat.MACHINE))),
    Change("66d5c492", "2017-06-13", "2.10",
           "pseries: Reset CPU compatibility mode (every reset sets max-cpu-compat; nothing "
           "sets a hot-plugged vCPU's mode any more)",
           (Flip("reset", ResetPath.SET_COMPAT_ALL), Flip("hotplug", HotplugRule.NONE))),
    Change("92e926e1", "2017-07-05", "2.10",
           "ppc/kvm: the host family's CPU alias points to the host type (-cpu POWERx = -cpu "
           "host under KVM)",
           (Flip("family_alias_is_host", True),)),
    Change("5dfaa532", "2017-08-14", "2.10",
           "ppc: fix ppc_set_compat() with KVM PR (ioctl only on change, state after KVM; "
           "but the old value is sent)",
           (Flip("set_compat", SetCompat.OLD_VALUE),)),
    Change(None, "", "2.10",
           "spapr_machine_reset(): under a KVM that offers radix the vCPUs start radix and "
           "no HPT is allocated",
           (Flip("hpt", HptRule.KVM_RADIX),)),
    Change("cc7b35b1", "2017-08-17", "2.11",
           "spapr: fallback to raw mode if best compat mode cannot be set during CAS",
           (Flip("cas_raw_fallback", True),)),
    Change("e4f0c6bb", "2017-10-17", "2.11", "ppc: fix setting of compat mode (the new value)",
           (Flip("set_compat", SetCompat.NEW_VALUE),), backported=("2.10.2",)),
    Change("e07cc192", "2017-11-24", "2.11",
           "incoming migration clears compat_pvr first, so KVM gets the write",
           (Flip("migration_forces_write", True),)),
    Change(None, "", "2.11",
           "spapr_set_vsmt_mode(): pseries checks threads per core itself (TCG: 1)",
           (Flip("smt", SmtRule.TCG_SINGLE),)),
    Change(None, "", "2.11",
           "the POWER9 DD2.0 model, now the power9 alias; DD1 (power9_v1.0) moves to "
           "0x004e0100",
           (*_models(("power9_v2.0", 0x004E1200, POWER9, "POWER9 v2.0")),
            ModelPvr("power9_v1.0", 0x004E0100), Alias("power9", "power9_v2.0"))),
    Change("03ee51d3", "2018-01-14", "2.12", "POWER9 compat allows 8 vthreads (was 4)",
           (ModeThreads("power9", 8),), backported=("2.11.2",)),
    Change("9012a53f", "2018-01-17", "2.12",
           "the boot CPU's mode is copied to the others: hot-plugged vCPUs take it",
           (Flip("hotplug", HotplugRule.BOOT_CPU),)),
    Change(None, "", "2.12",
           "spapr capabilities: cap-vsx (and the other caps) default from what the CPU can "
           "do within max-cpu-compat (hw/ppc/spapr_caps.c default_caps_with_cpu)",
           (Flip("vsx_cap", True),)),
    Change(None, "", "4.0", "pseries-4.0 machines default to ic-mode=dual (XICS + XIVE)",
           (Flip("ic_mode_dual", True),)),
    Change("7d37b274", "2019-12-05", "5.0",
           "POWER10 DD1.0: PCR_COMPAT_3_10 in every row, the power10 mode, the "
           "power10_v1.0 model and the power10 alias",
           (NewPcrBit(PCR_COMPAT_3_10),
            AddMode(_mode("power10", LOGICAL_3_10, PCR_COMPAT_3_10, PCR_COMPAT_3_10, 8,
                          "3.1")),
            *_models(("power10_v1.0", 0x00800100, POWER10, "POWER10 v1.0")),
            Alias("power10", "power10_v1.0"))),
    Change(None, "", "5.0",
           "under TCG a kernel with more than one vCPU in an ISA 3.1 mode stops after "
           "prom_init (observed on 5.2: tests/data/real/qemu-5.2-linux-6.1-slof-smp2.json)",
           (Flip("tcg_isa31_smp_hang", True),)),
    Change(None, "", "5.2",
           "TCG runs the vectored system call (scv) on POWER9: POWERPC_FLAG_SCV (5.2's "
           "POWER10 family lacks the flag, so scv is a facility-unavailable interrupt there)",
           (FamilyEdit("POWER9", scv=True),)),
    Change(None, "", "5.2",
           "cpu_post_load returns ppc_set_compat()'s negative errno instead of -1",
           (Flip("migration_errors", MigrationErrors.LINES),)),
    Change(None, "", "5.2",
           "spapr_machine_reset(): radix only when the CPU type runs ISA 3.00 within "
           "max-cpu-compat; a nested hypervisor's -EOPNOTSUPP for the HPT is 'HPT not "
           "supported in nested guests'",
           (Flip("hpt", HptRule.CPU_RADIX),)),
    Change(None, "", "5.2",
           "spapr cap hpt-max-page-size: 64 KiB by default from pseries-3.0 (older machine "
           "types: the host's page); KVM HV refuses a larger one than the host's pages "
           "('Can't support 64 kiB guest pages with 4 kiB host pages with this KVM "
           "implementation')",
           (Flip("hpt_max_page_size_cap", True),)),
    Change(None, "", "5.2",
           "spapr_setup_hpt(): under KVM, an RMA larger than the VRMA the host's pages allow "
           "stops QEMU ('Unable to create 512MiB RMA (VRMA only allows 128MiB'); 2.11's "
           "spapr_setup_hpt_and_vrma() clamped the RMA to kvmppc_rma_size() instead",
           (Flip("vrma_check", True),)),
    Change("d0a92b35", "2020-07-23", "5.2",
           "kvm: kvm_init_vcpu takes an Error pointer (its failure text names "
           "kvm_arch_init_vcpu and the vCPU id)",
           (Flip("kvm_init_vcpu_errp", True),)),
    Change("f518be3a", "2020-12", "6.0", "-cpu X,compat=Y removed (deprecated since 22062e54)",
           (Flip("cpu_compat", CpuCompat.NONE),)),
    Change(None, "", "7.2",
           "pvr_match gains ``best``: the exact class is the base (POWER7, POWER8) or the "
           "base and DD major (POWER9, POWER10), not any member of the family",
           (FamilyEdit("POWER7", best=PvrMatch.SAME_BASE),
            FamilyEdit("POWER8", best=PvrMatch.SAME_BASE),
            FamilyEdit("POWER9", best=PvrMatch.SAME_MAJOR),
            FamilyEdit("POWER10", best=PvrMatch.SAME_MAJOR))),
    Change(None, "", "7.2", "TCG runs scv on POWER10 too (POWERPC_FLAG_SCV)",
           (FamilyEdit("POWER10", scv=True),)),
    Change(None, "", "7.2",
           "an SMP kernel boots in ISA 3.1 modes under TCG (observed: 7.2's power10_v1.0 "
           "with -smp 2, raw and power10, reaches init)",
           (Flip("tcg_isa31_smp_hang", False),)),
    Change(None, "", "7.2",
           "spapr_dt_ov5_platform_support() checks the MMU at every reset: below ISA 3.00, a "
           "KVM with radix but no hash-v3 stops QEMU (spapr_check_mmu_mode)",
           (Flip("mmu_check_at_reset", True),)),
    Change(None, "", "7.2",
           "spapr_iommu (the TCE tables) is vmstate version 3 (5.2: 2), so a 5.2 destination "
           "refuses a newer release's stream: 'savevm: unsupported version 3 for "
           "'spapr_iommu' v2' (run)",
           (Flip("vmstate_spapr_iommu", 3),)),
    Change(None, "", "7.2", "the POWER10 DD2.0 model (power10_v2.0, now the power10 alias)",
           (*_models(("power10_v2.0", 0x00800200, POWER10, "POWER10 v2.0")),
            Alias("power10", "power10_v2.0"))),
    Change("277ee172", "2023-05", "8.1",
           "the POWER9 DD2.2 model, now the power9 alias; DD2.0/2.1 match only power9_v2.0, "
           "DD2.2/2.3 only power9_v2.2",
           (*_models(("power9_v2.2", 0x004E1202, POWER9, "POWER9 v2.2")),
            Alias("power9", "power9_v2.2"),
            FamilyEdit("POWER9", best=PvrMatch.POWER9_MINOR))),
    Change("7f65ebb0", "2023-05", "8.1", "the POWER9/POWER10 DD PVR constants renumbered",
           (ModelPvr("power9_v1.0", 0x004E1100), ModelPvr("power10_v1.0", 0x00801100),
            ModelPvr("power10_v2.0", 0x00801200))),
    Change("9c7b7f01", "2023-08-08", "8.2",
           "spapr: Fix machine reset deadlock from replay-record (ppc_init_compat_all)",
           (Flip("reset", ResetPath.INIT_COMPAT_ALL),)),
    Change("8f054d9e", "2024-01", "9.0", "the POWER9 and POWER10 DD1 models removed",
           (RemoveModel("power9_v1.0"), RemoveModel("power10_v1.0"))),
    Change("24ee9229", "2024-10", "9.2",
           "ppc/spapr: remove deprecated machine pseries-2.9: the wrapper that registered "
           "vmstate_icp_server goes, and the call with it, so no 'icp/server' section is "
           "sent or accepted; a destination refuses an older or fixed release's stream "
           "(run: 10.0.13 -> 10.0.2)",
           (Flip("icp_vmstate", False),)),
    Change("ac0fbbb2", "2024-07-31", "9.2",
           "an older CPU cannot take a newer processor's mode (spapr_logical_pvr check)",
           (Flip("logical_pvr_check", True),)),
    Change("c0d96407", "2024-07-31", "9.2", "Power11: the mode, the model and its alias",
           (AddMode(_mode("power11", LOGICAL_3_10_P11, PCR_COMPAT_3_10, PCR_COMPAT_3_10, 8,
                          "3.1 (P11)")),
            *_models(("power11_v2.0", 0x00821200, POWER11, "POWER11 v2.0")),
            Alias("power11", "power11_v2.0"))),
    Change(None, "", "10.0",
           "power5+_v2.1 and power7+_v2.1 renamed power5p_v2.1 and power7p_v2.1 (the old "
           "names stay as aliases; power5gs still names power5+_v2.1, now an alias, which "
           "a one-hop lookup does not follow)",
           (RenameModel("power5+_v2.1", "power5p_v2.1"),
            RenameModel("power7+_v2.1", "power7p_v2.1"),
            Alias("power5+", "power5p_v2.1"), Alias("power5+_v2.1", "power5p_v2.1"),
            Alias("power7+", "power7p_v2.1"), Alias("power7+_v2.1", "power7p_v2.1"))),
    Change(None, "", "10.0", "TCG runs pseries SMT (up to 8 threads) on POWER8 and newer",
           (Flip("smt", SmtRule.TCG_POWER8),)),
    Change(None, "", "10.0",
           "spapr cap ail-mode-3 (on when the CPU runs ISA 2.07 within max-cpu-compat): KVM "
           "must offer KVM_CAP_PPC_AIL_MODE_3",
           (Flip("ail_mode_3_cap", True),)),
    Change(None, "", "10.0",
           "cpu/slb is vmstate version 2 (slb_nr no longer migrated), so 7.2 and 5.2 "
           "destinations refuse every newer stream: 'cpu/slb: incoming version_id 2 is too "
           "new for local version_id 1' (run)",
           (Flip("vmstate_slb", 2),)),
    Change(None, "", "10.0",
           "TCG keeps the decrementer across a migration: cpu_pre_save() stores "
           "cpu_ppc_load_decr(), cpu_post_load() re-arms it with cpu_ppc_store_decr() "
           "(target/ppc/machine.c); 5.2 and 7.2 destinations leave an idle guest asleep (run)",
           (Flip("tcg_decrementer_migration", True),)),
    Change("f5738aed", "2025-09", "10.2",
           "hw/intc/xics: Add missing call to register vmstate_icp_server (Fixes: 24ee9229); "
           "in the 10.0.5 and 10.1.1 stable releases, so Debian's 10.0.2 and 10.0.13 differ",
           (Flip("icp_vmstate", True),), backported=("10.0.5", "10.1.1")),
    Change(None, "", "11.1",
           "a refused incoming migration is reported as one chained line (the load's error, "
           "then its cause); the cpu section's names the post_load hook that failed",
           (Flip("migration_errors", MigrationErrors.CHAINED),)),
    Change(None, "", "11.1",
           "the RTAS stopped state is its own CPU field, migrated in cpu/rtas_stopped from "
           "pseries-10.1 (fb802acdc8); older machine types set rtas-stopped-state=false and "
           "cpu_post_load() infers it from halted + PSSCR[EC] + LPCR PM bits, true for an idle "
           "boot vCPU, which then never takes an interrupt (TCG, run)",
           (Flip("rtas_stopped_since", (10, 1)),)),
    Change("f73b3168", "2026-07-03", "11.1", "POWER8E and POWER8NVL removed",
           (RemoveModel("power8e_v2.1"), RemoveModel("power8nvl_v1.0"),
            Alias("power8e", None), Alias("power8nvl", None),
            FamilyEdit("POWER8", bases=(POWER8_BASE,)))),
)


# ---------------------------------------------------------------- applying changes


class Catalogue(NamedTuple):
    """What a point in the history has: its table (in order), families, models, aliases,
    switches, and the changes that made it."""

    modes: tuple[CompatMode, ...]
    families: tuple[CpuFamily, ...]
    models: tuple[CpuModel, ...]
    aliases: tuple[tuple[str, str], ...]
    switches: Switches
    changes: tuple[Change, ...]

    def mode_source(self, name: str) -> Change | None:
        """The change that added mode ``name`` (None: not in this history)."""
        for change in self.changes:
            if any(isinstance(e, AddMode) and e.mode.name == name for e in change.effects):
                return change
        return None

    def switch_source(self, name: str) -> Change | None:
        """The change that gave switch ``name`` its value here (None: the default)."""
        for change in reversed(self.changes):
            if any(isinstance(e, Flip) and e.switch == name for e in change.effects):
                return change
        return None


_SWITCH_FIELDS: Final = frozenset(Switches._fields)


class HistoryError(ValueError):
    """A change that cannot apply (a data mistake, caught when the catalogue is built)."""


def build(changes: Iterable[Change]) -> Catalogue:
    """Apply ``changes`` in order, from nothing.

    :raises HistoryError: a change names a mode, model, family or switch that is not there
        (or adds one twice), or an alias is left pointing at neither a model nor an alias.
    """
    modes: list[CompatMode] = []
    families = {f.name: f for f in FAMILIES}
    models: dict[str, CpuModel] = {}
    aliases: dict[str, str] = {}
    switches = Switches()
    applied = tuple(changes)
    for change in applied:
        for effect in change.effects:
            where = f"{change.label}: {effect}"
            if isinstance(effect, AddMode):
                if any(m.name == effect.mode.name for m in modes):
                    raise HistoryError(f"{where}: mode added twice")
                modes.append(effect.mode)
            elif isinstance(effect, NewPcrBit):
                modes = [replace(m, pcr=m.pcr | effect.bit) for m in modes]
            elif isinstance(effect, ModeThreads):
                index = next((i for i, m in enumerate(modes) if m.name == effect.name), None)
                if index is None:
                    raise HistoryError(f"{where}: no such mode")
                modes[index] = replace(modes[index], max_vthreads=effect.max_vthreads)
            elif isinstance(effect, AddModel):
                if effect.model.name in models:
                    raise HistoryError(f"{where}: model added twice")
                models[effect.model.name] = effect.model
            elif isinstance(effect, RemoveModel | ModelPvr | RenameModel):
                if effect.name not in models:
                    raise HistoryError(f"{where}: no such model")
                if isinstance(effect, RemoveModel):
                    del models[effect.name]
                elif isinstance(effect, ModelPvr):
                    models[effect.name] = replace(models[effect.name], pvr=effect.pvr)
                else:
                    if effect.new_name in models:
                        raise HistoryError(f"{where}: the new name is taken")
                    models[effect.new_name] = replace(models.pop(effect.name),
                                                      name=effect.new_name)
            elif isinstance(effect, Alias):
                if effect.target is None:
                    if aliases.pop(effect.name, None) is None:
                        raise HistoryError(f"{where}: no such alias")
                else:
                    aliases[effect.name] = effect.target
            elif isinstance(effect, FamilyEdit):
                if effect.family not in families:
                    raise HistoryError(f"{where}: no such family")
                family = families[effect.family]
                families[effect.family] = replace(
                    family, bases=family.bases if effect.bases is None else effect.bases,
                    best=family.best if effect.best is None else effect.best,
                    scv=family.scv if effect.scv is None else effect.scv)
            else:
                if effect.switch not in _SWITCH_FIELDS:
                    raise HistoryError(f"{where}: no such switch")
                switches = switches._replace(**cast(dict[str, Any], {effect.switch: effect.value}))
    # an alias may name another alias (10.0's power5gs): QEMU keeps it, a lookup fails
    dangling = sorted(a for a, t in aliases.items() if t not in models and t not in aliases)
    if dangling:
        raise HistoryError(f"aliases without a model: {', '.join(dangling)}")
    # ordered by PVR, as QEMU's ppc_cpu_list_compare() orders ``-cpu help``
    linked = tuple(sorted((replace(m, family=families[m.family.name]) for m in models.values()),
                          key=lambda m: m.pvr))
    return Catalogue(tuple(modes), tuple(families.values()), linked,
                     tuple(aliases.items()), switches, applied)


# ---------------------------------------------------------------- releases


class Release(NamedTuple):
    """A named point in the history. A QEMU release gives its ``version`` and contains
    every change first shipped in that version or earlier; a development point names the
    last change it contains (``until``); head (neither) contains every change.
    ``recorded``: the release whose catalogue was recorded from a real binary
    (data/qemu-R.json) and holds this point's models to it. ``stable``: the stable release
    the named point is (Debian's build, ``10.0.13``): it has that series' backports."""

    name: str
    title: str
    description: str
    version: str | None = None
    until: str | None = None
    recorded: str | None = None
    stable: str | None = None

    @property
    def build(self) -> Version | None:
        """The version a release stands for: its stable build (10.0.13), else its own."""
        return parse_version(self.stable or self.version) if self.version else None

    def changes(self) -> tuple[Change, ...]:
        if self.build is not None:
            return changes_by(self.build)
        if self.until is not None:
            ids = [c.commit for c in CHANGES]
            return CHANGES[: ids.index(self.until) + 1]
        return CHANGES

    def catalogue(self) -> Catalogue:
        """What this point has (built once per set of changes)."""
        return catalogue_of(self.changes())


def changes_by(version: Version) -> tuple[Change, ...]:
    """Every change in QEMU ``version``: first shipped in its major.minor or earlier, or
    backported to its stable series at or before its micro (``2.10.2`` has e4f0c6bb)."""
    def stable(backport: str) -> bool:
        got = parse_version(backport)
        return got[:2] == version[:2] and len(version) > 2 and got[2:] <= version[2:]

    return tuple(c for c in CHANGES
                 if c.version <= version[:2] or any(stable(b) for b in c.backported))


#: the named points; a new QEMU release is one row here
RELEASES: Final[tuple[Release, ...]] = (
    Release("2.9", "QEMU 2.9 (before 66d5c492)",
            "mode set once at CPU creation when a maximum is given; reset leaves it alone, so "
            "a CAS-negotiated mode survives a guest reboot; every set calls KVM",
            version="2.9"),
    Release("2.10-pre", "QEMU 2.10 development, 66d5c492 without 5dfaa532",
            "66d5c492 'pseries: Reset CPU compatibility mode': every reset sets every vCPU to "
            "max-cpu-compat (0 when unset), state first, ioctl on every set: KVM PR guests "
            "cannot start",
            until="66d5c492"),
    Release("2.10", "QEMU 2.10.0 (5dfaa532)",
            "5dfaa532 'ppc: fix ppc_set_compat() with KVM PR': ioctl only when the mode "
            "changes, state committed after KVM accepts, but the OLD value is sent",
            version="2.10"),
    Release("2.11", "QEMU 2.11.0 (e4f0c6bb, cc7b35b1, e07cc192)",
            "the new value is sent (e4f0c6bb); CAS falls back to raw when the write fails "
            "(cc7b35b1); incoming migration forces the write (e07cc192)",
            version="2.11"),
    Release("5.2", "QEMU 5.2 as Debian bullseye ships it",
            "power10 (DD1) is the newest mode and model; family-wide raw-PVR matching; "
            "-cpu X,compat=Y still accepted (deprecated)",
            version="5.2", recorded="5.2"),
    Release("7.2", "QEMU 7.2 as Debian bookworm ships it",
            "power10 is the newest mode; no logical-PVR check, so power7+ is accepted on "
            "POWER8 and newer; hot-plugged CPUs take the boot CPU's mode",
            version="7.2", recorded="7.2"),
    Release("10.0", "QEMU 10.0 as Debian trixie ships it",
            "power11; the logical-PVR check refuses power7+ on POWER8+; TCG runs SMT; reset "
            "through ppc_init_compat_all",
            version="10.0", recorded="10.0", stable="10.0.13"),
    Release("11.1", "QEMU 11.1 as Debian sid ships it",
            "10.0 without POWER8E/NVL (f73b3168)",
            version="11.1", recorded="11.1", stable="11.1.3"),
    Release("head", "QEMU head (b428fe0362, 11.1 rc)",
            "every change modelled; its models and aliases are those 11.1.3's binary lists",
            recorded="11.1"),
)


def catalogue_of(changes: tuple[Change, ...]) -> Catalogue:
    """The catalogue of a set of changes (in history order), built once per set."""
    index = {id(c): i for i, c in enumerate(CHANGES)}
    return _built(tuple(index[id(c)] for c in changes))


@cache
def _built(indexes: tuple[int, ...]) -> Catalogue:
    return build(CHANGES[i] for i in indexes)


def switch_changes(name: str) -> tuple[Change, ...]:
    """Every change that set switch ``name``, in order."""
    return tuple(c for c in CHANGES
                 if any(isinstance(e, Flip) and e.switch == name for e in c.effects))


#: the newest point: every change applied (the catalogue tools print when no release is named)
HEAD: Final = catalogue_of(CHANGES)
