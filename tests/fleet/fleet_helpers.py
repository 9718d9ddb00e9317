"""Inventory builders for the fleet tests."""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fleet"

def write_json(tmp: Path, hosts: list[dict[str, object]], guests: list[dict[str, object]],
               name: str = "inv.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps({"hosts": hosts, "guests": guests}))
    return path


def host(name: str, cpu: str, group: str = "g", kvm: str = "hv", qemu: str = "head"
         ) -> dict[str, object]:
    return {"name": name, "cpu": cpu, "kvm": kvm, "qemu": qemu, "group": group}


def guest(name: str, on: str, max_compat: str | None = None, profile: str = "linux-6.1",
          group: str | None = None, machine: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {"name": name, "profile": profile, "max_cpu_compat": max_compat,
                              "host": on, "group": group}
    if machine is not None:
        out["machine"] = machine
    return out
