"""``powercompat migrate-check``: can a booted guest move, and what to set if it cannot."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from powercompat.cli.common import (
    accel_title,
    add_accel,
    add_cpu,
    add_guest,
    add_host_cpu,
    add_host_kernel,
    add_json,
    add_max_compat,
    add_qemu,
    emit_json,
    fail,
)
from powercompat.cli.main import Command
from powercompat.scenario import MigrationCheck
from powercompat.scenario import migrate_check as run_check


def configure(parser: ArgumentParser) -> None:
    add_cpu(parser)
    parser.add_argument("--dst-cpu", default=None, metavar="CPU",
                        help="Destination CPU model, or host under KVM (default: --cpu).")
    add_max_compat(parser)
    parser.add_argument("--dst-max-cpu-compat", default=None, metavar="MODE",
                        help="The destination's max-cpu-compat (default: the source's; "
                        "'none': unset on the destination).")
    add_guest(parser)
    add_qemu(parser)
    parser.add_argument("--src-qemu", default=None, metavar="R",
                        help="The source's QEMU release (default: --qemu).")
    parser.add_argument("--dst-qemu", default=None, metavar="R",
                        help="The destination's QEMU release (default: --qemu).")
    parser.add_argument("--machine", default="pseries", metavar="TYPE",
                        help="Machine type on both sides: pseries-X.Y, or plain pseries, "
                        "each release's newest (default: %(default)s).")
    parser.add_argument("--before-boot", action="store_true",
                        help="The source was created paused (-S) and never ran: no CAS.")
    add_accel(parser, "kvm-hv")
    add_host_cpu(parser)
    parser.add_argument("--dst-host-cpu", default=None, metavar="CPU",
                        help="Destination host CPU under KVM, a model or its PVR (default: "
                        "--dst-cpu, or the source's host when --dst-cpu is host).")
    add_host_kernel(parser)
    add_json(parser)


def run(args: Namespace) -> int:
    dst_max = "" if args.dst_max_cpu_compat == "none" else args.dst_max_cpu_compat
    check = run_check(args.cpu, args.dst_cpu or args.cpu, args.max_cpu_compat, args.guest,
                      args.qemu, args.accel, dst_max, host_cpu=args.host_cpu,
                      dst_host_cpu=args.dst_host_cpu, host_kernel=args.host_kernel,
                      host_platform=args.host_platform, src_qemu=args.src_qemu,
                      dst_qemu=args.dst_qemu, machine=args.machine,
                      before_boot=args.before_boot, host_page_size=args.host_page_size,
                      hpt_max_page_size=args.hpt_max_page_size)
    if args.as_json:
        emit_json(check.to_json())
    else:
        print(render(check))
    if not check.fate.works:
        fail(check.error if not check.ok and check.error else check.verdict_reason)
    return check.fate.exit_status


COMMAND = Command(
    "Can a booted guest migrate, and what to set if not.", configure=configure, run=run,
    description="Boot on --cpu under QEMU --src-qemu, negotiate at CAS, migrate to --dst-cpu "
    "under QEMU --dst-qemu, each side with its release's CPU models, machine types and "
    "rules: accepted, or the side and rule that refuse, in that release's words, and what "
    "to set; the verdict is the guest's: its boot on the source, then the move "
    "(migration-refused: it stays on the source), then its userland on the destination."
    "\n\nExit status 0 only when the verdict is 'works', 1 for any other verdict.")


def render(check: MigrationCheck) -> str:
    src = check.source
    releases = (f"QEMU {check.src_qemu} -> {check.dst_qemu}" if check.src_qemu != check.dst_qemu
                else f"QEMU profile {check.src_qemu}")
    lines = [
        f"{src.cpu} -> {check.destination_cpu}, {accel_title(src.accel)}, {releases}, "
        f"-M {check.machine}, guest {src.guest}, max-cpu-compat={src.max_cpu_compat or 'none'}",
        "",
    ]
    if check.before_boot:
        lines.append(f"source:      created paused, never ran: raw mode (compat_pvr "
                     f"{src.to_json()['initial_compat_pvr']})")
    elif check.side != "source" or check.rule == "guest":
        lines.append(f"source:      booted in {src.compat or 'raw mode'} (compat_pvr "
                     f"{src.to_json()['compat_pvr']}) after CAS")
    if check.ok:
        lines.append("migration:   ACCEPTED: the destination loads the CPU state")
        if check.idle_guest_stops:
            lines.append(f"after:       an idle guest does not run on: {check.idle_guest_stops}")
    else:
        lines.append(f"migration:   REFUSED by the {check.side} ({check.rule}): {check.error}")
        lines.extend(f"             {line}" for line in check.lines[1:])
        lines.extend(f"advice:      {a}" for a in check.advice)
    lines.append(f"verdict:     {check.verdict}: {check.verdict_reason}")
    return "\n".join(lines)
