"""Small pieces: boot command line, cell building from raw output, JSON round trip, vector."""

from __future__ import annotations

from pathlib import Path

from powercompat.verify.boot import BootOutput, BootSpec, Firmware, StopReason, qemu_argv
from powercompat.verify.matrix import CellResult, cell_from_output, matrix_specs
from powercompat.verify.vector import pvr_pairs

STDERR_REFUSED = (
    "qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ccf-assist=on\n"
    "qemu-system-ppc64: Compatibility PVR 0x0f000006 not valid for CPU\n"
)


def test_machine_option() -> None:
    assert BootSpec("power9").machine_option() == "pseries,x-vof=on"
    assert BootSpec("power9", "power8", Firmware.SLOF).machine_option() == (
        "pseries,max-cpu-compat=power8"
    )
    assert BootSpec("power9", "").machine_option() == "pseries,max-cpu-compat=,x-vof=on"


def test_qemu_argv_is_oracle_command_line() -> None:
    argv = qemu_argv("qemu-system-ppc64", BootSpec("power9", "power8"), Path("vm"), Path("i.gz"))
    assert " ".join(argv) == (
        "qemu-system-ppc64 -M pseries,max-cpu-compat=power8,x-vof=on -cpu power9 -m 1G -smp 1 "
        "-nodefaults -display none -serial stdio -monitor none -no-reboot -trace spapr_cas_pvr "
        "-kernel vm -initrd i.gz -append console=hvc0 loglevel=4 panic=-1"
    )


def test_default_matrix_is_28_cells() -> None:
    specs = matrix_specs()
    assert len(specs) == 28
    assert specs[0] == BootSpec("power7", None)


def _out(stderr: str, console: str, reason: StopReason, rc: int | None) -> BootOutput:
    return BootOutput(("q",), rc, console, stderr, reason, "qemu", 0.05)


def test_refused_cell() -> None:
    cell = cell_from_output(
        BootSpec("power9", "power10"), _out(STDERR_REFUSED, "", StopReason.EXITED, 1)
    )
    assert cell.startup_error == "Compatibility PVR 0x0f000006 not valid for CPU"
    assert cell.startup_error_prefix == "qemu-system-ppc64: "
    assert not cell.started and cell.trace_new is None


def test_silent_hang_is_not_a_refusal() -> None:
    cell = cell_from_output(BootSpec("970"), _out(STDERR_REFUSED, "", StopReason.TIMEOUT, 0))
    assert cell.startup_error is None and cell.cas_trace_count == 0


def test_booted_cell_and_json_round_trip() -> None:
    stderr = "spapr_cas_pvr current=0x0, explicit_match=1, new=0xf000005\n"
    console = (
        "@@POWERCOMPAT-CPUINFO-BEGIN@@\ncpu\t\t: POWER9 (architected), altivec supported\n"
        "@@POWERCOMPAT-CPUINFO-END@@\n"
        "@@POWERCOMPAT-CPU-VERSION /proc/device-tree/cpus/PowerPC,POWER9@0/cpu-version 0f000005\n"
        "@@POWERCOMPAT-DONE@@\n"
    )
    cell = cell_from_output(BootSpec("power9"), _out(stderr, console, StopReason.REPORTED, 0))
    assert (cell.trace_current, cell.trace_new, cell.trace_explicit_match) == (0, 0x0F000005, True)
    assert cell.cpu_versions == (0x0F000005,)
    assert cell.guest_cpu_line == "POWER9 (architected), altivec supported"
    assert CellResult.from_json(cell.to_json()) == cell


def test_pvr_pairs_stop_at_terminator() -> None:
    blob = bytes.fromhex("ffff0000004e0000ffffffff0f000005fffffffe0f00000105ffffffff")
    assert pvr_pairs(blob) == [
        (0xFFFF0000, 0x004E0000),
        (0xFFFFFFFF, 0x0F000005),
        (0xFFFFFFFE, 0x0F000001),
    ]
