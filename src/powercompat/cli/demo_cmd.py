"""``powercompat demo``: the 2017 KVM PR story, told by the engine on embedded defaults.

Every fact in the tables (starts or not, ONE_REG calls, final modes) comes from
scenario.simulate; only the one-line explanations are written here, each with its commit.
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from powercompat.cli.common import add_json, emit_json, errno_name, mode_label
from powercompat.cli.main import Command
from powercompat.decisions.pcr import decode_pcr
from powercompat.machine.options import MachineOptions
from powercompat.messages import hex32, hex64
from powercompat.scenario import DEFAULT_GUEST, Simulation, simulate

if TYPE_CHECKING:
    from powercompat.cli.tables import Table

EVENTS = ("realize", "reset", "cas", "reboot")

#: the KVM PR machine: POWER8, no max-cpu-compat, Linux 6.1 (the scenario's default guest)
PR_MACHINE = MachineOptions(cpu="POWER8", accel="kvm-pr")
PR_STORY: tuple[tuple[str, str], ...] = (
    ("2.10-pre", "66d5c492 sets the mode at every reset and calls KVM even for 0 -> 0; "
                 "KVM PR has no ARCH_COMPAT, so the first reset fails and QEMU exits."),
    ("2.10", "5dfaa532 calls KVM only when the mode changes, so reset (0 -> 0) is silent "
             "and the guest starts; at CAS the set is refused (and sends the OLD value 0) "
             "and nothing falls back: CAS fails."),
    ("2.11", "cc7b35b1: the guest listed its real PVR and no max-cpu-compat is set, so the "
             "refused CAS set is ignored and the guest runs raw; e4f0c6bb sends the new "
             "value."),
    ("head", "the same logic as 2.11 (reset now through ppc_init_compat_all, 9c7b7f01): "
             "one refused SET at CAS, the guest runs raw."),
    ("powercompat", "our policy: a KVM_GET_ONE_REG probe answers EINVAL (no ARCH_COMPAT), so "
                    "no SET is attempted; the guest runs raw, as under 2.11."),
)

#: the KVM HV machine of e4f0c6bb's report: POWER8 host, max-cpu-compat=power7
HV_MACHINE = MachineOptions(cpu="POWER8", accel="kvm-hv", max_cpu_compat="power7")
HV_STORY: tuple[tuple[str, str], ...] = (
    ("2.10", "5dfaa532 passes the OLD compat_pvr to KVM: reset writes 0 while QEMU records "
             "power7, so the kernel keeps the vcore raw and ISA 2.07 instructions "
             "(vncipher) still run: the bug e4f0c6bb fixed."),
    ("2.11", "e4f0c6bb passes the new value: the kernel holds power7 and its PCR makes the "
             "vcore an ISA 2.06 processor."),
)


@dataclass(frozen=True, slots=True)
class Row:
    profile: str
    why: str
    sim: Simulation

    def to_json(self) -> dict[str, object]:
        final = self.sim.vcpus[0] if self.sim.vcpus else None
        return {
            "qemu": self.profile,
            "started": self.sim.started,
            "error": self.sim.error,
            "one_reg": [{"event": e.name, **c.to_json()} for e in self.sim.events
                        for c in e.one_reg],
            "one_reg_total": self.sim.one_reg_total,
            "final": final.to_json() if final else None,
            "why": self.why,
        }


def _run(machine: MachineOptions, story: tuple[tuple[str, str], ...]) -> list[Row]:
    return [Row(profile, why, simulate(replace(machine, qemu=profile), EVENTS))
            for profile, why in story]


def _machine_json(machine: MachineOptions) -> dict[str, object]:
    return {"cpu": machine.cpu, "accel": machine.accel,
            "max_cpu_compat": machine.max_cpu_compat, "guest": DEFAULT_GUEST}


def demo(args: Namespace) -> int:
    """The 2017 KVM PR story under QEMU 2.10-pre, 2.10, 2.11 and head, side by side."""
    pr_rows = _run(PR_MACHINE, PR_STORY)
    hv_rows = _run(HV_MACHINE, HV_STORY)
    if args.as_json:
        emit_json({"events": list(EVENTS),
                   "kvm_pr": {"machine": _machine_json(PR_MACHINE),
                              "rows": [r.to_json() for r in pr_rows]},
                   "kvm_hv": {"machine": _machine_json(HV_MACHINE),
                              "rows": [r.to_json() for r in hv_rows]}})
        return 0
    from powercompat.cli import tables

    tables.show(
        tables.text("1. KVM PR, 2017: can a guest even start?", "bold"),
        "One machine under each QEMU: -cpu POWER8 on a POWER8 host running KVM PR, no "
        "max-cpu-compat, a Debian Linux 6.1 guest; events realize, reset, cas, reboot.",
        "",
        _pr_table(pr_rows),
        "",
        *_story(pr_rows),
        "",
        tables.text("2. KVM HV, POWER8 host, max-cpu-compat=power7: does the kernel agree "
                    "with QEMU?", "bold"),
        "",
        _hv_table(hv_rows),
        "",
        *_story(hv_rows),
        "",
        "Every value in the tables comes from the engine (scenario.simulate). One row in full:",
        "  powercompat simulate --cpu POWER8 --accel kvm-pr --qemu 2.10 "
        "--events realize,reset,cas,reboot",
    )
    return 0


def _story(rows: list[Row]) -> list[str]:
    """One line per row: why, with the commit; then QEMU's own words when it failed."""
    width = max(len(r.profile) for r in rows) + 2
    lines: list[str] = []
    for row in rows:
        lines.append(f"  {row.profile.ljust(width)}{row.why}")
        if row.sim.error:
            lines.append(f"  {'':{width}}QEMU: {row.sim.error}")
    return lines


def _calls(sim: Simulation) -> str:
    lines = [f"{e.name}: {c.op.upper()} "
             f"{'-' if c.value is None else hex32(c.value)} -> "
             f"{errno_name(c.errno) if c.errno else 'ok'}"
             for e in sim.events for c in e.one_reg]
    return "\n".join(lines) if lines else "none"


def _starts(sim: Simulation) -> str:
    if not sim.started:
        return "NO, QEMU exits"
    return "yes, CAS fails" if sim.error else "yes"


def _kernel(arch_compat: int | None, pcr: int | None, enforced: bool | None) -> str:
    if arch_compat is None:
        return "-"
    text = mode_label(arch_compat).split(" ")[0]
    if pcr is None:
        return text + (", enforced" if enforced else ", not enforced (no PCR)")
    bits = [b for b in decode_pcr(pcr, "linux") if not b.startswith("reserved")]
    return f"{text}\nPCR {hex64(pcr)}\n({' '.join(bits) or 'reserved bits only'})"


def _pr_table(rows: list[Row]) -> Table:
    from powercompat.cli import tables

    grid = tables.table("QEMU", "starts", "ONE_REG", "calls (vCPU 0)", "QEMU mode",
                        "kernel (KVM PR)")
    for row in rows:
        v = row.sim.vcpus[0]
        grid.add_row(row.profile, _starts(row.sim), str(row.sim.one_reg_total),
                     _calls(row.sim), mode_label(v.compat_pvr),
                     _kernel(v.kernel_arch_compat, v.kernel_pcr, v.kernel_enforced))
    return grid


def _hv_table(rows: list[Row]) -> Table:
    from powercompat.cli import tables

    grid = tables.table("QEMU", "ONE_REG", "calls (vCPU 0)", "QEMU mode", "kernel (KVM HV)")
    for number, row in enumerate(rows):
        if number:
            grid.add_row()
        v = row.sim.vcpus[0]
        grid.add_row(row.profile, str(row.sim.one_reg_total), _calls(row.sim),
                     f"{mode_label(v.compat_pvr)}\nPCR {hex64(v.pcr)}\n"
                     f"({' '.join(decode_pcr(v.pcr))})",
                     _kernel(v.kernel_arch_compat, v.kernel_pcr, v.kernel_enforced))
    return grid


COMMAND = Command("The 2017 KVM PR story, told by the engine.", configure=add_json, run=demo,
                  description="The 2017 KVM PR story under QEMU 2.10-pre, 2.10, 2.11 and "
                  "head, side by side.")
