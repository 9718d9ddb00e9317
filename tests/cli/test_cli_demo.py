"""``powercompat demo``: the story facts, as the engine tells them."""

from __future__ import annotations

from cli_runner import Result, Runner

KVM_EINVAL = "Unable to set CPU compatibility mode in KVM: Invalid argument"


def _row(r: Result, first: str, *cells: str) -> bool:
    """Is there a table line starting with ``first`` whose cells include ``cells`` in order?"""
    for line in r.lines:
        if line.startswith(first + " "):
            rest = line
            for cell in cells:
                if cell not in rest:
                    break
                rest = rest[rest.index(cell) + len(cell):]
            else:
                return True
    return False


def test_demo_kvm_pr_story(run: Runner) -> None:
    r = run("demo")
    assert (r.code, r.err) == (0, "")
    assert _row(r, "2.10-pre", "NO, QEMU exits", "1", "reset: SET 0x00000000 -> EINVAL",
                "raw (0x00000000)")
    assert _row(r, "2.10", "yes, CAS fails", "1", "cas: SET 0x00000000 -> EINVAL")
    assert _row(r, "2.11", "yes", "1", "cas: SET 0x0f000004 -> EINVAL", "raw (0x00000000)")
    assert _row(r, "head", "yes", "1", "cas: SET 0x0f000004 -> EINVAL", "raw (0x00000000)")
    assert _row(r, "powercompat", "yes", "1", "cas: GET - -> EINVAL")
    assert f"               QEMU: {KVM_EINVAL}" in r.lines
    assert any(line.startswith("  2.10-pre     66d5c492 ") for line in r.lines)
    assert any(line.startswith("  2.11         cc7b35b1: ") for line in r.lines)


def test_demo_kvm_hv_old_value_bug(run: Runner) -> None:
    r = run("demo")
    assert _row(r, "2.10", "1", "reset: SET 0x00000000 -> ok", "power7 (0x0f000003)", "raw")
    assert _row(r, "2.11", "1", "reset: SET 0x0f000003 -> ok", "power7 (0x0f000003)", "power7")
    assert any("PCR 0x0fffffffffffffe5" in line for line in r.lines)
    assert any(line.startswith("  2.10  5dfaa532 passes the OLD compat_pvr") for line in r.lines)


def test_demo_json(run: Runner) -> None:
    data = run("demo", "--json").json
    pr = {row["qemu"]: row for row in data["kvm_pr"]["rows"]}  # type: ignore[index]
    assert pr["2.10-pre"]["started"] is False
    assert pr["2.10-pre"]["error"] == KVM_EINVAL
    assert pr["2.11"]["started"] is True and pr["2.11"]["error"] is None
    hv = {row["qemu"]: row for row in data["kvm_hv"]["rows"]}  # type: ignore[index]
    assert hv["2.10"]["final"]["compat_pvr"] == "0x0f000003"
    assert hv["2.10"]["final"]["kernel_arch_compat"] == "0x00000000"
    assert hv["2.11"]["final"]["kernel_arch_compat"] == "0x0f000003"
