"""Hypothesis strategies shared by the property tests: buffers, streams, machine options."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from powercompat.catalog.guests import GUESTS
from powercompat.catalog.history import HEAD
from powercompat.catalog.kernels import KERNELS
from powercompat.machine.migration import CpuRecord, MigrationStream
from powercompat.machine.options import MachineOptions
from powercompat.profiles import ALL_PROFILES, PROFILE_NAMES
from powercompat.stress.generator import MODEL_ACCELS, spell_max

TERMINATOR = (0xFFFFFFFE, 0x0F000001)
WORDS = (0, 0xFFFFFFFF, 0xFFFF0000, 0xFFFE0000, 0xFFFFFFFE, 0x0F000001, 0x0F100003,
         *(m.pvr for m in HEAD.modes), 0x003F0000, 0x004A0000, 0x004B0000, 0x004D0000,
         0x004E0000, 0x004E1202, 0x00800000, 0x00820000)

u32 = st.integers(0, 0xFFFFFFFF)
word = st.one_of(st.sampled_from(WORDS), u32)
#: a pair that is not a terminator (the value has no bit outside the mask)
entry = st.tuples(word, word).map(lambda p: (p[0], p[1] & p[0]))


def pack(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(struct.pack(">II", m, v) for m, v in pairs)


#: what a guest can put in its CAS buffer: real lists, pair lists, hostile bytes
cas_buffers = st.one_of(
    st.sampled_from([g.cas_buffer for g in GUESTS]),
    st.lists(entry, max_size=16).map(lambda ps: pack([*ps, TERMINATOR])),
    st.lists(entry, max_size=16).map(pack),
    st.lists(st.tuples(word, word), max_size=16).map(pack),
    st.sampled_from([bytes(8), bytes(4096), bytes(4104), b"\xff" * 8, b"\xff" * 4096]),
    st.tuples(st.sampled_from([g.cas_buffer for g in GUESTS]), st.integers(0, 500)).map(
        lambda t: t[0][:t[1]]),
    st.binary(max_size=200),
)

records = st.builds(
    CpuRecord, st.integers(0, 0xFFFFFFFF), u32, st.integers(0, 2**64 - 1),
    st.one_of(st.none(), st.integers(1, 0xFFFFFFFF)))
streams = st.lists(records, max_size=8, unique_by=lambda r: r.index).map(
    lambda rs: MigrationStream(tuple(rs)))


@st.composite
def machine_options(draw: st.DrawFn, profile: str | None = None,
                    accel: str | None = None) -> MachineOptions:
    """Options from the catalogue (always parseable)."""
    name = profile or draw(st.sampled_from(PROFILE_NAMES))
    p = next(x for x in ALL_PROFILES if x.name == name)
    acc = accel or draw(st.sampled_from(MODEL_ACCELS))
    threads = draw(st.sampled_from((1, 1, 2, 4, 8)))
    smp = threads * draw(st.integers(1, 2))
    host = draw(st.sampled_from([None, *(m.name for m in p.cpu_models)])) \
        if acc == "kvm-hv" else None
    cpu = draw(st.sampled_from([m.name for m in p.cpu_models]))
    if host is not None and draw(st.booleans()):  # KVM HV runs the host's own processor
        cpu = "host"
    cpu, max_compat = spell_max(
        p, cpu, draw(st.sampled_from([None, *(m.name for m in p.rules.modes)])))
    return MachineOptions(
        cpu=cpu, smp=smp, threads=threads,
        max_cpus=smp + threads * draw(st.integers(0, 2)),
        max_cpu_compat=max_compat, accel=acc, host_cpu=host, qemu=p.name,
        host_kernel=draw(st.sampled_from([k.name for k in KERNELS])) if acc != "tcg" else None,
        host_page_size=draw(st.sampled_from([None, 4, 64])) if acc != "tcg" else None,
        hpt_max_page_size=draw(st.sampled_from([None, 4, 64, 16384])))
