"""``powercompat pcr``: PCR bits by name, in QEMU's view and in KVM HV's.

Two subcommands: ``pcr decode VALUE`` names the bits of a value, ``pcr show --cpu --mode``
computes both views for a configuration. ``pcr --cpu X --mode Y`` is a shorthand for
``pcr show``.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from powercompat.cli.common import (
    BIT_NUMBERING,
    add_host_cpu,
    add_json,
    add_qemu,
    bit_names,
    emit_json,
    fail,
    parse_pcr_value,
    pcr_text,
)
from powercompat.cli.main import Command, UsageError
from powercompat.decisions.pcr import decode_pcr
from powercompat.messages import hex32, hex64

_MODE_HELP = "Compat mode name from the table, or 'raw'."


def configure_group(parser: ArgumentParser) -> None:
    """``pcr --cpu X --mode Y`` (the shorthand for ``pcr show``); their own dests, so a
    subcommand's options never pass for the group's."""
    parser.add_argument("--cpu", dest="group_cpu", default=None, metavar="CPU",
                        help="-cpu model or alias (the guest's CPU).")
    parser.add_argument("--mode", dest="group_mode", default=None, metavar="MODE",
                        help=_MODE_HELP)
    parser.add_argument("--host-cpu", dest="group_host_cpu", default=None, metavar="CPU",
                        help="Host CPU under KVM (default: --cpu).")
    add_qemu(parser)
    add_json(parser)


def run_group(args: Namespace) -> int:
    if args.group_cpu is None or args.group_mode is None:
        raise UsageError("give a subcommand (decode, show), or --cpu and --mode",
                         args._parser.prog)
    return show_views(args.group_cpu, args.group_mode, args.group_host_cpu, args.qemu,
                      args.as_json)


def _no_group_options(args: Namespace) -> None:
    if args.group_cpu or args.group_mode or args.group_host_cpu:
        raise UsageError(f"give --cpu/--mode/--host-cpu after '{args.subcommand}'",
                         "powercompat pcr")


def configure_decode(parser: ArgumentParser) -> None:
    parser.add_argument("value", metavar="VALUE", help="A PCR value in hex ('0x' optional).")
    add_json(parser)


def run_decode(args: Namespace) -> int:
    _no_group_options(args)
    number = parse_pcr_value(args.value)
    qemu_bits, linux_bits = decode_pcr(number, "qemu"), decode_pcr(number, "linux")
    unnamed = sorted({int(n[4:]) for n in (*qemu_bits, *linux_bits) if n.startswith("bit ")})
    if args.as_json:
        emit_json({"value": hex64(number), "qemu": list(qemu_bits), "linux": list(linux_bits),
                   "unnamed_bits": [{"ibm": n, "shift": 63 - n} for n in unnamed],
                   "bit_numbering": BIT_NUMBERING})
        return 0
    print(f"{hex64(number)}\n"
          f"  QEMU  (target/ppc/cpu.h):      {', '.join(bit_names(qemu_bits)) or 'no bits'}\n"
          f"  Linux (asm/reg.h, book3s_hv): {', '.join(bit_names(linux_bits)) or 'no bits'}"
          + (f"\n  ({BIT_NUMBERING})" if unnamed else ""))
    return 0


def configure_show(parser: ArgumentParser) -> None:
    parser.add_argument("--cpu", required=True, metavar="CPU", help="-cpu model or alias.")
    parser.add_argument("--mode", required=True, metavar="MODE", help=_MODE_HELP)
    add_host_cpu(parser)
    add_qemu(parser)
    add_json(parser)


def run_show(args: Namespace) -> int:
    _no_group_options(args)
    return show_views(args.cpu, args.mode, args.host_cpu, args.qemu, args.as_json)


DECODE = Command(
    "Name the bits of a PCR value.", configure=configure_decode, run=run_decode,
    description="Name the bits of a PCR VALUE (hex, '0x' optional) in QEMU's and Linux's "
    "spelling; a bit with no name is numbered the IBM way (bit 0 is the most significant) and "
    "as 1<<M.\n\nA negative value is refused.")
SHOW = Command(
    "The PCR for a CPU in a mode, in QEMU's and KVM HV's view.", configure=configure_show,
    run=run_show,
    description="The PCR for --cpu in --mode: QEMU's SPR_PCR and the vcore PCR of Linux KVM "
    "HV.\n\nExit status 1 when QEMU refuses the mode for the CPU or KVM HV refuses it on the "
    "host.")
COMMAND = Command(
    "PCR bits by name, in QEMU's and KVM HV's view.", configure=configure_group,
    run=run_group, subcommands={"decode": DECODE, "show": SHOW},
    description="PCR values by name: 'pcr decode VALUE' or 'pcr show --cpu CPU --mode "
    "MODE'.\n\nWithout a subcommand, '--cpu' and '--mode' run 'pcr show'.")


def show_views(cpu: str, mode: str, host_cpu: str | None, qemu: str, as_json: bool) -> int:
    from powercompat.decisions.cpu_match import resolve_cpu
    from powercompat.decisions.pcr import kvm_hv_pcr, qemu_pcr
    from powercompat.decisions.validity import check_compat
    from powercompat.errors import InvalidValueError
    from powercompat.machine.options import (
        HOST_NEEDS_HOST,
        is_host_cpu,
        parse_max_cpu_compat,
        resolve_host,
        resolve_kvm_cpu,
    )
    from powercompat.messages import compat_not_valid, strerror
    from powercompat.profiles import parse_profile

    profile = parse_profile(qemu)
    if host_cpu is not None:  # the host's processor, a model or its PVR; -cpu host is it
        found = resolve_host(host_cpu, profile)
        model, host = resolve_kvm_cpu(cpu, found, profile), found.processor
    elif is_host_cpu(cpu):
        raise InvalidValueError(HOST_NEEDS_HOST)
    else:
        model = resolve_cpu(cpu, profile.cpu_models, profile.cpu_aliases)
        host = model
    compat = None if mode == "raw" else parse_max_cpu_compat(mode, profile)
    pvr = compat.pvr if compat else 0
    validity = check_compat(model.family, pvr, rules=profile.rules) if compat else None
    qemu_ok = validity is None or validity.ok
    qemu_value = qemu_pcr(model.family, compat)
    hv = kvm_hv_pcr(host.family, pvr)
    errors: list[str] = []
    if not qemu_ok:
        errors.append(compat_not_valid(pvr))
    if hv.errno:
        errors.append(f"KVM HV on a {host.family.name} host refuses ARCH_COMPAT {hex32(pvr)}: "
                      f"{strerror(hv.errno)}")
    if as_json:
        emit_json({
            "cpu": model.name, "family": model.family.name, "host_family": host.family.name,
            "mode": compat.name if compat else None, "compat_pvr": hex32(pvr), "qemu": profile.name,
            "qemu_valid": qemu_ok,
            "qemu_reason": validity.reason.text if validity else "raw mode",
            "table_pcr": hex64(compat.pcr if compat else 0),
            "pcr_mask": hex64(model.family.pcr_mask),
            "qemu_pcr": hex64(qemu_value), "qemu_bits": list(decode_pcr(qemu_value)),
            "kvm_hv_errno": hv.errno,
            "kvm_hv_pcr": None if hv.errno else hex64(hv.pcr),
            "kvm_hv_bits": [] if hv.errno else list(decode_pcr(hv.pcr, "linux")),
            "kvm_hv_reason": hv.reason,
            "error": errors[0] if errors else None,
        })
    else:
        table_pcr = compat.pcr if compat else 0
        lines = [
            f"{model.name} ({model.family.name}) in {compat.name if compat else 'raw mode'} "
            f"({hex32(pvr)}), QEMU profile {profile.name}",
            "",
            "QEMU (ppc_set_compat: the table's PCR & the class's pcr_mask):",
            f"  valid     {validity.reason.text if validity else 'raw mode: always'}",
            f"  table     {pcr_text(table_pcr, decode_pcr(table_pcr))}",
            f"  pcr_mask  {pcr_text(model.family.pcr_mask, decode_pcr(model.family.pcr_mask))}",
            f"  SPR_PCR   {pcr_text(qemu_value, decode_pcr(qemu_value))}"
            + ("" if qemu_ok else "  (never set: QEMU refuses the mode)"),
            "",
            f"KVM HV (kvmppc_set_arch_compat on a {host.family.name} host):",
        ]
        if hv.errno:
            lines.append(f"  EINVAL    {hv.reason}")
        else:
            lines += [f"  host bit  0x{hv.host_pcr_bit:x}, guest bit 0x{hv.guest_pcr_bit:x}",
                      f"  vcore PCR {pcr_text(hv.pcr, decode_pcr(hv.pcr, 'linux'))}"]
        print("\n".join(lines))
    return fail(errors[0]) if errors else 0
