"""``powercompat simulate``: a timeline of lifecycle events, each with its decisions, its
ONE_REG calls and the state of every vCPU afterwards."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import TYPE_CHECKING

from powercompat.catalog.kvm import reg_name
from powercompat.catalog.modes import CompatMode
from powercompat.cli.common import (
    accel_title,
    add_json,
    add_machine_options,
    emit_json,
    errno_name,
    fail,
    mode_label,
    parse_pvr_list,
    plural,
)
from powercompat.cli.main import Command
from powercompat.machine.options import MachineOptions
from powercompat.machine.state import Event, VcpuState
from powercompat.messages import hex32, hex64
from powercompat.scenario import DEFAULT_EVENTS, EVENT_NAMES, Simulation, parse_events
from powercompat.scenario import simulate as run_simulation

if TYPE_CHECKING:
    from powercompat.cli.tables import Item, Table


def configure(parser: ArgumentParser) -> None:
    add_machine_options(parser)
    parser.add_argument("--events", default=",".join(DEFAULT_EVENTS), metavar="LIST",
                        help=f"Comma-separated events, in order: {', '.join(EVENT_NAMES)} "
                        "(default: %(default)s).")
    parser.add_argument("--dst-cpu", default=None, metavar="CPU",
                        help="Destination CPU for 'migrate' (default: --cpu).")
    parser.add_argument("--dst-host-cpu", default=None, metavar="CPU",
                        help="Destination host CPU under KVM, a model or its PVR (default: "
                        "--dst-cpu, or the source's host when --dst-cpu is host or not "
                        "given).")
    parser.add_argument("--dst-qemu", default=None, metavar="R",
                        help="Destination QEMU release for 'migrate' (default: --qemu).")
    parser.add_argument("--machine", default="pseries", metavar="TYPE",
                        help="Machine type on both sides: pseries-X.Y, or plain pseries, "
                        "each release's newest (default: %(default)s).")
    add_json(parser)


def events(text: str) -> tuple[str, ...]:
    """``--events`` through scenario.parse_events, a piece of at most MAX_TEXT_CHARS at a
    time (the library caps one string there; a timeline of 7,000 reboot,cas pairs is longer)."""
    from powercompat.inputs import MAX_TEXT_CHARS

    if len(text) <= MAX_TEXT_CHARS:
        return parse_events(text)
    names: list[str] = []
    piece: list[str] = []
    size = 0
    for item in text.split(","):
        if piece and size + 1 + len(item) > MAX_TEXT_CHARS:
            names += parse_events(",".join(piece))
            piece, size = [], 0
        piece.append(item)
        size += len(item) + (1 if len(piece) > 1 else 0)
    return (*names, *parse_events(",".join(piece)))


def run(args: Namespace) -> int:
    names = events(args.events)
    buffer = parse_pvr_list(args.pvr_list) if args.pvr_list is not None else None
    options = MachineOptions(cpu=args.cpu, smp=args.smp, threads=args.threads,
                             max_cpu_compat=args.max_cpu_compat, accel=args.accel,
                             host_cpu=args.host_cpu, qemu=args.qemu,
                             host_kernel=args.host_kernel, host_platform=args.host_platform,
                             machine=args.machine, host_page_size=args.host_page_size,
                             hpt_max_page_size=args.hpt_max_page_size)
    sim = run_simulation(options, names, args.guest, buffer, args.dst_cpu, args.dst_host_cpu,
                         args.dst_qemu)
    if args.as_json:
        emit_json(sim.to_json())
    else:
        render(sim, options, names)
    if not sim.fate.works:
        fail(sim.verdict_reason)
    return sim.fate.exit_status


COMMAND = Command(
    "A lifecycle timeline with ONE_REG calls and vCPU states.", configure=configure, run=run,
    description="Run lifecycle events and show each one's decisions, ONE_REG calls and "
    "vCPUs, and the verdict: the first thing that goes wrong for the guest (works, "
    "qemu-refuses, qemu-exits, migration-refused, kernel-hangs, cas-fails, userland-dies)."
    "\n\nExit status 0 only when the verdict is 'works', 1 for any other verdict.")


def render(sim: Simulation, options: MachineOptions, names: tuple[str, ...]) -> None:
    from powercompat.cli import tables
    from powercompat.profiles import parse_profile

    modes = parse_profile(options.qemu).rules.modes
    first = sim.machines[0].config
    head = (f"{first.model.name} x{first.smp} ({plural(first.threads, 'thread')}/core), "
            f"max-cpu-compat={first.max_compat.name if first.max_compat else 'none'}, "
            f"{accel_title(first.accel)}"
            + (f" on a {first.host.family.name} host" if first.accel != "tcg" else "")
            + f", QEMU profile {first.profile.name}")
    items: list[Item] = [head, f"events: {', '.join(names)}", ""]
    for number, event in enumerate(sim.events, 1):
        items.extend(_event_items(number, event, modes))
    verdict = ("started" if sim.started else "did not start") + (
        f"; failed: {sim.error}" if sim.error else "; no failure")
    items.append(f"Verdict: {sim.verdict}: {sim.verdict_reason}")
    items.append(f"Summary: {verdict}; {plural(sim.one_reg_total, 'ONE_REG call')} in all.")
    tables.show(*items)


def _event_items(number: int, event: Event, modes: tuple[CompatMode, ...]
                 ) -> list[Item]:
    from powercompat.cli import tables

    status = "ok" if event.ok else f"FAILED: {event.error}"
    items: list[Item] = [
        tables.text(f"[{number}] {event.name} ({event.machine}): {status}",
                    "bold" if event.ok else "bold red")]
    items.extend(f"    - {reason}" for reason in event.reasons)
    if event.one_reg:
        calls = tables.table("vCPU", "ioctl", "register", "value", "errno")
        for call in event.one_reg:
            calls.add_row(str(call.vcpu), f"KVM_{call.op.upper()}_ONE_REG",
                          reg_name(call.reg_id),
                          "-" if call.value is None else hex32(call.value),
                          errno_name(call.errno))
        items.append(tables.indent(calls))
    else:
        items.append("    ONE_REG: none")
    items.append(tables.indent(vcpu_table(event.vcpus, modes)))
    items.append("")
    return items


def vcpu_table(vcpus: tuple[VcpuState, ...], modes: tuple[CompatMode, ...]) -> Table:
    """One row per vCPU: QEMU's compat and PCR, the kernel's arch_compat and PCR."""
    from powercompat.cli import tables

    grid = tables.table("vCPU", "QEMU compat", "QEMU PCR", "cpu-version",
                        "kernel arch_compat", "kernel PCR", "enforced")
    for v in vcpus:
        kernel = "-" if v.kernel_arch_compat is None else mode_label(v.kernel_arch_compat, modes)
        kpcr = "-" if v.kernel_arch_compat is None else (
            "none" if v.kernel_pcr is None else hex64(v.kernel_pcr))
        enforced = "-" if v.kernel_enforced is None else (
            "yes" if v.kernel_enforced else
            ("NO (requested, not enforced)" if v.kernel_arch_compat else "no"))
        grid.add_row(str(v.index), mode_label(v.compat_pvr, modes), hex64(v.pcr),
                     hex32(v.cpu_version), kernel, kpcr, enforced)
    return grid
