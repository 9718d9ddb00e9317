"""``powercompat negotiate``: one boot through CAS, and why it ends where it ends."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from powercompat.cli.common import (
    accel_title,
    add_json,
    add_machine_options,
    emit_json,
    fail,
    mode_label,
    parse_pvr_list,
    pcr_text,
)
from powercompat.cli.main import Command
from powercompat.decisions.pcr import decode_pcr
from powercompat.messages import hex32
from powercompat.scenario import Negotiation
from powercompat.scenario import negotiate as run_negotiation


def configure(parser: ArgumentParser) -> None:
    add_machine_options(parser)
    parser.add_argument("--disable-radix", action="store_true",
                        help="The guest kernel is booted with disable_radix (hash MMU only).")
    parser.add_argument("--machine", default="pseries", metavar="TYPE",
                        help="Machine type: pseries-X.Y, or plain pseries, the release's "
                        "newest (default: %(default)s).")
    add_json(parser)


def run(args: Namespace) -> int:
    buffer = parse_pvr_list(args.pvr_list) if args.pvr_list is not None else None
    result = run_negotiation(args.cpu, args.max_cpu_compat, args.guest, buffer, args.accel,
                             args.host_cpu, args.qemu, args.smp, args.threads,
                             args.disable_radix, args.host_kernel, args.host_platform,
                             args.machine, args.host_page_size, args.hpt_max_page_size)
    if args.as_json:
        emit_json(result.to_json())
    else:
        print(render(result, custom_list=buffer is not None))
    if not result.fate.works:
        fail(result.verdict_reason)
    return result.fate.exit_status


COMMAND = Command(
    "Boot through CAS: which mode, which PCR, and why.", configure=configure, run=run,
    description="Boot up to CAS: the mode before CAS, the CAS choice with its reasons, the "
    "result, and the verdict (works, qemu-refuses, kernel-hangs, cas-fails, "
    "userland-dies).\n\nExit status 0 only when the verdict is 'works', 1 for any other "
    "verdict.")


def render(n: Negotiation, custom_list: bool = False) -> str:
    """The human report; the same Negotiation feeds --json."""
    from powercompat.profiles import parse_profile

    modes = parse_profile(n.qemu).rules.modes
    maximum = n.max_cpu_compat or "none (raw allowed)"
    lines = [
        f"{n.cpu} (raw PVR {hex32(n.raw_pvr)}), max-cpu-compat={maximum}, "
        f"{accel_title(n.accel)}, QEMU profile {n.qemu}, guest {n.guest}"
        + (" with --pvr-list" if custom_list else ""),
        "",
    ]
    start = [r for r in n.reasons if not r.startswith("cas: ")]
    cas = [r.removeprefix("cas: ") for r in n.reasons if r.startswith("cas: ")]
    lines.append("Start-up: " + ("ok" if n.started or cas else "REFUSED"))
    lines.extend(f"  {r}" for r in start)
    if not (n.started or cas):
        lines += ["", f"The machine does not start: {n.error}", "",
                  f"Verdict: {n.verdict}: {n.verdict_reason}"]
        return "\n".join(lines)
    lines += ["", f"Before CAS: {mode_label(n.initial_compat_pvr, modes)}", "", "CAS:"]
    lines.extend(f"  {r}" for r in cas)
    if n.raw_fallback:
        lines.append("  the set failed and QEMU fell back to raw mode (cc7b35b1)")
    lines += ["", "Result:"]
    rows: list[tuple[str, str]] = [
        ("compat", n.compat or "raw"),
        ("compat_pvr", hex32(n.compat_pvr)),
        ("cpu-version", hex32(n.cpu_version)),
        ("PCR (QEMU)", pcr_text(n.pcr, decode_pcr(n.pcr))),
        ("threads/core", f"{n.guest_threads} visible to the guest"
         + (f" (mode allows {n.max_vthreads})" if n.max_vthreads else "")),
        ("guest cpu line", n.guest_cpu_line),
        ("guest revision", n.guest_revision),
        ("guest kernel", n.kernel_reason),
        ("userland", n.userland_reason),
    ]
    if n.kernel_arch_compat is not None:
        rows += kernel_rows(n)
    rows.append(("ONE_REG calls", str(n.one_reg_total)))
    if n.cas_failed:
        rows.append(("CAS", f"failed: {n.error}"))
    width = max(len(k) for k, _ in rows)
    lines.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)
    lines += ["", f"Verdict: {n.verdict}: {n.verdict_reason}"]
    return "\n".join(lines)


def kernel_rows(n: Negotiation) -> list[tuple[str, str]]:
    """The kernel's side under KVM: what it holds and whether it enforces it."""
    assert n.kernel_arch_compat is not None
    rows = [("kernel arch_compat", hex32(n.kernel_arch_compat)),
            ("kernel PCR", pcr_text(n.kernel_pcr, decode_pcr(n.kernel_pcr, "linux")
                                    if n.kernel_pcr is not None else ()))]
    if n.kernel_enforced:
        rows.append(("enforced", f"yes ({n.kernel_note})"))
    elif n.kernel_arch_compat:
        rows += [("enforced", "NO: the mode is requested but NOT enforced"),
                 ("kernel note", n.kernel_note or "")]
    else:
        rows.append(("enforced", f"no ({n.kernel_note})"))
    if n.kernel_enforced is not None and n.kernel_arch_compat != n.compat_pvr:
        rows.append(("MISMATCH", f"QEMU holds {hex32(n.compat_pvr)}, the kernel "
                                 f"{hex32(n.kernel_arch_compat)}"))
    return rows
