"""Boot the real guest kernel with its CAS PVR list patched in place, as oracle.md's runs did.

Why: the stock Linux list never negotiates below the pre-CAS level, so some engine rules (a
guest that lists only older modes; the radix hang when CAS settles below ISA 3.00 after radix
was offered) can only be checked against real QEMU with another list. The patch keeps the
list's length (the terminator stays the last of the kernel's pairs), so the option vectors
stay where QEMU reads them, right after the terminator.
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from powercompat.verify.assets import Assets
from powercompat.verify.boot import KERNEL_APPEND, BootSpec, Firmware, boot
from powercompat.verify.matrix import cell_from_output, default_firmware
from powercompat.verify.vector import SYMBOL, pvr_pairs, read_symbol

TERMINATOR = (0xFFFFFFFE, 0x0F000001)
Pair = tuple[int, int]


@dataclass(frozen=True, slots=True)
class PatchedCase:
    """One boot: the list (without terminator), the machine, and the guest's command line."""

    name: str
    pairs: tuple[Pair, ...]
    cpu: str
    max_cpu_compat: str | None = None
    disable_radix: bool = False


_P8 = (0xFFFFFFFF, 0x0F000004)
_P9 = (0xFFFFFFFF, 0x0F000005)
_P7 = (0xFFFFFFFF, 0x0F000003)
_P9_RAW = (0xFFFF0000, 0x004E0000)
_P10 = (0xFFFFFFFF, 0x0F000006)

#: the cases recorded in tests/data/real/qemu-7.2-linux-6.1-patched-lists.json
CASES: tuple[PatchedCase, ...] = (
    PatchedCase("p8-only", (_P8,), "power9"),
    PatchedCase("p8-only", (_P8,), "power9", disable_radix=True),
    PatchedCase("p8-only", (_P8,), "power9", "power9"),
    PatchedCase("p8-only", (_P8,), "power9", "power8"),
    PatchedCase("p8-only", (_P8,), "power8"),
    PatchedCase("p9-p8", (_P9, _P8), "power10"),
    PatchedCase("p7-only", (_P7,), "power8"),
    PatchedCase("p9-raw-only", (_P9_RAW,), "power9"),
    PatchedCase("p9-raw-only", (_P9_RAW,), "power9", "power9"),
    PatchedCase("p9-raw-only", (_P9_RAW,), "power8"),
    # POWER10 (every release from 7.2 has it): a list one generation back, the newest mode
    # listed first under a lower maximum, and only a mode above the maximum (CAS fails)
    PatchedCase("p9-only", (_P9,), "power10"),
    PatchedCase("p10-p9", (_P10, _P9), "power10", "power9"),
    PatchedCase("p10-only", (_P10,), "power10", "power9"),
)


def buffer_for(case: PatchedCase, length: int) -> bytes:
    """``length`` pairs: the case's entries repeated to fill, then the terminator."""
    if not case.pairs or len(case.pairs) > length - 1:
        raise ValueError(f"{case.name}: needs 1..{length - 1} entries")
    body = [case.pairs[i % len(case.pairs)] for i in range(length - 1)]
    return b"".join(struct.pack(">II", m, v) for m, v in [*body, TERMINATOR])


def _file_offset(vmlinux: Path) -> int:
    with vmlinux.open("rb") as fh:
        elf = ELFFile(fh)
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        syms = symtab.get_symbol_by_name(SYMBOL)
        assert syms, f"{SYMBOL} not in {vmlinux}"
        sym = syms[0]
        sec = elf.get_section(sym["st_shndx"])
        return int(sec["sh_offset"] + sym["st_value"] - sec["sh_addr"])


def patch_kernel(vmlinux: Path, buffer: bytes, dest: Path) -> Path:
    """A copy of ``vmlinux`` whose PVR list is ``buffer`` (same length as the kernel's)."""
    kernel_pairs = len(pvr_pairs(read_symbol(vmlinux).data))
    if len(buffer) != 8 * kernel_pairs:
        raise ValueError(f"buffer must be {kernel_pairs} pairs, got {len(buffer)} bytes")
    shutil.copyfile(vmlinux, dest)
    with dest.open("r+b") as fh:
        fh.seek(_file_offset(dest))
        fh.write(buffer)
    return dest


async def run_case(case: PatchedCase, assets: Assets, workdir: Path) -> dict[str, Any]:
    """Boot one case and return what was observed (nothing predicted here)."""
    kernel_pairs = len(pvr_pairs(read_symbol(assets.vmlinux).data))
    buffer = buffer_for(case, kernel_pairs)
    vmlinux = patch_kernel(assets.vmlinux, buffer, workdir / f"vmlinux-{case.name}")
    append = KERNEL_APPEND + (" disable_radix" if case.disable_radix else "")
    # the release's own firmware: SLOF before 6.1 (no x-vof), and SLOF boots take longer
    firmware = default_firmware(assets.qemu_release)
    spec = BootSpec(case.cpu, case.max_cpu_compat, firmware=firmware, append=append,
                    timeout=25 if firmware is Firmware.VOF else 60)
    cell = cell_from_output(spec, await boot(spec, assets.qemu, vmlinux, assets.initrd))
    return {
        "list": case.name,
        "pvr_list": buffer.hex(),
        "cpu": case.cpu,
        "max_cpu_compat": case.max_cpu_compat,
        "disable_radix": case.disable_radix,
        "firmware": firmware.value,
        "startup_error": cell.startup_error,
        "trace_current": cell.trace_current,
        "trace_new": cell.trace_new,
        "cas_failed": cell.cas_failed,
        "cpu_versions": list(cell.cpu_versions),
        "guest_cpu_line": cell.guest_cpu_line,
        "init_sigill": cell.init_sigill,
        "stop_reason": str(cell.stop_reason),
        "kernel_reached_userspace": bool(cell.guest_cpu_line or cell.cpu_versions
                                         or cell.init_sigill),
        "console_tail": list(cell.console_tail[-4:]),
    }
