"""``fleet plan --json``: every answer is there, by reference, and the size follows hosts +
guests (issue #13: it followed guest classes x host classes, 492 MB for 198 x 5,544)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from powercompat.catalog.guests import GUESTS
from powercompat.fleet.inventory import load_inventory
from powercompat.fleet.plan import FleetPlan, plan
from powercompat.profiles import parse_profile


@pytest.fixture
def example(example_paths: list[Path]) -> FleetPlan:
    return plan(load_inventory(example_paths))


def _answers_from_json(data: dict[str, object], guest_index: int
                       ) -> dict[int, tuple[dict[str, object], dict[str, object]]]:
    """host class -> (start verdict, migrate verdict), read only from the JSON."""
    verdicts = data["verdicts"]
    rows = data["rows"]
    scopes = data["scopes"]
    classes = data["guest_classes"]
    guests = data["guests"]
    assert isinstance(verdicts, list) and isinstance(rows, list)
    assert isinstance(scopes, list) and isinstance(classes, list) and isinstance(guests, list)
    c = classes[guests[guest_index]["guest_class"]]
    scope = scopes[c["scope"]]
    return {cls: (verdicts[rows[c["start"]][k]], verdicts[rows[c["migrate"]][k]])
            for k, cls in enumerate(scope["host_classes"])}


def test_json_rows_give_every_guests_answer_on_every_host(example: FleetPlan) -> None:
    data = json.loads(json.dumps(example.to_json()))
    for index, guest in enumerate(example.inventory.guests):
        by_class = _answers_from_json(data, index)
        detail = example.guest_detail(guest.name)
        assert {example.host_class_of[a.host.name] for a in detail.hosts} == set(by_class)
        for answer in detail.hosts:
            start, moved = by_class[example.host_class_of[answer.host.name]]
            assert start == answer.start.to_json()
            if answer.migrate is not None:
                assert moved == answer.migrate.to_json()


def test_json_counts_match_the_rows(example: FleetPlan) -> None:
    data = example.to_json()
    verdicts, rows, scopes = data["verdicts"], data["rows"], data["scopes"]
    assert isinstance(verdicts, list) and isinstance(rows, list) and isinstance(scopes, list)
    for c in data["guest_classes"]:  # type: ignore[attr-defined]
        scope = scopes[c["scope"]]
        start = [verdicts[v]["ok"] for v in rows[c["start"]]]
        assert c["hosts"] == sum(scope["hosts"])
        assert c["can_start"] == sum(n for n, ok in zip(scope["hosts"], start, strict=True)
                                     if ok)
        assert c["migration_targets"] == c["hosts"] - (1 if c["in_scope"] else 0)


MAXIMA = (None, "power6", "power7", "power7+", "power8", "power9", "power10")


def _matrix(qemu: str) -> dict[str, list[dict[str, object]]]:
    """Every CPU model of one profile under three KVM flavours, 28 guests each, no group
    restriction: every guest class faces every host class (the issue's shape, one profile)."""
    from powercompat.profiles import parse_profile

    hosts = [(f"{model.name}-{kvm}", model.name, kvm)
             for model in parse_profile(qemu).cpu_models for kvm in ("hv", "pr", "pr-ignore")]
    return {
        "hosts": [{"name": n, "cpu": cpu, "kvm": kvm, "qemu": qemu, "group": f"g-{kvm}"}
                  for n, cpu, kvm in hosts],
        "guests": [{"name": f"{n}/{g.name}/{m or 'none'}", "host": n, "profile": g.name,
                    "max_cpu_compat": m, "group": None}
                   for n, _, _ in hosts for g in GUESTS for m in MAXIMA],
    }


def test_json_size_follows_hosts_plus_guests(tmp_path: Path) -> None:
    records = _matrix("head")
    path = tmp_path / "matrix.json"
    path.write_text(json.dumps(records))
    inv = load_inventory([path])
    result = plan(inv)
    # every guest its own class (head's 11 models x 3 flavours x 5 guests x 7 maxima)
    assert len(result.guest_classes) == len(inv.guests) == len(inv.hosts) * len(GUESTS) * 7
    assert len(result.host_classes) == len(inv.hosts) == 3 * len(parse_profile("head").cpu_models)
    size = len(json.dumps(result.to_json()))
    # the old JSON spent ~450 bytes per (guest class, host class): 840 x 30 pairs, 11 MB
    assert size < 1000 * (len(inv.hosts) + len(inv.guests)), size
    assert len(result.rows) < len(result.guest_classes) // 2
