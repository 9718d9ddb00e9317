"""Which hosts and guests of an inventory an upgrade touches, and what to do first.

Every host of the inventory is taken to move from the diff's --from release to its --to
release (the inventory's ``qemu`` column says where each is today; it is shown, not used).
A guest is its host's ``-cpu`` name (as the inventory spells it), its ``max-cpu-compat`` and
its guest kernel: the diff's entries about exactly that configuration are its findings, and
the advice is computed from the two releases' answers (a ``max-cpu-compat`` both start with,
a model name both know), never from a list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from powercompat.catalog.guests import GUEST_ALIASES
from powercompat.messages import hex32
from powercompat.upgrade.compare import SEVERITIES, Difference, subject_of
from powercompat.upgrade.diff import UpgradeDiff
from powercompat.upgrade.observe import Observations, Situation

#: the kinds that name a -cpu name (a host's CPU) as their subject
_NAME_KINDS: Final = ("model-removed", "alias-removed", "alias-retargeted", "pvr-changed",
                      "model-renamed")


@dataclass(frozen=True)
class Finding:
    """One diff entry that touches a host or guest, and what to do about it."""

    difference: Difference
    advice: str | None = None

    def to_json(self) -> dict[str, object]:
        d = self.difference
        return {"kind": d.kind, "subject": d.subject, "severity": d.severity,
                "from": d.before, "to": d.after, "guest": d.guest, "direction": d.direction,
                "commit": d.commit, "advice": self.advice}


@dataclass(frozen=True)
class Affected:
    """A host (``guest`` None) or a guest, with its findings, most severe first."""

    name: str
    host: str
    cpu: str
    max_cpu_compat: str | None
    kernel: str | None
    qemu_now: str
    findings: tuple[Finding, ...]

    @property
    def severity(self) -> str:
        return min((f.difference.severity for f in self.findings), key=SEVERITIES.index,
                   default="info")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "host": self.host, "cpu": self.cpu,
                                  "qemu_now": self.qemu_now, "severity": self.severity,
                                  "findings": [f.to_json() for f in self.findings]}
        if self.kernel is not None:
            out["guest_kernel"] = self.kernel
            out["max_cpu_compat"] = self.max_cpu_compat
        return out


@dataclass(frozen=True)
class Impact:
    """The inventory's hosts and guests an upgrade touches (unaffected ones are counted)."""

    hosts: tuple[Affected, ...]
    guests: tuple[Affected, ...]
    host_count: int
    guest_count: int

    def to_json(self) -> dict[str, object]:
        return {"hosts": [h.to_json() for h in self.hosts],
                "guests": [g.to_json() for g in self.guests],
                "hosts_total": self.host_count, "guests_total": self.guest_count,
                "hosts_affected": len(self.hosts), "guests_affected": len(self.guests)}


class _Entries:
    """The diff's entries by key, and the two releases' answers for advice."""

    def __init__(self, result: UpgradeDiff) -> None:
        self.before, self.after = result.before, result.after
        self.by_key = {d.key: d for d in result.changes}

    def get(self, kind: str, subject: str, guest: str = "", direction: str = ""
            ) -> Difference | None:
        return self.by_key.get((kind, subject, guest, direction))


def _starts(obs: Observations, name: str, mode: str | None) -> bool:
    start = obs.startup.get(Situation(name, mode))
    return start is not None and start.started


def _mode_advice(e: _Entries, name: str, mode: str | None, kernel: str) -> str | None:
    """The newest max-cpu-compat, no newer than ``mode``, that both releases start with,
    preferring one under which the guest negotiates on --to what it negotiated on --from."""
    modes = [m for m in e.after.catalog.modes if m in e.before.catalog.modes]
    if mode in modes:
        modes = modes[: modes.index(mode)]
    was = e.before.boots.get((kernel, Situation(name, mode)))
    fallback = None
    for candidate in reversed(modes):
        if not (_starts(e.before, name, candidate) and _starts(e.after, name, candidate)):
            continue
        now = e.after.boots.get((kernel, Situation(name, candidate)))
        if was is not None and now is not None and now.compat == was.compat:
            return (f"set max-cpu-compat={candidate} before upgrading (both releases start "
                    f"it; {kernel} still negotiates {was.compat}); it applies at the guest's "
                    "next reboot")
        fallback = fallback or candidate
    if fallback is not None:
        return (f"set max-cpu-compat={fallback} before upgrading (both releases start it); it "
                "applies at the guest's next reboot")
    return None


def _name_advice(e: _Entries, name: str, diff: Difference) -> str | None:
    """A -cpu name the --to release starts as the processor the --from release gave."""
    model = e.before.resolves.get(name)
    pvr = e.before.catalog.models.get(model) if model else None
    if diff.kind == "alias-retargeted" and model in e.after.resolves:
        return f"keep the processor: start guests with -cpu {model} (both releases know it)"
    if diff.kind == "pvr-changed":
        return (f"nothing to set: guests see PVR {diff.after} from their next start on "
                f"{e.after.release} (no -cpu name keeps {diff.before})")
    if diff.kind in ("model-removed", "alias-removed"):
        same = sorted(n for n, m in e.after.resolves.items()
                      if pvr is not None and e.after.catalog.models.get(m) == pvr)
        if same:
            return f"use -cpu {same[0]} on {e.after.release} (the same PVR, {hex32(pvr or 0)})"
        return (f"{e.after.release} has no CPU model with PVR {hex32(pvr or 0)}: move these "
                "guests to another CPU model before upgrading")
    return None


def _host_findings(e: _Entries, name: str) -> list[Finding]:
    out = []
    model = e.before.resolves.get(name)
    for kind in _NAME_KINDS:
        for subject in dict.fromkeys((name, model)):
            diff = e.get(kind, subject) if subject else None
            if diff is not None:
                out.append(Finding(diff, _name_advice(e, name, diff)))
    return out


def _guest_findings(e: _Entries, name: str, mode: str | None, kernel: str) -> list[Finding]:
    situation = Situation(name, mode)
    out = []
    if mode is not None:
        removed = e.get("mode-removed", mode)
        if removed is not None:
            out.append(Finding(removed, _mode_advice(e, name, mode, kernel)))
    if name not in e.before.resolves or name not in e.after.resolves:
        return out
    subject = subject_of(e.before, e.after, situation)
    start = e.get("startup-changed", subject)
    if start is not None:
        advice = _mode_advice(e, name, mode, kernel) if start.severity == "breaks" else None
        out.append(Finding(start, advice))
    cas = e.get("cas-changed", subject, kernel)
    if cas is not None:
        advice = _mode_advice(e, name, mode, kernel) if cas.severity == "breaks" else None
        out.append(Finding(cas, advice))
    for direction in ("forward", "back"):
        move = e.get("migration-refused", subject, kernel, direction)
        if move is not None:
            out.append(Finding(move, None))
    return out


def _order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: SEVERITIES.index(f.difference.severity)))


def impact(result: UpgradeDiff, hosts: Iterable[tuple[str, str, str]],
           guests: Iterable[tuple[str, str, str | None, str]]) -> Impact:
    """The hosts ``(name, -cpu name, qemu today)`` and guests ``(name, host, max-cpu-compat,
    guest kernel)`` the diff touches, with advice."""
    e = _Entries(result)
    host_list = list(hosts)
    by_host = {h[0]: h for h in host_list}
    affected_hosts = []
    for host, cpu, qemu in host_list:
        found = _host_findings(e, cpu.lower())
        if found:
            affected_hosts.append(Affected(host, host, cpu, None, None, qemu, _order(found)))
    affected_guests = []
    guest_list = list(guests)
    for name, host, mode, kernel in guest_list:
        _, cpu, qemu = by_host[host]
        kernel = GUEST_ALIASES.get(kernel, kernel)
        found = _guest_findings(e, cpu.lower(), mode, kernel)
        if found:
            affected_guests.append(Affected(name, host, cpu, mode, kernel, qemu,
                                            _order(found)))
    return Impact(tuple(affected_hosts), tuple(affected_guests), len(host_list),
                  len(guest_list))
