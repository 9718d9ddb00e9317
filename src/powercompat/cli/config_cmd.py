"""``powercompat qemu-args`` and ``powercompat libvirt-xml``: how libvirt spells a
configuration and what it generates, checked by libvirt's model (decisions/libvirt.py, checked
against a real libvirtd) and then by the engine (QEMU must start what libvirt passes it)."""

from __future__ import annotations

import platform
import re
import shlex
import sys
from argparse import ArgumentParser, Namespace
from typing import NamedTuple

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
from powercompat.decisions.cpu_match import as_host_cpu
from powercompat.decisions.verdict import Fate, Verdict, refusal_fate
from powercompat.errors import InvalidValueError, PowerCompatError
from powercompat.machine.options import MachineConfig, MachineOptions, parse_options
from powercompat.messages import unknown_cpu_model
from powercompat.scenario import negotiate

#: what libvirt's KVM flavour depends on: it passes no kvm-type (qemuBuildMachineCommandLine)
_PR_NOTE = ("libvirt passes no kvm-type: KVM picks HV whenever kvm_hv is loaded "
            "(KVM_CREATE_VM type 0), so PR needs a host with only kvm_pr")


class _Answer(NamedTuple):
    """What libvirt and QEMU make of the configuration: libvirt's proposal, the note when
    the guest CPU is run as -cpu host under KVM, QEMU's refusal (if any) and the verdict."""

    config: MachineConfig
    host: lv.LibvirtHost
    proposal: lv.LibvirtProposal
    refusal: str | None
    fate: Fate
    as_host: str | None
    #: KVM cannot run the guest CPU as the host's processor: no arguments, no domain
    unrunnable: bool = False

    @property
    def notes(self) -> list[str]:
        return [n for n in (self.as_host, self.proposal.note) if n]


def _libvirt(args: Namespace) -> _Answer:
    """Parse the options, ask libvirt's model what it makes of the domain, then start the
    machine QEMU gets from libvirt. Under KVM libvirt's domain is host-model (-cpu host):
    a guest CPU that is not the host's becomes the host with that CPU's mode as the maximum
    (KVM HV runs only the host's processor), said in a note, or is refused."""
    cpu, accel, host_cpu, qemu = args.cpu, args.accel, args.host_cpu, args.qemu
    config = parse_options(MachineOptions(cpu=cpu, max_cpu_compat=args.max_cpu_compat,
                                          accel=accel, host_cpu=host_cpu, qemu=qemu))
    kvm = config.accel != "tcg"
    arch = args.host_arch or ("ppc64le" if kvm else platform.machine())
    if not re.fullmatch(r"[a-z0-9_]+", arch):
        raise InvalidValueError(f"invalid --host-arch '{arch}'")
    host = lv.LibvirtHost(arch, lv.qemu_facts(config.profile),
                          config.host.family.name if kvm else None)
    max_compat = config.max_compat
    as_host = None
    if kvm:
        answer = as_host_cpu(config.model, config.host, max_compat, config.profile.rules)
        if answer.refusal is not None:
            proposal = lv.propose(cpu, max_compat.name if max_compat else None, "kvm", host)
            return _Answer(config, host, proposal, answer.refusal,
                           Fate(Verdict.QEMU_REFUSES, answer.refusal), None, unrunnable=True)
        max_compat, as_host = answer.max_compat, answer.note
    compat = max_compat.name if max_compat else None
    proposal = lv.propose(cpu, compat, "kvm" if kvm else "qemu", host)
    outcome = proposal.outcome
    if not outcome.ok:
        fate = Fate(Verdict.LIBVIRT_REFUSES, f"libvirt: {outcome.error}")
        return _Answer(config, host, proposal, None, fate, as_host)
    if not kvm and outcome.qemu_cpu == "host":  # QEMU registers "host" only under KVM
        refusal = unknown_cpu_model("host")
        return _Answer(config, host, proposal, refusal, Fate(Verdict.QEMU_REFUSES, refusal),
                       as_host)
    try:
        boot = negotiate("host" if kvm else cpu, outcome.max_cpu_compat, accel=accel,
                         host_cpu=host_cpu or cpu if kvm else None, qemu=qemu)
    except PowerCompatError as err:
        refused = refusal_fate(err)
        if refused is None:
            raise
        return _Answer(config, host, proposal, str(err), refused, as_host)
    return _Answer(config, host, proposal, None if boot.started else boot.error, boot.fate,
                   as_host)


def _failure(answer: _Answer) -> str:
    """The one line on stderr for a verdict other than works."""
    outcome = answer.proposal.outcome
    if answer.fate.verdict is Verdict.LIBVIRT_REFUSES:
        return f"libvirt refuses: {outcome.error}"
    if answer.refusal is not None and not answer.unrunnable:
        return f"QEMU {answer.config.profile.name} refuses: {answer.refusal}"
    return answer.fate.reason


def _notes(args: Namespace, answer: _Answer) -> list[str]:
    return [*answer.notes, *([_PR_NOTE] if args.accel.startswith("kvm-pr") else [])]


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
    answer = _libvirt(args)
    config, outcome, refusal, fate = (answer.config, answer.proposal.outcome, answer.refusal,
                                      answer.fate)
    shown = list(outcome.args) if outcome.ok and not answer.unrunnable else []
    if args.as_json:
        emit_json({"args": shown, "cpu": config.model.name,
                   "qemu": config.profile.name, "machine": outcome.machine,
                   "max_cpu_compat": outcome.max_cpu_compat if shown else None,
                   "libvirt_error": outcome.error, "starts": bool(shown) and refusal is None,
                   "notes": _notes(args, answer), "error": outcome.error or refusal,
                   **fate.to_json()})
    else:
        if shown:
            print(shlex.join(shown))
        if answer.as_host is not None:  # the guest CPU became -cpu host: say so
            sys.stderr.write(f"powercompat: note: {answer.as_host}\n")
    if not fate.works:
        fail(_failure(answer))
    return fate.exit_status


def libvirt_xml(args: Namespace) -> int:
    answer = _libvirt(args)
    config, host, proposal, refusal = answer.config, answer.host, answer.proposal, answer.refusal
    fate, outcome, shown = answer.fate, proposal.outcome, not answer.unrunnable
    virt = proposal.domain.virt_type
    notes = _notes(args, answer)
    if args.as_json:
        emit_json({"xml": proposal.xml if shown else None, "virt_type": virt,
                   "host_arch": host.arch,
                   "host_model": lv.host_cpu_model(host), "libvirt": outcome.stage,
                   "libvirt_error": outcome.error, "machine": outcome.machine,
                   "qemu_args": list(outcome.args) if shown else [],
                   "qemu": config.profile.name,
                   "qemu_starts": shown and outcome.ok and refusal is None,
                   "qemu_error": refusal, "notes": notes, "reasons": list(outcome.reasons),
                   "error": outcome.error or refusal, **fate.to_json()})
    else:
        lines = [proposal.xml, "", _libvirt_line(host, virt, outcome)] if shown else []
        if outcome.ok and shown:
            lines.append(f"QEMU {config.profile.name}: " + (
                "starts it" if refusal is None else f"refuses: {refusal}"))
            lines.append(f"QEMU arguments libvirt generates: {shlex.join(outcome.args)}")
        lines += [f"note: {n}" for n in notes]
        lines.append(f"verdict: {fate.verdict}: {fate.reason}")
        print("\n".join(lines))
    if not fate.works:
        fail(_failure(answer))
    return fate.exit_status


QEMU_ARGS = Command(
    "The QEMU arguments libvirt generates for a configuration.", configure=_configure("tcg"),
    run=qemu_args,
    description="The -machine, -accel and -cpu arguments libvirt generates for --cpu, "
    "--max-cpu-compat and --accel (the domain libvirt-xml proposes), versioned machine type "
    "included; libvirt never passes kvm-type. Under KVM the domain is host-model (-cpu "
    "host): a --cpu that is not the host's becomes -cpu host with that CPU's mode as "
    "max-cpu-compat, said in a note, or is refused.\n\n"
    "Exit status 0 only when the verdict is 'works' (libvirt and QEMU start it and the guest "
    "boots), 1 for any other verdict.")
LIBVIRT_XML = Command(
    "The libvirt domain XML for a configuration, with libvirt's verdict.",
    configure=_configure("kvm-hv"), run=libvirt_xml,
    description="The libvirt domain XML for --cpu and --max-cpu-compat, with libvirt's and "
    "QEMU's verdicts.\n\nUnder KVM, host-model with a compat <model> (libvirt's only "
    "spelling of max-cpu-compat; the host model is the family of --host-cpu, default --cpu). "
    "Under TCG (a type='qemu' domain), a custom CPU named through libvirt's CPU map, and "
    "<qemu:commandline> for a maximum libvirt cannot express. A --cpu that is not the KVM "
    "host's becomes host-model with that CPU's mode, said in a note, or is refused. Exit "
    "status 0 only when the verdict is 'works', 1 for any other verdict.")
