"""Every parser of untrusted or user input: typed errors only, one-line messages, offsets
inside the buffer, and round trips. 2,000 examples per parser."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.strategies import TERMINATOR, cas_buffers, entry, pack, streams

from powercompat.catalog.cpus import FAMILIES, CpuFamily
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import KERNELS, KernelRelease
from powercompat.decisions.cas import CAS_MAX_ENTRIES, pack_cas_pvrs, parse_cas_pvrs
from powercompat.decisions.cpu_match import resolve_cpu
from powercompat.decisions.pcr import decode_pcr, kvm_hv_pcr
from powercompat.errors import (
    CasBufferError,
    InputError,
    InvalidModeError,
    InvalidValueError,
    KvmError,
    MigrationStreamError,
    PowerCompatError,
    UnknownCpuError,
    UnknownProfileError,
)
from powercompat.machine.migration import decode_stream, encode_stream
from powercompat.machine.options import MachineOptions, parse_max_cpu_compat, parse_options
from powercompat.profiles import ALL_PROFILES, PROFILE_NAMES, parse_profile
from powercompat.scenario import EVENT_NAMES, parse_events

common = pytest.importorskip("powercompat.cli.common")

MANY = settings(max_examples=2000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
#: printable text: a user can type it on one line
line_text = st.text(alphabet=string.printable.replace("\n", "").replace("\r", "")
                    .replace("\x0b", "").replace("\x0c", ""), max_size=40)
any_text = st.one_of(line_text, st.text(max_size=40))


def one_line(err: Exception) -> None:
    text = str(err)
    assert text and "\n" not in text and "\r" not in text, repr(text)


# ---------------------------------------------------------------- CAS buffer bytes


@MANY
@given(st.one_of(cas_buffers, st.binary(max_size=5000)))
def test_cas_reader_typed_errors_offsets_and_prefix(buf: bytes) -> None:
    try:
        parsed = parse_cas_pvrs(buf)
    except CasBufferError as err:
        one_line(err)
        assert 0 <= err.offset <= len(buf)
        assert len(buf) < CAS_MAX_ENTRIES * 8
        return
    assert len(parsed.entries) <= CAS_MAX_ENTRIES
    assert parsed.end_offset <= len(buf)
    assert all(not e.is_terminator for e in parsed.entries)
    assert [e.offset for e in parsed.entries] == [8 * i for i in range(len(parsed.entries))]
    pairs = [(e.mask, e.value) for e in parsed.entries]
    if parsed.terminator is None:
        assert parsed.capped and len(pairs) == CAS_MAX_ENTRIES
    else:
        pairs.append((parsed.terminator.mask, parsed.terminator.value))
    assert pack_cas_pvrs(pairs) == buf[:parsed.end_offset]


@MANY
@given(st.lists(entry, max_size=600), st.binary(max_size=16))
def test_cas_pack_parse_round_trip(pairs: list[tuple[int, int]], tail: bytes) -> None:
    buf = pack_cas_pvrs([*pairs, TERMINATOR]) + tail
    parsed = parse_cas_pvrs(buf)
    kept = pairs[:CAS_MAX_ENTRIES]
    assert [(e.mask, e.value) for e in parsed.entries] == kept
    assert parsed.capped == (len(pairs) >= CAS_MAX_ENTRIES)
    if not parsed.capped:
        assert parsed.end_offset == 8 * (len(pairs) + 1)


@pytest.mark.parametrize(("buf", "error", "offset"), [
    (b"", "CAS buffer ends at byte 0 with no terminator after 0 entries", 0),
    (bytes(13), "CAS buffer truncated at byte 13", 13),
    (bytes(4088), "CAS buffer ends at byte 4088 with no terminator after 511 entries", 4088),
    (b"\xff" * 7, "CAS buffer truncated at byte 7", 7),
])
def test_cas_reader_targeted_refusals(buf: bytes, error: str, offset: int) -> None:
    with pytest.raises(CasBufferError) as info:
        parse_cas_pvrs(buf)
    assert str(info.value) == error
    assert info.value.offset == offset


@pytest.mark.parametrize("buf", [bytes(4096), bytes(5000), b"\xff" * 4096, b"\xff" * 4100])
def test_cas_reader_stops_at_512_entries(buf: bytes) -> None:
    parsed = parse_cas_pvrs(buf)
    assert parsed.capped and len(parsed.entries) == 512 and parsed.end_offset == 4096


# ---------------------------------------------------------------- --pvr-list hex (CLI)


@MANY
@given(any_text)
def test_pvr_list_hex_typed_errors(text: str) -> None:
    try:
        buf = common.parse_pvr_list(text)
    except InvalidValueError as err:
        if "\n" not in text and "\r" not in text:
            one_line(err)
        return
    assert isinstance(buf, bytes) and buf
    try:
        parse_cas_pvrs(buf)  # what the engine gets: any bytes, typed answer
    except CasBufferError as err:
        assert 0 <= err.offset <= len(buf)


@MANY
@given(st.binary(min_size=1, max_size=64), st.sampled_from([" ", ":", ",", "_", "\n"]),
       st.booleans())
def test_pvr_list_round_trip(buf: bytes, sep: str, prefix: bool) -> None:
    words = [buf[i:i + 4].hex() for i in range(0, len(buf), 4)]
    text = sep.join(("0x" if prefix else "") + w for w in words)
    assert common.parse_pvr_list(text) == buf


# ---------------------------------------------------------------- names


@MANY
@given(any_text, st.sampled_from(ALL_PROFILES))
def test_max_cpu_compat_names(text: str, profile: object) -> None:
    try:
        mode = parse_max_cpu_compat(text, profile)  # type: ignore[arg-type]
    except InvalidModeError as err:
        assert str(err) == f'Invalid compatibility mode "{text}"'
        assert err.value == text
        return
    names = [m.name for m in profile.rules.modes]  # type: ignore[attr-defined]
    assert (mode is None and text == "") or (mode is not None and mode.name == text
                                             and text in names)


@MANY
@given(st.one_of(any_text, st.sampled_from([m.name for m in HEAD.models]).map(str.upper),
                 st.sampled_from([f"{m.pvr:08x}" for m in HEAD.models])),
       st.sampled_from(ALL_PROFILES))
def test_cpu_names(text: str, profile: object) -> None:
    p = profile
    try:
        model = resolve_cpu(text, p.cpu_models, p.cpu_aliases)  # type: ignore[attr-defined]
    except UnknownCpuError as err:
        assert str(err) == f"unable to find CPU model '{text}'"
        return
    assert model in p.cpu_models  # type: ignore[attr-defined]
    again = resolve_cpu(model.name, p.cpu_models, p.cpu_aliases)  # type: ignore[attr-defined]
    assert again is model


@MANY
@given(st.one_of(any_text, st.sampled_from(PROFILE_NAMES)))
def test_profile_names(text: str) -> None:
    try:
        profile = parse_profile(text)
    except UnknownProfileError as err:
        if "\n" not in text and "\r" not in text:
            one_line(err)
        assert err.name == text
        return
    # a profile name is that profile; a QEMU version says how it was resolved
    assert profile.name == text or profile.resolution.startswith(f"{text.strip()}: ")
    assert parse_profile(profile.name).name == profile.name  # the name round-trips


@MANY
@given(st.one_of(any_text, st.lists(st.sampled_from(EVENT_NAMES), min_size=1)
                 .map(",".join)))
def test_event_lists(text: str) -> None:
    try:
        events = parse_events(text)
    except InvalidValueError as err:
        if "\n" not in text and "\r" not in text:
            one_line(err)
        return
    assert all(e in EVENT_NAMES for e in events)
    assert parse_events(",".join(events)) == events


@MANY
@given(st.integers(-3, 2100), st.integers(-1, 10), st.one_of(st.none(), st.integers(-1, 3000)),
       st.sampled_from(["tcg", "kvm-hv", "kvm-pr", "kvm-pr-ignore", "kvm", "xen", ""]),
       st.one_of(st.none(), line_text, st.sampled_from(["power8", "power9"])))
def test_machine_options(smp: int, threads: int, max_cpus: int | None, accel: str,
                         host: str | None) -> None:
    options = MachineOptions(cpu="power9", smp=smp, threads=threads, max_cpus=max_cpus,
                             accel=accel, host_cpu=host)
    try:
        config = parse_options(options)
    except InputError as err:
        one_line(err)
        return
    assert 1 <= config.threads <= config.smp and config.smp % config.threads == 0
    assert config.smp <= config.max_cpus


def test_names_with_control_characters_are_echoed_raw() -> None:
    """One-line messages hold for typed text; a name with a newline is echoed as typed (as
    QEMU does), so the engine message spans two lines. The CLI's handler folds whitespace
    before printing; the engine keeps the raw value in ``err.name`` / ``err.value``."""
    with pytest.raises(UnknownCpuError) as info:
        resolve_cpu("power9\nx", HEAD.models, {})
    assert info.value.name == "power9\nx"


# ---------------------------------------------------------------- migration stream bytes


@MANY
@given(st.one_of(st.binary(max_size=300),
                 st.tuples(streams, st.integers(0, 400), st.integers(0, 7)).map(
                     lambda t: _flip(encode_stream(t[0]), t[1], t[2])),
                 st.tuples(streams, st.integers(0, 400)).map(
                     lambda t: encode_stream(t[0])[:t[1]])))
def test_stream_reader_typed_errors(data: bytes) -> None:
    try:
        stream = decode_stream(data)
    except MigrationStreamError as err:
        one_line(err)
        assert 0 <= err.offset <= len(data)
        return
    assert decode_stream(encode_stream(stream)) == stream


def _flip(data: bytes, pos: int, bit: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    out[pos % len(out)] ^= 1 << bit
    return bytes(out)


@MANY
@given(streams)
def test_stream_round_trip(stream: object) -> None:
    data = encode_stream(stream)  # type: ignore[arg-type]
    assert decode_stream(data) == stream
    assert encode_stream(decode_stream(data)) == data


@MANY
@given(streams, st.integers(0, 10_000))
def test_stream_truncation_always_refused(stream: object, cut: int) -> None:
    data = encode_stream(stream)  # type: ignore[arg-type]
    cut %= len(data)
    with pytest.raises(MigrationStreamError) as info:
        decode_stream(data[:cut])
    assert 0 <= info.value.offset <= cut


# ---------------------------------------------------------------- PCR values


@MANY
@given(st.one_of(any_text, st.integers(-5, 2**70).map(hex),
                 st.integers(0, 2**64 - 1).map(lambda v: f"{v:016x}")))
def test_pcr_value_text(text: str) -> None:
    try:
        value = common.parse_pcr_value(text)
    except InvalidValueError as err:
        if "\n" not in text and "\r" not in text:
            one_line(err)
        return
    assert 0 <= value < 2**64
    assert common.parse_pcr_value(f"0x{value:016x}") == value


@MANY
@given(st.integers(0, 2**64 - 1), st.sampled_from(["qemu", "linux"]))
def test_pcr_decode_is_total(value: int, view: str) -> None:
    names = decode_pcr(value, view)
    assert all(isinstance(n, str) and n for n in names)
    assert len(set(names)) == len(names)


@MANY
@given(st.one_of(st.sampled_from([0, *(m for m in range(0x0F000000, 0x0F000009))]),
                 st.integers(0, 0xFFFFFFFF)),
       st.sampled_from(FAMILIES), st.sampled_from(KERNELS))
def test_kvm_hv_arch_compat_values(value: int, host: CpuFamily, kernel: KernelRelease) -> None:
    result = kvm_hv_pcr(host, value, kernel)
    assert result.errno in (0, 22)
    assert 0 <= result.pcr < 2**64
    if result.errno:  # nothing held, or 7.2's poisoned vcore (PVR_ARCH_INVALID, PCR_MASK)
        assert (result.stored, result.pcr) in ((None, 0), (0xFFFFFFFF, kernel.reserved_pcr))


@MANY
@given(st.one_of(st.integers(-(2**40), -1), st.integers(2**32, 2**70)))
def test_one_reg_value_size_checked(value: int) -> None:
    from powercompat.accel.kernels import PrIgnoreKernel
    from powercompat.catalog.kvm import KVM_REG_PPC_ARCH_COMPAT

    kernel = PrIgnoreKernel()
    kernel.create_vcpu(0)
    with pytest.raises(KvmError) as info:
        kernel.set_one_reg(0, KVM_REG_PPC_ARCH_COMPAT, value)
    assert info.value.errno == 22
    one_line(info.value)


def test_only_typed_errors_escape_every_parser_on_garbage() -> None:
    """Belt and braces: a few hostile values through every parser at once."""
    hostile = ["", " ", "\x00", "0x", "-1", "💥", "power9" * 100, "0x" + "f" * 100]
    for text in hostile:
        for fn in (parse_profile, parse_events, common.parse_pvr_list, common.parse_pcr_value,
                   lambda t: resolve_cpu(t, HEAD.models, {}),
                   lambda t: parse_max_cpu_compat(t, ALL_PROFILES[-1])):
            try:
                fn(text)
            except PowerCompatError as err:
                assert str(err)
    for blob in (b"", b"\x00", b"QEVM", b"\xff" * 9):
        with pytest.raises((MigrationStreamError, CasBufferError)):
            decode_stream(blob)
    assert pack([]) == b""
