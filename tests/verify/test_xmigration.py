"""The cross-release migration harness's pure parts (verify/xmigration.py), and one live case
per kind of outcome (marker ``live``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from powercompat.verify.errors import BootError
from powercompat.verify.xmigration import (
    CASES,
    Side,
    Stage,
    XCase,
    beats,
    error_lines,
    options,
    pair_cases,
    portable,
    run_pair,
    tcg_lock,
)


def test_machine_option_leaves_an_unset_maximum_out() -> None:
    assert Side("7.2", "power9").machine_option() == "pseries,x-vof=on"
    assert Side("5.2", "power9", firmware="slof").machine_option() == "pseries"
    assert (Side("10.0", "power9", "power8", "pseries-7.2").machine_option()
            == "pseries-7.2,x-vof=on,max-cpu-compat=power8")


def test_options_and_their_portable_form() -> None:
    vmlinux, initrd, qmp = Path("/c/vmlinux-6.1"), Path("/t/initrd.gz"), Path("/t/dst.sock")
    argv = options(Side("10.0", "power9", None, "pseries-7.2"), vmlinux, initrd, qmp,
                   incoming=4444, paused=False)
    assert argv[argv.index("-incoming") + 1] == "tcp:127.0.0.1:4444"
    assert "-S" not in argv
    shown = portable(argv, vmlinux, initrd, qmp, 4444)
    assert shown[0] == "qemu-system-ppc64"
    assert "vmlinux-6.1" in shown and "initrd.gz" in shown
    assert "unix:QMP.sock,server=on,wait=off" in shown
    assert shown[-1] == "tcp:127.0.0.1:PORT"
    assert not any(str(p) in a for a in shown for p in (vmlinux.parent, qmp.parent))
    paused = options(Side("7.2", "power9"), vmlinux, initrd, qmp, incoming=None, paused=True)
    assert "-S" in paused and "-incoming" not in paused


def test_beats_and_error_lines() -> None:
    console = "x\n@@POWERCOMPAT-ALIVE 0\r\n@@POWERCOMPAT-ALIVE 1\n@@POWERCOMPAT-ALIVE 12\n"
    assert beats(console) == [0, 1, 12]
    stderr = ("qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ibs=w\n"
              "1234@1.5:spapr_cas_pvr current=0x0, explicit_match=1, new=0xf000005\n"
              "qemu-system-ppc64: cpu/slb: incoming version_id 2 is too new for local "
              "version_id 1\n"
              "qemu-system-ppc64: load of migration failed: Invalid argument\n")
    assert error_lines(stderr) == [
        "cpu/slb: incoming version_id 2 is too new for local version_id 1",
        "load of migration failed: Invalid argument"]


def test_case_lists() -> None:
    keys = [c.key for cases in CASES.values() for c in cases]
    assert len(keys) == len(set(keys)), "a case is listed twice"
    assert len(keys) >= 40
    cross = [c for cases in CASES.values() for c in cases if c.src.release != c.dst.release]
    assert len(cross) >= 40
    for pair, cases in CASES.items():
        src, dst = pair.split(">")
        assert all((c.src.release, c.dst.release) == (src, dst) for c in cases)
        if src == dst:  # a same-release control
            assert all(c.purpose.startswith("control: ") for c in cases)
        assert pair_cases(src, dst) == cases
    assert pair_cases("7.2", "2.9") == ()
    # forward and backward for each of the three pairs, and 5.2 to and from the others
    pairs = {tuple(p.split(">")) for p in CASES}
    assert pairs >= {("7.2", "10.0"), ("10.0", "7.2"), ("10.0", "11.1"), ("11.1", "10.0"),
                     ("7.2", "11.1"), ("11.1", "7.2")}
    assert {("5.2", "7.2"), ("7.2", "5.2")} <= pairs
    for cases in CASES.values():  # 5.2 has no VOF: SLOF on both ends of its pairs
        for c in cases:
            slof = "5.2" in (c.src.release, c.dst.release)
            assert (c.src.firmware, c.dst.firmware) == (("slof",) * 2 if slof else ("vof",) * 2)


def test_run_pair_refuses_mixed_or_empty_input() -> None:
    def load(_r: str, _g: str) -> object:
        raise AssertionError("nothing may be loaded for bad input")

    with pytest.raises(BootError):
        run_pair([], load)  # type: ignore[arg-type]
    mixed = [XCase(Side("7.2", "power9"), Side("10.0", "power9"), "a"),
             XCase(Side("10.0", "power9"), Side("7.2", "power9"), "b")]
    with pytest.raises(BootError):
        run_pair(mixed, load)  # type: ignore[arg-type]
    with pytest.raises(BootError):
        run_pair(mixed[:1], load, batch=0)  # type: ignore[arg-type]


def test_tcg_lock_is_exclusive(tmp_path: Path) -> None:
    import fcntl

    lock = tmp_path / "tcg.lock"
    with tcg_lock(lock) as waited:
        assert waited >= 0
        with lock.open("a") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with lock.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on leaving
    with tcg_lock(None) as waited:
        assert waited == 0.0


# --- live: two real releases ----------------------------------------------------------------


@pytest.mark.live
def test_live_cross_release_move_and_refusal() -> None:
    from powercompat.verify import process
    from powercompat.verify.assets import default_cache_dir, load_assets
    from powercompat.verify.errors import AssetError
    from powercompat.verify.xmigration import DEFAULT_LOCK

    def load(release: str, guest: str) -> object:
        try:
            return load_assets(default_cache_dir(), release=release, guest=guest)
        except AssetError as err:
            pytest.skip(f"LIVE TEST SKIPPED: {err}")

    cases = [
        XCase(Side("7.2", "power9", None, "pseries-7.2"),
              Side("10.0", "power9", None, "pseries-7.2"), "moves after CAS"),
        XCase(Side("7.2", "power9", None, "pseries-7.2"),
              Side("10.0", "power9", None, "pseries-7.2"), "raw PVR", Stage.BEFORE_BOOT),
        XCase(Side("7.2", "power9", None, "pseries-10.0"),
              Side("10.0", "power9", None, "pseries-10.0"), "no such machine on 7.2"),
    ]
    with process.guard():
        run = run_pair(cases, load,  # type: ignore[arg-type]
                       lock=DEFAULT_LOCK if DEFAULT_LOCK.exists() else None)
    moved, raw, machine = run.migrations
    assert moved["moved"] and moved["guest_after"]["alive"]
    assert moved["src"]["cas"][-1]["new"] == 0x0F000005
    assert not raw["moved"]
    assert raw["dst"]["first_error"] == "error while loading state for instance 0x0 of device 'cpu'"
    assert raw["dst"]["exit_status"] == 1
    assert machine["src"]["first_error"] == "unsupported machine type"
    assert machine["src"]["exit_status"] == 1 and not machine["moved"]
    assert process.live_children() == {}
