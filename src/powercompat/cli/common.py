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

from powercompat.accel.factory import ACCELS
from powercompat.catalog.guests import GUESTS
from powercompat.catalog.modes import COMPAT_MODES, CompatMode, mode_by_pvr
from powercompat.cli.main import PROG
from powercompat.errors import InvalidValueError
from powercompat.messages import hex32, hex64, max_cpu_compat_description
from powercompat.profiles import DEFAULT_PROFILE, PROFILE_NAMES

#: accelerators as the help text explains them (names from accel.factory.ACCELS)
ACCEL_TITLES: dict[str, str] = {
    "tcg": "TCG",
    "kvm-hv": "KVM HV",
    "kvm-pr": "KVM PR",
    # ours, not a kernel: no Linux release has such a handler (issue #14)
    "kvm-pr-ignore": "KVM PR accepting and ignoring ARCH_COMPAT (powercompat's proposal, "
                     "not a real kernel)",
    "kvm": "the real KVM of this ppc64 host",
}
DEFAULT_GUEST = GUESTS[0].name
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
        help=(max_cpu_compat_description([m.name for m in COMPAT_MODES])
              + " Exact and case-sensitive, as QEMU.").replace("%", "%%"))


def add_accel(parser: Parser, default: str = "tcg") -> None:
    parser.add_argument("--accel", default=default, metavar="ACCEL",
                        help=f"Accelerator: {_names(ACCELS)} (default: %(default)s).")


def add_host_cpu(parser: Parser) -> None:
    parser.add_argument("--host-cpu", default=None, metavar="CPU",
                        help="Host CPU under KVM (default: --cpu).")


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


def mode_label(pvr: int, modes: tuple[CompatMode, ...] = COMPAT_MODES) -> str:
    """``power8 (0x0f000004)``, ``raw (0x00000000)`` or the bare hex of an unknown value."""
    if pvr == 0:
        return f"raw ({hex32(0)})"
    mode = mode_by_pvr(pvr, modes)
    return f"{mode.name} ({hex32(pvr)})" if mode else hex32(pvr)


def errno_name(err: int) -> str:
    """``EINVAL`` for 22, ``0`` for success."""
    if not err:
        return "0"
    import errno as _errno

    return _errno.errorcode.get(err, str(err))


def pcr_text(value: int | None, names: tuple[str, ...]) -> str:
    """``0x0000000000000008 (COMPAT_2_07)``; ``none`` when no PCR is programmed."""
    if value is None:
        return "none"
    return f"{hex64(value)} ({', '.join(names) if names else 'no bits'})"


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
