"""A report of recorded nested-KVM sessions, like ``verify run``'s: one row per L2
configuration with what happened and the engine's verdict."""

from __future__ import annotations

from typing import Any

from powercompat.verify.kvm.compare import Comparison, compare_cell


def _calls(run: dict[str, Any]) -> str:
    parts = []
    for phase in run["phases"]:
        calls = phase["calls"]
        if not calls:
            continue
        shown = ", ".join(f"{c['vcpu']}:{c['value']}" + (f"!E{c['errno']}" if c["errno"] else "")
                          for c in calls)
        parts.append(f"{phase['name']}[{shown}]")
    return " ".join(parts) or "none"


def outcome(run: dict[str, Any] | None) -> str:
    """One phrase: refused (QEMU's text), timed out, or how far it got."""
    if run is None:
        return "not run"
    if run["timed_out"]:
        return "timed out"
    err = [e.removeprefix("qemu-system-ppc64: ") for e in run["error"]]
    boots = len(run["boots"])
    if err and not boots:
        return f"refused: {err[0]}"
    return f"{boots} boot(s), exit {run['returncode']}" + (f"; {err[0]}" if err else "")


def rows(record: dict[str, Any]) -> list[tuple[dict[str, Any], Comparison]]:
    return [(cell, compare_cell(cell, record)) for cell in record["cells"]]


def verdict(c: Comparison) -> str:
    if c.gap is not None:
        return f"not compared: {c.gap}"
    return "agrees" if c.agree else "DISAGREES"


def markdown(records: list[dict[str, Any]]) -> str:
    flavours = sorted({str(r.get("accel", "kvm-hv")).removeprefix("kvm-").upper()
                       for r in records})
    lines = [f"# Nested KVM {'/'.join(flavours)}: real ARCH_COMPAT calls vs. the engine", ""]
    for rec in records:
        s = rec["session"]
        lines += [
            f"## {rec['host']['name']}, L1 kernel {rec['l1_kernel']['package']} "
            f"{rec['l1_kernel']['version']}",
            "",
            f"- L0: `{rec['l0_qemu']}` ({rec['host']['machine']}, -cpu {rec['host']['l0_cpu']})",
            "- L1 QEMU: " + ", ".join(f"{k}: `{v['reported']}`"
                                       for k, v in rec["l1_qemus"].items()),
            f"- L2 kernel: {rec['l2_kernel']['version']}; date {rec['date']}; session "
            f"{s['wall_seconds']} s",
            "",
            "| config | QEMU | max-cpu-compat | cpu | outcome | ARCH_COMPAT calls | "
            "cpu-version | s | engine |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for cell, comp in rows(rec):
            cfg, run = cell["config"], cell["run"]
            versions = ", ".join(run["boots"][-1]["cpu_versions"]) if run and run["boots"] \
                else "-"
            lines.append(
                f"| {cfg['id']} | {cfg['qemu']} | {cfg['max_cpu_compat'] or '(unset)'} | "
                f"{cfg['cpu']} | {outcome(run)} | {_calls(run) if run else '-'} | {versions} | "
                f"{run['seconds'] if run else '-'} | {verdict(comp)} |")
        lines.append("")
        for cell, comp in rows(rec):
            if comp.diffs and comp.gap is None:
                lines.append(f"- {cell['config']['id']}: " + "; ".join(comp.diffs))
        lines.append("")
    return "\n".join(lines)
