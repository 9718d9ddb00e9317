"""``powercompat diff --from R1 --to R2 [INVENTORY...]``: what changes for guests when a host
moves from one QEMU release to another. The differences are :mod:`powercompat.upgrade`; this
module parses options, calls it and prints (grouped by kind, most severe first)."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from powercompat.cli.common import add_json, emit_json, plural
from powercompat.cli.main import Command

if TYPE_CHECKING:
    from powercompat.cli.tables import Item
    from powercompat.upgrade.compare import Difference
    from powercompat.upgrade.impact import Affected, Impact

_RELEASE_HELP: Final = ("QEMU release {}: a profile name (7.2), a full version (7.2.22) or a "
                        "Debian version string (1:7.2+dfsg-7+deb12u18), as --qemu takes it.")
#: what each severity means, for the headings
SEVERITY_TITLES: Final = {
    "breaks": "breaks: a configuration that works on {a} fails on {b}",
    "changes": "changes: works on both, differently",
    "fixes": "fixes: refused on {a}, works on {b}",
    "info": "info: new names and modes, other wording",
}


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_qemu", required=True, metavar="R1",
                        help=_RELEASE_HELP.format("the hosts run now"))
    parser.add_argument("--to", dest="to_qemu", required=True, metavar="R2",
                        help=_RELEASE_HELP.format("they move to"))
    parser.add_argument("inventory", nargs="*", type=Path, metavar="INVENTORY",
                        help="Fleet inventory files (.json, .csv, libvirt domain .xml, as "
                        "'fleet plan' reads them): which of these hosts and guests the upgrade "
                        "touches, and what to do first.")
    parser.add_argument("--severity", choices=tuple(SEVERITY_TITLES), default="info",
                        help="Text output: list entries at least this severe (breaks, changes, "
                        "fixes, info; default: %(default)s, every entry); the summary line "
                        "counts them all and --json always lists them all.")
    add_json(parser)


def run(args: Namespace) -> int:
    """Compute the diff (and the inventory's impact) and print it."""
    from powercompat.upgrade.diff import diff

    inventory = _load(args.inventory) if args.inventory else None
    result = diff(args.from_qemu, args.to_qemu)
    touched = _impact(result, inventory) if inventory is not None else None
    if args.as_json:
        obj = result.to_json()
        if touched is not None:
            obj["impact"] = touched.to_json()
        emit_json(obj)
        return 0
    from powercompat.cli.tables import show

    a, b = result.before.release, result.after.release
    shown = list(SEVERITY_TITLES)[: list(SEVERITY_TITLES).index(args.severity) + 1]
    show(*diff_items(result.changes, a, b, result.before.label, result.after.label, shown))
    if touched is not None:
        show(*impact_items(touched, a, b))
    return 0


def _load(paths: Sequence[Path]) -> object:
    from powercompat.fleet.inventory import load_inventory

    return load_inventory(paths)


def _impact(result: object, inventory: object) -> Impact:
    from powercompat.fleet.inventory import Inventory
    from powercompat.upgrade.diff import UpgradeDiff
    from powercompat.upgrade.impact import impact

    assert isinstance(inventory, Inventory) and isinstance(result, UpgradeDiff)
    hosts = [(h.name, h.cpu or h.cls.cpu, h.cls.qemu) for h in inventory.hosts]
    guests = [(g.name, g.host, g.kind.max_cpu_compat, g.kind.profile)
              for g in inventory.guests]
    return impact(result, hosts, guests)


# ---------------------------------------------------------------- text


def _summary(changes: Sequence[Difference], a: str, b: str) -> str:
    counts = {s: sum(d.severity == s for d in changes) for s in SEVERITY_TITLES}
    parts = [f"{counts['breaks']} break a configuration", f"{counts['changes']} change one",
             f"{counts['fixes']} fix one", f"{counts['info']} informational"]
    return f"QEMU {a} -> {b}: {plural(len(changes), 'difference')} ({', '.join(parts)})"


def _groups(changes: Iterable[Difference]) -> list[list[Difference]]:
    """Entries with the same values, place and change: one block for all of them."""
    rows: dict[tuple[str, ...], list[Difference]] = {}
    for d in changes:
        key = (d.before, d.after, d.guest or "", d.direction or "", d.commit or "")
        rows.setdefault(key, []).append(d)
    return list(rows.values())


def compact(diffs: Sequence[Difference]) -> list[str]:
    """The subjects of a block, one line per -cpu name and variant, the modes in braces:
    ``power9_v2.0/{unset,power8,power9}/threads=2``."""
    from powercompat.upgrade.observe import MODE_ORDER

    lines: dict[tuple[str, str], list[str]] = {}
    for d in diffs:
        s = d.situation
        if s is None:
            lines.setdefault((d.subject, ""), [])
            continue
        compat = s.variant == "compat"
        name = d.subject.split(",compat=")[0] if compat else d.subject.split("/")[0]
        lines.setdefault((name, s.variant), []).append(s.mode or "unset")
    order = ("unset", *MODE_ORDER)
    out = []
    for (name, variant), modes in lines.items():
        if not modes:
            out.append(name)
            continue
        modes.sort(key=lambda m: order.index(m) if m in order else len(order))
        listed = modes[0] if len(modes) == 1 else "{" + ",".join(modes) + "}"
        if variant == "compat":
            out.append(f"{name},compat={listed}")
        else:
            out.append(f"{name}/{listed}" + (f"/{variant}" if variant else ""))
    return out


def _block(members: Sequence[Difference], a: str, b: str) -> list[str]:
    first = members[0]
    width = max(len(a), len(b)) + 1
    lines = [f"    {subject}" for subject in compact(members)]
    lines.append(f"      {(a + ':').ljust(width)} {first.before}")
    lines.append(f"      {(b + ':').ljust(width)} {first.after}")
    if first.guest or first.direction:
        way = {"forward": f"{a} -> {b}", "back": f"{b} -> {a}"}.get(first.direction or "", "")
        lines.append("      " + ", ".join(x for x in (first.guest or "", way) if x))
    if first.changes:
        last = first.changes[-1]
        more = f" (+{len(first.changes) - 1} earlier)" if len(first.changes) > 1 else ""
        lines.append(f"      change: {last.commit}{more}: {last.title}")
    return lines


def diff_items(changes: Sequence[Difference], a: str, b: str, label_a: str, label_b: str,
               severities: Sequence[str] | None = None) -> list[Item]:
    """The diff as text: a summary, then per severity, per kind, blocks of entries that share
    their values (the subjects listed compactly, then what each release does and why)."""
    from powercompat.upgrade.compare import KINDS, SEVERITIES

    lines = [_summary(changes, a, b), f"from: {label_a}", f"to:   {label_b}",
             "start-up and boots under TCG; 'binary': a real binary shows it (verify diff), "
             "'source': from the history only"]
    for severity in SEVERITIES:
        here = [d for d in changes if d.severity == severity]
        if not here:
            continue
        if severities is not None and severity not in severities:
            lines += ["", f"({plural(len(here), 'entry', 'entries')} of severity {severity} "
                      "not shown: --severity)"]
            continue
        lines += ["", SEVERITY_TITLES[severity].format(a=a, b=b)]
        for kind in KINDS:
            rows = [d for d in here if d.kind == kind]
            if rows:
                evidence = "binary" if KINDS[kind] else "source"
                lines.append(f"  {kind} ({len(rows)}, {evidence})")
                for members in _groups(rows):
                    lines += _block(members, a, b)
    return ["\n".join(lines)]  # printed whole: a QEMU text is never folded


def impact_items(found: Impact, a: str, b: str) -> list[Item]:
    """The inventory's affected hosts and guests, with what to do before upgrading."""
    from powercompat.cli.tables import table, text

    items: list[Item] = [text(""), text(
        f"inventory: {plural(len(found.hosts), 'host')} of {found.host_count} and "
        f"{plural(len(found.guests), 'guest')} of {found.guest_count} affected by "
        f"{a} -> {b} (every host taken as moving from {a}; 'now' is the inventory's qemu)",
        "bold")]
    for title, rows in (("hosts", found.hosts), ("guests", found.guests)):
        if not rows:
            continue
        grid = table("name", "configuration", "now", "finding", "before upgrading",
                     title=title, wrap=("finding", "before upgrading"))
        for row in rows:
            first = True
            for f in row.findings:
                d = f.difference
                grid.add_row(row.name if first else "", _config(row) if first else "",
                             row.qemu_now if first else "",
                             f"{d.kind} {d.subject}"
                             + (f" ({d.direction})" if d.direction else "")
                             + f": {d.before} -> {d.after}", f.advice or "-")
                first = False
        items.append(grid)
    return items


def _config(row: Affected) -> str:
    if row.kernel is None:
        return f"-cpu {row.cpu}"
    return (f"{row.host}: -cpu {row.cpu}, max-cpu-compat={row.max_cpu_compat or 'unset'}, "
            f"{row.kernel}")


COMMAND = Command(
    "What changes for guests when hosts move from one QEMU release to another.",
    configure=configure, run=run,
    description="Every difference between two QEMU releases that can change a guest's fate, "
    "computed from the engine's release profiles: CPU models and aliases removed, added or "
    "retargeted, PVRs changed, start-up verdicts (every -cpu name x max-cpu-compat, TCG SMT, "
    "-cpu X,compat=), the CAS outcome per guest kernel, behaviour switches and QEMU's texts; "
    "each with the history row behind it. With inventory files: the hosts and guests it "
    "touches and what to do before upgrading. 'verify diff' computes the same from the real "
    "binaries.")
