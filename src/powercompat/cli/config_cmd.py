"""``powercompat qemu-args`` and ``powercompat libvirt-xml``: how QEMU and libvirt spell a
configuration, checked by the engine first (QEMU must start it; libvirt must accept it)."""

from __future__ import annotations

import shlex

import click

from powercompat.cli.common import (
    accel_option,
    cpu_option,
    emit_json,
    fail,
    host_cpu_option,
    json_option,
    max_compat_option,
    qemu_option,
    want_json,
)
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


@click.command(short_help="The QEMU command-line fragment for a configuration.")
@cpu_option
@max_compat_option
@accel_option()
@host_cpu_option
@qemu_option
@json_option
def qemu_args(cpu: str, max_cpu_compat: str | None, accel: str, host_cpu: str | None,
                  qemu: str, as_json: bool) -> int:
    """The QEMU command-line fragment for CPU, max-cpu-compat and accelerator.

    Exit status 1 when that QEMU would refuse to start the machine.
    """
    want_json(as_json)
    config, refusal = _config(cpu, max_cpu_compat, accel, host_cpu, qemu)
    args = _args(config, cpu)
    if as_json:
        emit_json({"args": args, "cpu": config.model.name, "qemu": config.profile.name,
                   "starts": refusal is None, "error": refusal})
    else:
        click.echo(shlex.join(args))
    return fail(f"QEMU {config.profile.name} refuses: {refusal}") if refusal else 0


@click.command(short_help="The libvirt <cpu> element, with libvirt's verdict.")
@cpu_option
@max_compat_option
@accel_option("kvm-hv")
@host_cpu_option
@qemu_option
@json_option
def libvirt_xml(cpu: str, max_cpu_compat: str | None, accel: str, host_cpu: str | None,
                qemu: str, as_json: bool) -> int:
    """The libvirt <cpu> element for max-cpu-compat, with libvirt's and QEMU's verdicts.

    libvirt checks the mode against the host model (ppc64CheckCompatibilityMode); the host
    model is the family of --host-cpu (default --cpu). Exit status 1 when libvirt or QEMU
    refuses.
    """
    want_json(as_json)
    config, refusal = _config(cpu, max_cpu_compat, accel, host_cpu, qemu)
    compat = config.max_compat.name if config.max_compat else None
    host_model = config.host.family.name
    verdict = libvirt_decisions.check_libvirt_compat(host_model, compat)
    xml = libvirt_decisions.libvirt_cpu_xml(compat)
    args = _args(config, "host" if config.accel != "tcg" else cpu)
    if as_json:
        emit_json({"xml": xml, "host_model": host_model, "libvirt": verdict.result.value,
                   "libvirt_error": verdict.message, "qemu_args": args,
                   "qemu": config.profile.name, "qemu_starts": refusal is None,
                   "qemu_error": refusal, "error": verdict.message or refusal})
    else:
        libvirt_line = (f"accepts ({verdict.result.value})" if verdict.message is None
                        else f"refuses ({verdict.result.value}): {verdict.message}")
        qemu_line = "starts it" if refusal is None else f"refuses: {refusal}"
        click.echo(f"{xml}\n\n"
                   f"libvirt on a {host_model} host: {libvirt_line}\n"
                   f"QEMU {config.profile.name}: {qemu_line}\n"
                   f"QEMU arguments libvirt generates: {shlex.join(args)}")
    if verdict.message:
        return fail(verdict.message)
    if refusal:
        return fail(f"QEMU {config.profile.name} refuses: {refusal}")
    return 0
