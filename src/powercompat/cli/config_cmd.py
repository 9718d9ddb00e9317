"""``powercompat qemu-args`` and ``powercompat libvirt-xml``: how QEMU and libvirt spell a
configuration, checked by the engine first (QEMU must start it; libvirt must accept it)."""

from __future__ import annotations

import shlex
from argparse import ArgumentParser, Namespace

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
from powercompat.decisions import libvirt as libvirt_decisions
from powercompat.machine.options import MachineConfig, MachineOptions, parse_options
from powercompat.scenario import negotiate


def _config(cpu: str, max_cpu_compat: str | None, accel: str, host_cpu: str | None,
            qemu: str) -> tuple[MachineConfig, str | None]:
    """Parse the options, then start the machine: QEMU's refusal, if any."""
    config = parse_options(MachineOptions(cpu=cpu, max_cpu_compat=max_cpu_compat,
                                          accel=accel, host_cpu=host_cpu, qemu=qemu))
    boot = negotiate(cpu, max_cpu_compat, accel=accel, host_cpu=host_cpu, qemu=qemu)
    refusal = None if boot.started else boot.error
    return config, refusal


def _args(config: MachineConfig, cpu: str) -> list[str]:
    compat = config.max_compat.name if config.max_compat else None
    return libvirt_decisions.qemu_args(cpu, compat, config.accel)


def _configure(accel: str) -> Configure:
    def configure(parser: ArgumentParser) -> None:
        add_cpu(parser)
        add_max_compat(parser)
        add_accel(parser, accel)
        add_host_cpu(parser)
        add_qemu(parser)
        add_json(parser)

    return configure


def qemu_args(args: Namespace) -> int:
    config, refusal = _config(args.cpu, args.max_cpu_compat, args.accel, args.host_cpu,
                              args.qemu)
    words = _args(config, args.cpu)
    if args.as_json:
        emit_json({"args": words, "cpu": config.model.name, "qemu": config.profile.name,
                   "starts": refusal is None, "error": refusal})
    else:
        print(shlex.join(words))
    return fail(f"QEMU {config.profile.name} refuses: {refusal}") if refusal else 0


def libvirt_xml(args: Namespace) -> int:
    cpu = args.cpu
    config, refusal = _config(cpu, args.max_cpu_compat, args.accel, args.host_cpu, args.qemu)
    compat = config.max_compat.name if config.max_compat else None
    host_model = config.host.family.name
    verdict = libvirt_decisions.check_libvirt_compat(host_model, compat)
    xml = libvirt_decisions.libvirt_cpu_xml(compat)
    words = _args(config, "host" if config.accel != "tcg" else cpu)
    if args.as_json:
        emit_json({"xml": xml, "host_model": host_model, "libvirt": verdict.result.value,
                   "libvirt_error": verdict.message, "qemu_args": words,
                   "qemu": config.profile.name, "qemu_starts": refusal is None,
                   "qemu_error": refusal, "error": verdict.message or refusal})
    else:
        libvirt_line = (f"accepts ({verdict.result.value})" if verdict.message is None
                        else f"refuses ({verdict.result.value}): {verdict.message}")
        qemu_line = "starts it" if refusal is None else f"refuses: {refusal}"
        print(f"{xml}\n\n"
              f"libvirt on a {host_model} host: {libvirt_line}\n"
              f"QEMU {config.profile.name}: {qemu_line}\n"
              f"QEMU arguments libvirt generates: {shlex.join(words)}")
    if verdict.message:
        return fail(verdict.message)
    if refusal:
        return fail(f"QEMU {config.profile.name} refuses: {refusal}")
    return 0


QEMU_ARGS = Command(
    "The QEMU command-line fragment for a configuration.", configure=_configure("tcg"),
    run=qemu_args,
    description="The QEMU command-line fragment for --cpu, --max-cpu-compat and --accel.\n\n"
    "Exit status 1 when that QEMU would refuse to start the machine.")
LIBVIRT_XML = Command(
    "The libvirt <cpu> element, with libvirt's verdict.", configure=_configure("kvm-hv"),
    run=libvirt_xml,
    description="The libvirt <cpu> element for max-cpu-compat, with libvirt's and QEMU's "
    "verdicts.\n\nlibvirt checks the mode against the host model "
    "(ppc64CheckCompatibilityMode); the host model is the family of --host-cpu (default "
    "--cpu). Exit status 1 when libvirt or QEMU refuses.")
