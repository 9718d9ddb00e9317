"""``powercompat qemu-args`` and ``powercompat libvirt-xml``: how libvirt spells a
configuration and what it generates, checked by libvirt's model (decisions/libvirt.py, checked
against a real libvirtd) and then by the engine (QEMU must start what libvirt passes it)."""

from __future__ import annotations

import platform
import re
import shlex
from argparse import ArgumentParser, Namespace

from powercompat.catalog.libvirt import LIBVIRT_VERSION
from powercompat.cli.common import (
    add_accel,
    add_cpu,
    add_host_cpu,
    add_json,
    add_max_compat,
    add_qemu,
    emit_json,
    fail,
)
from powercompat.cli.main import Command, Configure
from powercompat.decisions import libvirt as lv
from powercompat.errors import InvalidValueError
from powercompat.machine.options import MachineConfig, MachineOptions, parse_options
from powercompat.scenario import negotiate

#: what libvirt's KVM flavour depends on: it passes no kvm-type (qemuBuildMachineCommandLine)
_PR_NOTE = ("libvirt passes no kvm-type: KVM picks HV whenever kvm_hv is loaded "
            "(KVM_CREATE_VM type 0), so PR needs a host with only kvm_pr")


def _libvirt(args: Namespace
             ) -> tuple[MachineConfig, lv.LibvirtHost, lv.LibvirtProposal, str | None]:
    """Parse the options, ask libvirt's model what it makes of the domain, then start the
    machine QEMU gets from libvirt: libvirt's proposal and QEMU's refusal, if any."""
    cpu, accel, host_cpu, qemu = args.cpu, args.accel, args.host_cpu, args.qemu
    config = parse_options(MachineOptions(cpu=cpu, max_cpu_compat=args.max_cpu_compat,
                                          accel=accel, host_cpu=host_cpu, qemu=qemu))
    kvm = config.accel != "tcg"
    arch = args.host_arch or ("ppc64le" if kvm else platform.machine())
    if not re.fullmatch(r"[a-z0-9_]+", arch):
        raise InvalidValueError(f"invalid --host-arch '{arch}'")
    host = lv.LibvirtHost(arch, lv.qemu_facts(config.profile),
                          config.host.family.name if kvm else None)
    compat = config.max_compat.name if config.max_compat else None
    proposal = lv.propose(cpu, compat, "kvm" if kvm else "qemu", host)
    refusal = None
    outcome = proposal.outcome
    if outcome.ok:
        if not kvm and outcome.qemu_cpu == "host":  # QEMU registers "host" only under KVM
            refusal = "unable to find CPU model 'host'"
        else:
            boot = negotiate("host" if kvm else cpu, outcome.max_cpu_compat, accel=accel,
                             host_cpu=host_cpu or cpu if kvm else None, qemu=qemu)
            refusal = None if boot.started else boot.error
    return config, host, proposal, refusal


def _notes(args: Namespace, proposal: lv.LibvirtProposal) -> list[str]:
    return [n for n in (proposal.note, _PR_NOTE if args.accel.startswith("kvm-pr") else None)
            if n]


def _libvirt_line(host: lv.LibvirtHost, virt: str, outcome: lv.LibvirtOutcome) -> str:
    where = f"libvirt {LIBVIRT_VERSION}, {virt} domain, host arch {host.arch}" + (
        f", host CPU {host.cpu}" if host.cpu else "")
    if outcome.ok:
        return f"{where}: starts it"
    return f"{where}: refuses at {outcome.stage}: {outcome.error}"


def _configure(accel: str) -> Configure:
    def configure(parser: ArgumentParser) -> None:
        add_cpu(parser)
        add_max_compat(parser)
        add_accel(parser, accel)
        add_host_cpu(parser)
        parser.add_argument(
            "--host-arch", default=None, metavar="ARCH",
            help="The host's arch as libvirt reads it from uname (x86_64, ppc64le, ...; "
                 "default: ppc64le under KVM, this machine's under TCG).")
        add_qemu(parser)
        add_json(parser)

    return configure


def qemu_args(args: Namespace) -> int:
    config, _host, proposal, refusal = _libvirt(args)
    outcome = proposal.outcome
    if args.as_json:
        emit_json({"args": list(outcome.args), "cpu": config.model.name,
                   "qemu": config.profile.name, "machine": outcome.machine,
                   "libvirt_error": outcome.error, "starts": outcome.ok and refusal is None,
                   "notes": _notes(args, proposal), "error": outcome.error or refusal})
    elif outcome.ok:
        print(shlex.join(outcome.args))
    if not outcome.ok:
        return fail(f"libvirt refuses: {outcome.error}")
    return fail(f"QEMU {config.profile.name} refuses: {refusal}") if refusal else 0


def libvirt_xml(args: Namespace) -> int:
    config, host, proposal, refusal = _libvirt(args)
    outcome = proposal.outcome
    virt = proposal.domain.virt_type
    notes = _notes(args, proposal)
    if args.as_json:
        emit_json({"xml": proposal.xml, "virt_type": virt, "host_arch": host.arch,
                   "host_model": lv.host_cpu_model(host), "libvirt": outcome.stage,
                   "libvirt_error": outcome.error, "machine": outcome.machine,
                   "qemu_args": list(outcome.args), "qemu": config.profile.name,
                   "qemu_starts": outcome.ok and refusal is None, "qemu_error": refusal,
                   "notes": notes, "reasons": list(outcome.reasons),
                   "error": outcome.error or refusal})
    else:
        lines = [proposal.xml, "", _libvirt_line(host, virt, outcome)]
        if outcome.ok:
            lines.append(f"QEMU {config.profile.name}: " + (
                "starts it" if refusal is None else f"refuses: {refusal}"))
            lines.append(f"QEMU arguments libvirt generates: {shlex.join(outcome.args)}")
        lines += [f"note: {n}" for n in notes]
        print("\n".join(lines))
    if not outcome.ok:
        return fail(f"libvirt refuses: {outcome.error}")
    if refusal:
        return fail(f"QEMU {config.profile.name} refuses: {refusal}")
    return 0


QEMU_ARGS = Command(
    "The QEMU arguments libvirt generates for a configuration.", configure=_configure("tcg"),
    run=qemu_args,
    description="The -machine, -accel and -cpu arguments libvirt generates for --cpu, "
    "--max-cpu-compat and --accel (the domain libvirt-xml proposes), versioned machine type "
    "included; libvirt never passes kvm-type.\n\n"
    "Exit status 1 when libvirt or that QEMU would refuse to start the machine.")
LIBVIRT_XML = Command(
    "The libvirt domain XML for a configuration, with libvirt's verdict.",
    configure=_configure("kvm-hv"), run=libvirt_xml,
    description="The libvirt domain XML for --cpu and --max-cpu-compat, with libvirt's and "
    "QEMU's verdicts.\n\nUnder KVM, host-model with a compat <model> (libvirt's only "
    "spelling of max-cpu-compat; the host model is the family of --host-cpu, default --cpu). "
    "Under TCG (a type='qemu' domain), a custom CPU named through libvirt's CPU map, and "
    "<qemu:commandline> for a maximum libvirt cannot express. Exit status 1 when libvirt or "
    "QEMU refuses.")
