"""``powercompat diff``: text grouped by severity and kind, JSON as the contract, inventories,
bad input as one line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from cli_runner import Runner

from powercompat.upgrade.diff import diff

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fleet"


def test_json_is_the_diff(run: Runner) -> None:
    r = run("diff", "--from", "7.2", "--to", "10.0", "--json")
    assert r.code == 0
    data = r.json
    assert data == json.loads(json.dumps(diff("7.2", "10.0").to_json()))
    assert "impact" not in data


def test_text_groups_by_severity_then_kind(run: Runner) -> None:
    r = run("diff", "--from", "7.2", "--to", "10.0")
    assert r.code == 0
    lines = r.lines
    # the header counts every entry of the diff, by severity (computed apart from the text)
    severities = Counter(d.severity for d in diff("7.2", "10.0").changes)
    assert severities["breaks"] >= 9  # 2 models, 1 alias, 6 power7+ start-ups
    assert lines[0] == (
        f"QEMU 7.2 -> 10.0: {sum(severities.values())} differences "
        f"({severities['breaks']} break a configuration, {severities['changes']} change one, "
        f"{severities['fixes']} fix one, {severities['info']} informational)")
    heads = [line for line in lines if line and not line.startswith(" ")][4:]
    assert heads == ["breaks: a configuration that works on 7.2 fails on 10.0",
                     "changes: works on both, differently",
                     "fixes: refused on 7.2, works on 10.0",
                     "info: new names and modes, other wording"]
    block = lines.index("  startup-changed (6, binary)")
    assert lines[block + 1: block + 10] == [
        "    power10_v2.0/power7+",
        "    power8_v2.0/power7+",
        "    power8e_v2.1/power7+",
        "    power8nvl_v1.0/power7+",
        "    power9/power7+",
        "    power9_v2.0/power7+",
        "      7.2:  starts",
        "      10.0: refused: Compatibility PVR 0x0f100003 not valid for CPU",
        "      change: ac0fbbb2: an older CPU cannot take a newer processor's mode "
        "(spapr_logical_pvr check)",
    ]
    assert "    power9_v2.0/{unset,power8,power9}/threads=2" in lines


def test_inventory_names_the_hosts_and_what_to_do(run: Runner) -> None:
    r = run("diff", "--from", "7.2", "--to", "10.0", str(EXAMPLES / "hosts.csv"),
            str(EXAMPLES / "guests.csv"), "--json")
    assert r.code == 0
    impact = r.json["impact"]
    assert isinstance(impact, dict)
    hosts = {h["name"]: h for h in impact["hosts"]}
    assert set(hosts) == {"p9-a", "p9-b", "p9-c", "p9-pr", "p10-a", "p10-b"}
    p9 = hosts["p9-a"]["findings"][0]
    assert (p9["kind"], p9["subject"]) == ("alias-retargeted", "power9")
    assert p9["advice"] == ("keep the processor: start guests with -cpu power9_v2.0 (both "
                            "releases know it)")
    assert impact["hosts_total"] == 8 and impact["guests_total"] == 9


def test_inventory_guest_that_will_not_start_gets_a_mode(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "inv.json").write_text(json.dumps({
        "hosts": [{"name": "h", "cpu": "power9", "qemu": "7.2", "group": "g"}],
        "guests": [{"name": "vm", "profile": "linux-6.1", "max_cpu_compat": "power7+",
                    "host": "h", "group": None}]}))
    r = run("diff", "--from", "7.2", "--to", "10.0", str(tmp_path / "inv.json"), "--json")
    guest = r.json["impact"]["guests"][0]
    assert guest["name"] == "vm" and guest["severity"] == "breaks"
    finding = guest["findings"][0]
    assert (finding["kind"], finding["subject"]) == ("startup-changed", "power9/power7+")
    assert finding["advice"] == ("set max-cpu-compat=power7 before upgrading (both releases "
                                 "start it; linux-6.1 still negotiates power7); it applies at "
                                 "the guest's next reboot")
    text = run("diff", "--from", "7.2", "--to", "10.0", str(tmp_path / "inv.json"))
    assert "1 guest of 1 affected" in text.out
    assert "set max-cpu-compat=power7" in text.out


def test_bad_input_is_one_line(run: Runner, tmp_path: Path) -> None:
    r = run("diff", "--from", "7.3", "--to", "10.0")
    assert r.code == 1 and r.out == ""
    assert r.err.startswith("powercompat: error: unknown QEMU profile '7.3' (valid: ")
    assert r.err.count("\n") == 1
    missing = run("diff", "--from", "7.2", "--to", "10.0", str(tmp_path / "none.csv"))
    assert missing.code == 1 and missing.err.count("\n") == 1
    usage = run("diff", "--from", "7.2")
    assert usage.code == 2


REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def test_verify_diff_offline_holds_the_engine(run: Runner) -> None:
    """Every answer is recorded (the probes of earlier real diffs are reused): no QEMU runs."""
    r = run("verify", "diff", "--from", "trixie", "--to", "sid", "--no-probes",
            "--recorded", str(REAL))
    assert r.code == 0, r.err
    assert "engine: 4 of 4 real differences reported with the same values" in r.out
    five = run("verify", "diff", "--from", "5.2", "--to", "7.2", "--no-probes",
               "--recorded", str(REAL), "--json")
    # the recorded 5.2 <-> 7.2 live migrations (pseries-5.2 on both ends) are real
    # differences too: 7.2 sends spapr_iommu at version 3, which 5.2 cannot load
    assert five.code == 0, five.out
    moves = [(d["subject"], d["direction"], d["from"], d["to"]) for d in five.json["real"]
             if d["kind"] == "migration-refused"]
    assert moves == [("power9_v2.0/unset", "back",
                      "refuses: savevm: unsupported version 3 for 'spapr_iommu' v2", "sends")]
    assert (five.json["agreed"], five.json["missed"], five.json["invented"]) == (84, [], [])
    trixie = run("verify", "diff", "--from", "bookworm", "--to", "trixie", "--no-probes",
                 "--recorded", str(REAL))
    assert trixie.code == 0, trixie.out
    assert "engine: 111 of 111 real differences reported with the same values" in trixie.out
