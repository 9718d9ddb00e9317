"""``powercompat fleet plan`` and ``fleet synth`` through the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from fleet_helpers import EXAMPLES

from powercompat.cli.main import EXIT_INTERNAL, main
from powercompat.fleet.inventory import load_inventory
from powercompat.fleet.synth import synthesize


def run(*args: str) -> tuple[int, str, str]:
    """``powercompat fleet ARGS`` through main(); an internal error fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["fleet", *args])
    assert code != EXIT_INTERNAL, err.getvalue()
    return code, out.getvalue(), err.getvalue()


def example_args() -> list[str]:
    return [str(EXAMPLES / "inventory.json"), str(EXAMPLES / "domains" / "mail.xml")]


def test_plan_table_names_groups_settings_and_reasons() -> None:
    code, out, _ = run("plan", *example_args())
    assert code == 0
    assert "8 hosts in 5 host classes, 10 guests in 10 guest classes, 3 host groups" in out
    assert "-machine pseries,max-cpu-compat=power9,kvm-type=hv -accel" in out
    # refresh mixes QEMU 7.2 and head: no stream goes back to 7.2 (cpu/slb version 2)
    assert "note: refresh: its hosts run QEMU 7.2, head: -M pseries-7.2 on every guest" in out
    assert "cpu/slb: incoming version_id" in out  # the table wraps the rest
    assert "Unable to set CPU compatibility mode in KVM: Invalid argument" in out
    assert "Compatibility PVR 0x0f000006 not valid for CPU" in out


def test_committed_example_output_is_current() -> None:
    """examples/fleet/plan.txt is this command's output (regenerate it if this fails)."""
    code, out, _ = run("plan", *example_args(), "--limit", "0")
    assert code == 0
    committed = (EXAMPLES / "plan.txt").read_text()
    assert out == committed.split("\n", 2)[2]  # after the "$ command" line and a blank


def test_plan_json() -> None:
    code, out, _ = run("plan", *example_args(), "--json")
    assert code == 0
    data = json.loads(out)
    groups = {g["name"]: g for g in data["groups"]}
    assert (groups["refresh"]["status"], groups["refresh"]["machine"]) == ("none", "pseries-7.2")
    assert groups["prod"]["machine"] == "pseries"
    assert groups["lab"]["status"] == "raw"
    assert groups["prod"]["heat"]["power10"] == pytest.approx(2 / 3)
    assert {g["name"] for g in data["guests"]} >= {"web1", "erp", "mail"}


def test_plan_one_guest() -> None:
    code, out, _ = run("plan", *example_args(), "--guest", "web1")
    assert code == 0
    assert "guest web1: linux-6.1, max-cpu-compat=none, on p9-a" in out
    assert "(its current host)" in out
    code, out, _ = run("plan", *example_args(), "--guest", "web1", "--json")
    assert [h["host"] for h in json.loads(out)["hosts"]] == ["p8-a", "p8-b", "p9-a", "p9-b"]


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_plot(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / f"heat{suffix}"
    code, out, _ = run("plan", *example_args(), "--plot", str(picture))
    assert code == 0
    assert out.endswith(f"heat map written to {picture}\n")
    head = picture.read_bytes()[:200]
    assert (b"<svg" in head or b"<?xml" in head) if suffix == ".svg" else \
        head.startswith(b"\x89PNG")


def test_check_exits_1_when_guests_need_a_change() -> None:
    code, _, err = run("plan", *example_args(), "--check")
    assert code == 1
    assert "some guests need a new max-cpu-compat" in err


def test_errors_are_one_line_through_main(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,cpu,group\na,power12,g\n")
    assert main(["fleet", "plan", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == f"powercompat: error: {bad}: row 2, field 'cpu': unable to find CPU model " \
                  "'power12' (QEMU profile head)\n"
    assert main(["fleet", "plan", *example_args(), "--guest", "nobody", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] == "no guest named 'nobody' in the inventory"
    assert main(["fleet", "plan", *example_args(), "--plot", str(tmp_path / "x.pdf")]) == 1
    assert "must end in .svg or .png" in capsys.readouterr().err


def test_synth_is_deterministic_and_plannable(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.csv"
    for path in (a, b):
        code, out, _ = run("synth", "--hosts", "60", "--guests", "80", "--seed", "7", "-o",
                           str(path))
        assert code == 0 and out == f"wrote {path}: 60 hosts in 7 groups, 80 guests\n"
    assert a.read_bytes() == b.read_bytes()
    run("synth", "--hosts", "60", "--guests", "80", "--seed", "7", "-o", str(c))
    json_inv, csv_inv = load_inventory([a]), load_inventory([c])
    assert json_inv.hosts == csv_inv.hosts
    assert [(g.name, g.kind) for g in json_inv.guests] == [
        (g.name, g.kind) for g in csv_inv.guests]
    code, out, _ = run("plan", str(c), "--limit", "2")
    assert code == 0 and "2 of " in out


def test_synth_mix() -> None:
    hosts, guests = synthesize(2000, 2000, 1)
    cpus = {h.cpu for h in hosts}
    assert {"power8", "power9", "power10", "power11"} <= cpus
    assert 0 < sum(h.kvm == "pr" for h in hosts) < len(hosts) // 10
    assert {h.qemu for h in hosts} == {"head", "7.2"}
    assert all(h.qemu == "head" for h in hosts if h.cpu == "power11")
    assert {g.max_cpu_compat for g in guests} >= {None, "power8", "power9", "power10"}
