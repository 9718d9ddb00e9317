"""Fuzz targets: the CAS reader and the migration loader, with their invariants.

A target takes the raw bytes a guest (CAS) or another host (migration) could send. Typed
errors (PowerCompatError) are the expected answer to bad bytes and are swallowed; anything
else escapes, and a broken invariant raises ``FuzzInvariantError``, which the fuzzer reports
as a crash. The machine configuration is picked from the bytes' CRC, so a corpus file is
the untouched buffer or stream.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Final

from powercompat.decisions.cas import CAS_MAX_ENTRIES, pack_cas_pvrs, parse_cas_pvrs
from powercompat.errors import CasBufferError, MigrationStreamError, PowerCompatError
from powercompat.machine.migration import decode_stream, encode_stream
from powercompat.machine.options import MachineOptions
from powercompat.stress.harness import Pair

Target = Callable[[bytes], None]

#: machines a fuzz input is run on: (profile, cpu, max-cpu-compat, accel, host cpu)
CONFIGS: Final[tuple[tuple[str, str, str | None, str, str | None], ...]] = (
    ("head", "power9", None, "tcg", None),
    ("head", "power9", "power8", "kvm-hv", None),
    ("head", "power10", None, "kvm-hv", "power9"),
    ("head", "power11", "power10", "kvm-pr-ignore", None),
    ("powercompat", "power9", None, "kvm-pr", None),
    ("powercompat", "power8", "power7", "kvm-hv", None),
    ("powercompat", "power10", None, "kvm-hv", "power8"),
    ("7.2", "power9", "power7+", "tcg", None),
    ("7.2", "power10", None, "kvm-hv", None),
    ("2.11", "power9", None, "kvm-pr", None),
    ("2.11", "power8", None, "kvm-hv", None),
    ("2.10", "power9", "power8", "kvm-hv", None),
    ("2.10-pre", "power8", None, "kvm-pr-ignore", None),
    ("2.9", "power9,compat=power8", None, "kvm-hv", None),  # 2.9: no max-cpu-compat
)


class FuzzInvariantError(AssertionError):
    """An invariant broke on a fuzz input: the message lists the violations."""


def _options(data: bytes, incoming: bool = False) -> MachineOptions:
    qemu, cpu, max_compat, accel, host = CONFIGS[zlib.crc32(data) % len(CONFIGS)]
    return MachineOptions(cpu=cpu, smp=2, max_cpu_compat=max_compat, accel=accel,
                          host_cpu=host, qemu=qemu, incoming=incoming)


def _raise_if(violations: list[str], data: bytes) -> None:
    if violations:
        raise FuzzInvariantError(f"{len(violations)} violation(s) on input "
                                 f"{data[:64].hex()}...: " + "; ".join(violations[:3]))


def check_cas_parse(data: bytes) -> list[str]:
    """The reader's own laws: offsets inside the buffer, the cap, and the round trip."""
    try:
        parsed = parse_cas_pvrs(data)
    except CasBufferError as err:
        out = []
        if not 0 <= err.offset <= len(data):
            out.append(f"error offset {err.offset} outside a {len(data)}-byte buffer")
        if "\n" in str(err):
            out.append(f"multi-line message {str(err)!r}")
        return out
    out = []
    if parsed.end_offset > len(data) or len(parsed.entries) > CAS_MAX_ENTRIES:
        out.append(f"read past the buffer or the cap: end {parsed.end_offset}")
    pairs = [(e.mask, e.value) for e in parsed.entries]
    if parsed.terminator is not None:
        pairs.append((parsed.terminator.mask, parsed.terminator.value))
    if pack_cas_pvrs(pairs) != data[:parsed.end_offset]:
        out.append("pack(parse(buffer)) is not the buffer's prefix")
    if any(e.is_terminator for e in parsed.entries):
        out.append("a terminator was evaluated as an entry")
    return out


def cas_target(data: bytes) -> None:
    """Parse the buffer, then boot a machine and run CAS with it, checked step by step."""
    violations = check_cas_parse(data)
    pair = Pair(_options(data), violations, "cas")
    if pair.realize() == "ok" and pair.reset() == "ok":
        pair.cas(data)
    _raise_if(violations, data)


def migration_target(data: bytes) -> None:
    """Decode the stream (round trip when valid), then load it on a destination: a refused
    stream must leave the destination exactly as it was."""
    violations: list[str] = []
    try:
        stream = decode_stream(data)
    except MigrationStreamError as err:
        if not 0 <= err.offset <= len(data):
            violations.append(f"error offset {err.offset} outside a {len(data)}-byte stream")
    except PowerCompatError as err:  # pragma: no cover - the reader raises only the above
        violations.append(f"untyped stream error {type(err).__name__}: {err}")
    else:
        if decode_stream(encode_stream(stream)) != stream:
            violations.append("decode(encode(stream)) differs from the stream")
    pair = Pair(_options(data, incoming=True), violations, "migration")
    if pair.realize() == "ok" and pair.reset() == "ok":
        pair.migrate_in(data)
    _raise_if(violations, data)


TARGETS: Final[dict[str, Target]] = {"cas": cas_target, "migration": migration_target}
