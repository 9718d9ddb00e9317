"""What every command shares: the machine options, the parsers for hex typed by a user, and
the output helpers (JSON, the one-line error, hex and mode labels).

Importing this module imports the catalogue and profiles (for help texts generated from the
tables), never rich.
"""

from __future__ import annotations

import json
import re
import sys
from argparse import ArgumentParser as Parser
from typing import TYPE_CHECKING

from powercompat.catalog.accels import ACCELS, Accel
from powercompat.catalog.guests import DEFAULT_GUEST, GUESTS
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import (
    DEFAULT_KERNEL,
    HOST_PAGE_SIZES_KIB,
    HPT_PAGE_SIZES_KIB,
    KERNELS,
)
from powercompat.catalog.modes import CompatMode, pvr_label
from powercompat.cli.main import PROG
from powercompat.errors import InvalidValueError
from powercompat.messages import hex64, max_cpu_compat_description
from powercompat.profiles import DEFAULT_PROFILE, PROFILE_NAMES

if TYPE_CHECKING:  # not at run time: pathlib costs ~3 ms of start-up (urllib, ipaddress)
    from pathlib import Path

#: accelerators as the help text explains them (from catalog.accels)
ACCEL_TITLES: dict[str, str] = {a.value: a.description for a in Accel}
PCR_LIMIT = 1 << 64


def _names(values: object) -> str:
    return ", ".join(str(v) for v in values)  # type: ignore[attr-defined]


def add_cpu(parser: Parser, required: bool = True,
            help: str = "-cpu model or alias, as QEMU takes it (POWER9, power8_v2.0, or a PVR "
            "in hex).") -> None:
    parser.add_argument("--cpu", required=required, metavar="CPU", help=help)


def add_qemu(parser: Parser) -> None:
    parser.add_argument("--qemu", default=DEFAULT_PROFILE, metavar="PROFILE",
                        help=f"QEMU release profile: {_names(PROFILE_NAMES)} "
                        "(default: %(default)s).")


def add_max_compat(parser: Parser) -> None:
    parser.add_argument(
        "--max-cpu-compat", dest="max_cpu_compat", default=None, metavar="MODE",
        help=(max_cpu_compat_description([m.name for m in HEAD.modes])
              + " Exact and case-sensitive, as QEMU. An empty value is no maximum, as QEMU "
              "7.2 takes '-M pseries,max-cpu-compat=' (it starts, raw allowed).")
        .replace("%", "%%"))


def add_accel(parser: Parser, default: str = "tcg") -> None:
    parser.add_argument("--accel", default=default, metavar="ACCEL",
                        help=f"Accelerator: {_names(ACCELS)} (default: %(default)s).")


def add_host_cpu(parser: Parser) -> None:
    parser.add_argument("--host-cpu", default=None, metavar="CPU",
                        help="The host's CPU under KVM: a model, or its PVR in hex (matched "
                        "by mask, kept as the real PVR); -cpu host is this processor "
                        "(default: --cpu).")


def add_host_kernel(parser: Parser) -> None:
    """The modelled KVM host's Linux and where it runs: what KVM accepts depends on them."""
    parser.add_argument("--host-kernel", default=None, metavar="KERNEL",
                        help="The KVM host's Linux under kvm-hv or kvm-pr: "
                        f"{_names(k.name for k in KERNELS)} (default: {DEFAULT_KERNEL.name}).")
    parser.add_argument("--host-platform", default=None, metavar="PLATFORM",
                        help="Where the KVM host's Linux runs: powernv (bare metal, the "
                        "default) or pseries (a nested hypervisor in a guest).")
    parser.add_argument("--host-page-size", default=None, type=int, choices=HOST_PAGE_SIZES_KIB,
                        metavar="KIB",
                        help="The KVM host kernel's base page, 4 or 64 (KiB): a hash guest's "
                        "VRMA needs 64 for pseries' 512 MiB (default: the named "
                        "--host-kernel's Debian build, 4 for linux-6.12 and linux-7.2; 64 "
                        "when no kernel is named).")
    parser.add_argument("--cap-hpt-max-page-size", dest="hpt_max_page_size", default=None,
                        type=int, choices=HPT_PAGE_SIZES_KIB, metavar="KIB",
                        help="-M pseries,cap-hpt-max-page-size in KiB: 4, 64 or 16384. KVM HV "
                        "refuses one above the host's page (default: the machine type's, 64 "
                        "from pseries-3.0: a 4K-page host needs 4).")


def add_guest(parser: Parser) -> None:
    parser.add_argument("--guest", default=DEFAULT_GUEST, metavar="GUEST",
                        help=f"Guest profile: {_names(g.name for g in GUESTS)} "
                        "(default: %(default)s).")


def add_pvr_list(parser: Parser) -> None:
    parser.add_argument(
        "--pvr-list", default=None, metavar="HEX",
        help="The guest's CAS buffer as hex bytes: big-endian (mask, value) 32-bit pairs, "
        "ending with a terminator pair such as 'fffffffe 0f000001'. Spaces, colons, commas, "
        "underscores and a '0x' before each group are allowed. Replaces the guest's list; "
        "--guest still names the kernel that reads the result.")


def add_smp(parser: Parser) -> None:
    parser.add_argument("--smp", default=1, type=int, metavar="N",
                        help="Number of vCPUs (default: %(default)s).")
    parser.add_argument("--threads", default=1, type=int, metavar="T",
                        help="Threads per core (default: %(default)s).")


def add_machine_options(parser: Parser) -> None:
    """The options that describe one machine and its guest (negotiate, simulate)."""
    add_cpu(parser)
    add_max_compat(parser)
    add_guest(parser)
    add_pvr_list(parser)
    add_accel(parser)
    add_host_cpu(parser)
    add_host_kernel(parser)
    add_qemu(parser)
    add_smp(parser)


def add_json(parser: Parser, help: str = "Print one JSON object (the documented contract)."
             ) -> None:
    """``--json`` (dest ``as_json``): main() also answers an error in JSON when it is set."""
    parser.add_argument("--json", dest="as_json", action="store_true", help=help)


def emit_json(obj: object) -> None:
    print(json.dumps(obj, indent=2))


def fail(message: str) -> int:
    """The one-line refusal on stderr; returns the exit status for 'refused or failed'."""
    sys.stderr.write(f"{PROG}: error: {' '.join(message.split())}\n")
    return 1


_HEX_GROUP = re.compile(r"(?:0[xX])?([0-9a-fA-F]*)")


def parse_pvr_list(text: str) -> bytes:
    """``--pvr-list`` text to the CAS buffer bytes.

    Groups are separated by whitespace, ``:``, ``,`` or ``_``; each may start with ``0x``.
    The digits are read as one big-endian byte string (two digits per byte).

    >>> parse_pvr_list("0xffff0000 004d0000:fffffffe_0f000001").hex()
    'ffff0000004d0000fffffffe0f000001'

    :raises InvalidValueError: no digits, a character that is not hex, or an odd count.
    """
    digits: list[str] = []
    for group in re.split(r"[\s:,_]+", text.strip()):
        match = _HEX_GROUP.fullmatch(group)
        if match is None:
            bad = next(c for c in re.sub(r"^0[xX]", "", group) if c not in _HEXDIGITS)
            raise InvalidValueError(f"--pvr-list: '{bad}' is not a hex digit (in '{group}')")
        digits.append(match.group(1))
    joined = "".join(digits)
    if not joined:
        raise InvalidValueError("--pvr-list: no hex digits")
    if len(joined) % 2:
        raise InvalidValueError(
            f"--pvr-list: odd number of hex digits ({len(joined)}); each byte takes two")
    return bytes.fromhex(joined)


_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def parse_pcr_value(text: str) -> int:
    """A PCR value: hex, with or without ``0x`` (always hex, as QEMU and the kernel print it).

    >>> parse_pcr_value("0x8")
    8
    >>> parse_pcr_value("200000000000003c") == 0x200000000000003C
    True

    :raises InvalidValueError: negative, not hex, or wider than 64 bits.
    """
    cleaned = text.strip().replace("_", "")
    if cleaned.startswith("-"):
        raise InvalidValueError(f"PCR value '{text}' is negative; a PCR is 64 unsigned bits")
    digits = cleaned[2:] if cleaned[:2].lower() == "0x" else cleaned
    if not digits or any(c not in _HEXDIGITS for c in digits):
        raise InvalidValueError(f"PCR value '{text}' is not hex (e.g. 0x0000000000000008)")
    value = int(digits, 16)
    if value >= PCR_LIMIT:
        raise InvalidValueError(f"PCR value '{text}' does not fit in 64 bits")
    return value


def mode_label(pvr: int, modes: tuple[CompatMode, ...] = HEAD.modes) -> str:
    """``power8 (0x0f000004)``, ``raw (0x00000000)`` or the bare hex of an unknown value."""
    return pvr_label(pvr, modes)


def errno_name(err: int) -> str:
    """``EINVAL`` for 22, ``0`` for success."""
    if not err:
        return "0"
    import errno as _errno

    return _errno.errorcode.get(err, str(err))


#: said wherever a bit is shown by number (decode_pcr numbers unnamed bits the IBM way)
BIT_NUMBERING = ("bit N: IBM numbering, bit 0 is the most significant; "
                 "1<<M: the same bit counted from the least significant")


def bit_names(names: tuple[str, ...]) -> list[str]:
    """decode_pcr's names, an unnamed ``bit N`` (IBM numbering) also as ``1<<(63-N)``."""
    return [f"{n} (1<<{63 - int(n[4:])})" if n.startswith("bit ") else n for n in names]


def pcr_text(value: int | None, names: tuple[str, ...]) -> str:
    """``0x0000000000000008 (COMPAT_2_07)``; ``none`` when no PCR is programmed."""
    if value is None:
        return "none"
    return f"{hex64(value)} ({', '.join(bit_names(names)) if names else 'no bits'})"


def accel_title(name: str) -> str:
    return ACCEL_TITLES.get(name, name)


def count(text: str) -> int:
    """An argparse ``type``: an integer of at least 0 (a bad one is a usage error, exit 2)."""
    from argparse import ArgumentTypeError

    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 0:
        raise ArgumentTypeError(f"{value} is below 0")
    return value


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 host``, ``2 hosts``; ``many`` for an irregular plural (``1 class``, ``2 classes``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def check_output_file(path: Path, option: str) -> None:
    """Refuse, before any work, an output file that cannot be created: a folder, a missing
    folder, a read-only one or a filesystem that takes no files (/proc). It is opened for
    appending (an existing file is left as it is) and, if it did not exist, removed again.

    :raises InvalidValueError: naming the option, the path and the system's reason.
    """
    if path.is_dir():
        raise InvalidValueError(f"{option} {path}: is a folder, not a file")
    existed = path.exists()
    try:
        with path.open("a"):
            pass
    except OSError as err:
        raise InvalidValueError(f"{option} {path}: cannot write it: "
                                f"{err.strerror or err}") from None
    if not existed:
        path.unlink(missing_ok=True)
