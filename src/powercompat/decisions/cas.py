"""CAS: read the guest's PVR list and choose the compat mode, as QEMU does.

Sources: hw/ppc/spapr_hcall.c cas_check_pvr() and do_client_architecture_support().
The buffer comes from guest memory, so it is untrusted: every read is bounds-checked
against the buffer's real length, and at most 512 entries are read (QEMU's cap).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from powercompat.catalog.cpus import CpuModel
from powercompat.catalog.modes import pvr_label
from powercompat.decisions.reasons import Reason
from powercompat.decisions.rules import HEAD_RULES, CompatRules
from powercompat.decisions.validity import check_compat
from powercompat.errors import CasBufferError
from powercompat.messages import CAS_NO_SUITABLE_PVR, hex32

#: hw/ppc/spapr_hcall.c cas_check_pvr(): ``for (counter = 0; counter < 512; ++counter)``
CAS_MAX_ENTRIES = 512
#: include/hw/ppc/spapr.h PAPR return codes
H_SUCCESS = 0
H_HARDWARE = -1
H_PARAMETER = -4
H_MULTI_THREADS_ACTIVE = -9005


@dataclass(frozen=True, slots=True)
class CasEntry:
    """One (mask, value) pair and the byte offset it was read from."""

    index: int
    offset: int
    mask: int
    value: int

    @property
    def is_terminator(self) -> bool:
        """PAPR: a value with a bit outside its mask ends the list."""
        return bool(~self.mask & self.value & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class CasPvrList:
    """The entries QEMU evaluates, the terminator (if any), and where the vectors start.
    (Hashed once: it keys the cached CAS choice.)"""

    entries: tuple[CasEntry, ...]
    terminator: CasEntry | None
    capped: bool
    end_offset: int
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(
            (self.entries, self.terminator, self.capped, self.end_offset)))

    def __hash__(self) -> int:
        return self._hash


def parse_cas_pvrs(buf: bytes) -> CasPvrList:
    """Read (mask, value) pairs up to the terminator or the 512-entry cap.

    QEMU advances 8 bytes before the terminator test, so ``end_offset`` points past the
    terminator, where the option-vector table starts. The same buffer gives the same
    (immutable) list, so lists are cached by the buffer's bytes.

    :raises CasBufferError: a pair runs past the end of the buffer, or the buffer ends
        before a terminator and before the cap.
    """
    if len(buf) > _CACHED_BUFFER:  # a guest's real list is a few hundred bytes
        return _parse_cas_pvrs.__wrapped__(bytes(buf))
    return _parse_cas_pvrs(bytes(buf))


#: caches are bounded in size as well as count (fuzzers send 512-entry lists)
_CACHED_BUFFER = 4096
_CACHED_ENTRIES = 64


@lru_cache(maxsize=256)
def _parse_cas_pvrs(buf: bytes) -> CasPvrList:
    entries: list[CasEntry] = []
    for index in range(CAS_MAX_ENTRIES):
        offset = index * 8
        if offset + 8 > len(buf):
            if offset == len(buf):
                raise CasBufferError(
                    f"CAS buffer ends at byte {offset} with no terminator "
                    f"after {index} entries", offset)
            raise CasBufferError(f"CAS buffer truncated at byte {len(buf)}", len(buf))
        mask, value = struct.unpack_from(">II", buf, offset)
        entry = CasEntry(index, offset, mask, value)
        if entry.is_terminator:
            return CasPvrList(tuple(entries), entry, False, offset + 8)
        entries.append(entry)
    return CasPvrList(tuple(entries), None, True, CAS_MAX_ENTRIES * 8)


def pack_cas_pvrs(pairs: list[tuple[int, int]]) -> bytes:
    """The inverse of parse_cas_pvrs for tests and ``--pvr-list``."""
    return b"".join(struct.pack(">II", m & 0xFFFFFFFF, v & 0xFFFFFFFF) for m, v in pairs)


class CasOutcome(Enum):
    """COMPAT: a logical PVR was chosen; RAW: raw mode; FAIL: H_HARDWARE."""

    COMPAT = "compat"
    RAW = "raw"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CasChoice:
    """cas_check_pvr()'s result and the decision do_client_architecture_support() takes."""

    cas_pvr: int
    raw_mode_supported: bool
    outcome: CasOutcome
    error: str | None
    reasons: tuple[Reason, ...]
    pvr_list: CasPvrList


def choose_compat(
    model: CpuModel,
    real_pvr: int,
    max_compat: int,
    pvrs: CasPvrList,
    rules: CompatRules = HEAD_RULES,
) -> CasChoice:
    """Pick the newest listed mode valid for the CPU and within max-cpu-compat.

    The running best is passed as the *min* bound (inclusive, table order), so the result
    is the newest acceptable mode whatever the list order. An entry matching the real PVR
    under its mask means raw mode is supported; it is never a compat candidate. A pure
    decision on immutable values: cached, reasons and all.
    """
    if len(pvrs.entries) > _CACHED_ENTRIES:
        return _choose_compat.__wrapped__(model, real_pvr, max_compat, pvrs, rules)
    return _choose_compat(model, real_pvr, max_compat, pvrs, rules)


@lru_cache(maxsize=1024)
def _choose_compat(model: CpuModel, real_pvr: int, max_compat: int, pvrs: CasPvrList,
                   rules: CompatRules) -> CasChoice:
    best = 0
    explicit_match = False
    reasons: list[Reason] = []
    for entry in pvrs.entries:
        label = f"entry {entry.index}"
        if real_pvr & entry.mask == entry.value & entry.mask:
            explicit_match = True
            reasons.append(Reason(
                hex32(entry.value), True, "raw-match",
                f"{label}: mask {hex32(entry.mask)} value {hex32(entry.value)} matches the "
                f"real PVR {hex32(real_pvr)}: raw mode supported"))
            continue
        verdict = check_compat(model.family, entry.value, best, max_compat, rules)
        if verdict.ok:
            best = entry.value
            reasons.append(Reason(
                verdict.reason.candidate, True, "best",
                f"{label}: {pvr_label(entry.value, rules.modes, raw=False)} is the best so far"))
        else:
            reasons.append(Reason(verdict.reason.candidate, False, verdict.reason.rule,
                                  f"{label}: {verdict.reason.text}"))
    if pvrs.terminator is not None:
        t = pvrs.terminator
        reasons.append(Reason(hex32(t.value), False, "terminator",
                              f"entry {t.index}: mask {hex32(t.mask)} value {hex32(t.value)} "
                              "ends the list (value has bits outside its mask)"))
    else:
        reasons.append(Reason("", False, "cap",
                              f"no terminator in the first {CAS_MAX_ENTRIES} entries: "
                              "QEMU stops reading there"))
    # do_client_architecture_support(): raw only if the guest listed the real PVR and no
    # max-cpu-compat is set (152ef803); otherwise no suitable PVR is H_HARDWARE.
    if best:
        outcome, error = CasOutcome.COMPAT, None
        reasons.append(Reason(pvr_label(best, rules.modes), True, "chosen",
                              f"chosen: {pvr_label(best, rules.modes)}"))
    elif explicit_match and not max_compat:
        outcome, error = CasOutcome.RAW, None
        reasons.append(Reason("raw", True, "chosen",
                              "chosen: raw mode (real PVR listed, no max-cpu-compat)"))
    else:
        outcome, error = CasOutcome.FAIL, CAS_NO_SUITABLE_PVR
        why = ("max-cpu-compat is set" if explicit_match
               else "the guest did not list the real PVR")
        reasons.append(Reason("none", False, "no-suitable-pvr",
                              f"no listed mode fits and raw mode is refused ({why}): "
                              "H_HARDWARE"))
    return CasChoice(best, explicit_match, outcome, error, tuple(reasons), pvrs)
