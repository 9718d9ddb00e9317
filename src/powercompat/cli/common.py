"""What every command shares: the machine options, the parsers for hex typed by a user, and
the output helpers (JSON, the one-line error, hex and mode labels).

Importing this module imports the catalogue and profiles (for help texts generated from the
tables), never rich.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from powercompat.catalog.accels import ACCELS, Accel
from powercompat.catalog.guests import DEFAULT_GUEST, GUESTS
from powercompat.catalog.history import HEAD
from powercompat.catalog.modes import CompatMode, pvr_label
from powercompat.cli.main import PROG, CliState
from powercompat.errors import InvalidValueError
from powercompat.messages import hex64, max_cpu_compat_description
from powercompat.profiles import DEFAULT_PROFILE, PROFILE_NAMES

F = TypeVar("F", bound=Callable[..., Any])

#: accelerators as the help text explains them (from catalog.accels)
ACCEL_TITLES: dict[str, str] = {a.value: a.description for a in Accel}
PCR_LIMIT = 1 << 64


def _names(values: object) -> str:
    return ", ".join(str(v) for v in values)  # type: ignore[attr-defined]


def cpu_option(f: F) -> F:
    return click.option("--cpu", required=True, metavar="CPU",
                        help="-cpu model or alias, as QEMU takes it (POWER9, power8_v2.0, "
                        "or a PVR in hex).")(f)


def qemu_option(f: F) -> F:
    return click.option("--qemu", default=DEFAULT_PROFILE, show_default=True,
                        metavar="PROFILE",
                        help=f"QEMU release profile: {_names(PROFILE_NAMES)}.")(f)


def max_compat_option(f: F) -> F:
    return click.option(
        "--max-cpu-compat", "max_cpu_compat", default=None, metavar="MODE",
        help=max_cpu_compat_description([m.name for m in HEAD.modes])
        + " Exact and case-sensitive, as QEMU.")(f)


def accel_option(default: str = "tcg") -> Callable[[F], F]:
    return click.option("--accel", default=default, show_default=True, metavar="ACCEL",
                        help=f"Accelerator: {_names(a for a in ACCELS)}.")


def host_cpu_option(f: F) -> F:
    return click.option("--host-cpu", default=None, metavar="CPU",
                        help="Host CPU under KVM (default: --cpu).")(f)


def guest_option(f: F) -> F:
    return click.option("--guest", default=DEFAULT_GUEST, show_default=True, metavar="GUEST",
                        help=f"Guest profile: {_names(g.name for g in GUESTS)}.")(f)


def pvr_list_option(f: F) -> F:
    return click.option(
        "--pvr-list", default=None, metavar="HEX",
        help="The guest's CAS buffer as hex bytes: big-endian (mask, value) 32-bit pairs, "
        "ending with a terminator pair such as 'fffffffe 0f000001'. Spaces, colons, commas, "
        "underscores and a '0x' before each group are allowed. Replaces the guest's list; "
        "--guest still names the kernel that reads the result.")(f)


def smp_options(f: F) -> F:
    f = click.option("--threads", default=1, show_default=True, type=int, metavar="T",
                     help="Threads per core.")(f)
    return click.option("--smp", default=1, show_default=True, type=int, metavar="N",
                        help="Number of vCPUs.")(f)


def machine_options(f: F) -> F:
    """The options that describe one machine and its guest (negotiate, simulate)."""
    for option in (smp_options, qemu_option, host_cpu_option, accel_option(),
                   pvr_list_option, guest_option, max_compat_option, cpu_option):
        f = option(f)
    return f


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON object (the documented contract).")(f)


def state() -> CliState:
    """The run's state (``ctx.obj``), created if a test invokes a command on its own."""
    return click.get_current_context().ensure_object(CliState)


def want_json(flag: bool) -> bool:
    """Record that the output is JSON, so the error handler answers in JSON too."""
    state().json = flag
    return flag


def emit_json(obj: object) -> None:
    click.echo(json.dumps(obj, indent=2))


def fail(message: str) -> int:
    """The one-line refusal on stderr; returns the exit status for 'refused or failed'."""
    click.echo(f"{PROG}: error: {' '.join(message.split())}", err=True)
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


def pcr_text(value: int | None, names: tuple[str, ...]) -> str:
    """``0x0000000000000008 (COMPAT_2_07)``; ``none`` when no PCR is programmed."""
    if value is None:
        return "none"
    return f"{hex64(value)} ({', '.join(names) if names else 'no bits'})"


def accel_title(name: str) -> str:
    return ACCEL_TITLES.get(name, name)
