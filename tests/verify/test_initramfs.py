"""The initramfs writer: parse back what it wrote (newc layout, device node, init script)."""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

import pytest

from powercompat.verify.initramfs import (
    DONE,
    INIT_SCRIPT,
    CpioEntry,
    build_initramfs,
    read_newc,
    write_newc,
)


def test_round_trip_keeps_names_modes_data_and_rdev() -> None:
    entries = [
        CpioEntry("bin", stat.S_IFDIR | 0o755),
        CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdevmajor=5, rdevminor=1),
        CpioEntry("a", stat.S_IFREG | 0o644, b"xyz"),  # odd sizes exercise the padding
        CpioEntry("abcd", stat.S_IFREG | 0o644, b"12345"),
    ]
    assert read_newc(write_newc(entries)) == entries


def test_every_header_is_4_byte_aligned_and_ends_with_trailer() -> None:
    blob = write_newc([CpioEntry("x", stat.S_IFREG | 0o644, b"1")])
    assert len(blob) % 4 == 0
    assert blob.startswith(b"070701")
    assert b"TRAILER!!!\0" in blob


def test_bad_magic_names_the_offset() -> None:
    with pytest.raises(ValueError, match="bad newc magic at byte 0"):
        read_newc(b"070707" + b"0" * 200)


def test_built_initramfs(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF fake busybox")
    out = build_initramfs(busybox, tmp_path / "initrd.gz")
    entries = {e.name: e for e in read_newc(gzip.decompress(out.read_bytes()))}
    for d in ("bin", "sbin", "usr", "proc", "sys", "dev", "tmp"):
        assert stat.S_ISDIR(entries[d].mode)
    console = entries["dev/console"]
    assert stat.S_ISCHR(console.mode)
    assert (console.rdevmajor, console.rdevminor) == (5, 1)
    assert entries["bin/busybox"].data == b"\x7fELF fake busybox"
    assert entries["bin/busybox"].mode & 0o111
    init = entries["init"]
    assert init.mode & 0o111
    assert init.data.decode() == INIT_SCRIPT
    assert stat.S_ISLNK(entries["bin/sh"].mode) and entries["bin/sh"].data == b"busybox"


def test_init_script_prints_markers_then_powers_off() -> None:
    assert "cat /proc/cpuinfo" in INIT_SCRIPT
    assert "/proc/device-tree/cpus/*@*/cpu-version" in INIT_SCRIPT
    assert INIT_SCRIPT.index(DONE) < INIT_SCRIPT.index("poweroff -f")


def test_build_is_reproducible(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"bb")
    a = build_initramfs(busybox, tmp_path / "a.gz").read_bytes()
    b = build_initramfs(busybox, tmp_path / "b.gz").read_bytes()
    assert a == b
