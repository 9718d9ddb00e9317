"""``powercompat migrate-check``: can a booted guest move, and what to set if it cannot."""

from __future__ import annotations

import click

from powercompat.cli.common import (
    accel_option,
    accel_title,
    cpu_option,
    emit_json,
    fail,
    guest_option,
    json_option,
    max_compat_option,
    qemu_option,
    want_json,
)
from powercompat.scenario import MigrationCheck
from powercompat.scenario import migrate_check as run_check


@click.command("migrate-check",
               short_help="Can a booted guest migrate, and what to set if not.")
@cpu_option
@click.option("--dst-cpu", required=True, metavar="CPU", help="Destination CPU model.")
@max_compat_option
@click.option("--dst-max-cpu-compat", default=None, metavar="MODE",
              help="The destination's max-cpu-compat (default: the source's).")
@guest_option
@qemu_option
@accel_option("kvm-hv")
@json_option
def migrate_check(cpu: str, dst_cpu: str, max_cpu_compat: str | None,
                  dst_max_cpu_compat: str | None, guest: str, qemu: str, accel: str,
                  as_json: bool) -> int:
    """Boot on CPU, negotiate at CAS, migrate to DST-CPU: accepted, or what to set.

    Exit status 1 when the destination refuses the guest.
    """
    want_json(as_json)
    check = run_check(cpu, dst_cpu, max_cpu_compat, guest, qemu, accel, dst_max_cpu_compat)
    if as_json:
        emit_json(check.to_json())
    else:
        click.echo(render(check))
    if not check.ok:
        return fail(check.error or "migration refused")
    return 0


def render(check: MigrationCheck) -> str:
    src = check.source
    lines = [
        f"{src.cpu} -> {check.destination_cpu}, {accel_title(src.accel)}, QEMU profile "
        f"{src.qemu}, guest {src.guest}, max-cpu-compat={src.max_cpu_compat or 'none'}",
        "",
        f"source:      booted in {src.compat or 'raw mode'} (compat_pvr "
        f"{src.to_json()['compat_pvr']}) after CAS",
    ]
    if check.ok:
        lines.append("migration:   ACCEPTED: the destination loads the CPU state")
        return "\n".join(lines)
    lines.append(f"migration:   REFUSED: {check.error}")
    if check.cause:
        lines.append(f"             {check.cause}")
    lines.extend(f"advice:      {a}" for a in check.advice)
    return "\n".join(lines)
