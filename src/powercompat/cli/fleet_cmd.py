"""``powercompat fleet``: plan a fleet (where each guest can live, what keeps it mobile) and
write synthetic inventories. The planning is :mod:`powercompat.fleet`; this module only
parses options, calls it and prints."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser, Namespace
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from powercompat.cli.common import add_json, check_output_file, count, plural
from powercompat.cli.main import Command

if TYPE_CHECKING:
    from powercompat.cli.tables import Item
    from powercompat.fleet.decide import HostClass, Verdict
    from powercompat.fleet.plan import FleetPlan, GuestClass, GuestDetail, TargetAnswer
    from powercompat.fleet.upgrade import UpgradePlan

#: input larger than this (about 10,000 records) gets a progress bar on a terminal
PROGRESS_BYTES: Final = 1 << 20
#: above this many guests ``--json`` is printed compactly (the indenting encoder is slow)
JSON_INDENT_LIMIT: Final = 10_000
#: guest classes shown in the table unless --limit says otherwise
DEFAULT_LIMIT: Final = 20
#: stranded guests listed per group in the upgrade table
EXAMPLES_STRANDED: Final = 5


def configure_plan(parser: ArgumentParser) -> None:
    parser.add_argument("inventory", nargs="*", type=Path, metavar="INVENTORY",
                        help="Inventory files: .json, .csv or libvirt domain .xml.")
    parser.add_argument("--connect", dest="uris", action="append", default=[], metavar="URI",
                        help="Also read a host and its domains from the libvirtd at URI "
                        "(read-only; repeatable; e.g. qemu:///system). Needs the 'libvirt' "
                        "extra.")
    parser.add_argument("--guest", dest="guest_name", default=None, metavar="NAME",
                        help="Show every host, one by one, for this guest.")
    parser.add_argument("--plot", default=None, type=Path, metavar="FILE",
                        help="Write the groups x modes heat map (.svg or .png).")
    parser.add_argument("--limit", default=DEFAULT_LIMIT, type=count, metavar="N",
                        help="Guest classes shown in the table (largest first; 0: all; "
                        "default: %(default)s).")
    parser.add_argument("--check", action="store_true",
                        help="Exit 1 when some guest needs a new max-cpu-compat to stay "
                        "mobile.")
    parser.add_argument("--upgrade-to", default=None, metavar="QEMU",
                        help="Also plan a rolling upgrade of every group to this QEMU release "
                        "or version: the machine type and max-cpu-compat to pin, the order "
                        "of the hosts, the guests that would be stranded.")
    parser.add_argument("--upgrade-kernel", default=None, metavar="KERNEL",
                        help="The host kernel the upgraded hosts run (default: unchanged).")
    add_json(parser)


def plan_cmd(args: Namespace) -> int:
    """Plan the inventory files and print the plan (tables, one guest, or JSON)."""
    from powercompat.cli.main import UsageError
    from powercompat.fleet.decide import Decider
    from powercompat.fleet.inventory import Inventory, load_inventory
    from powercompat.fleet.plan import plan

    inventory: list[Path] = args.inventory
    uris: list[str] = args.uris
    if not inventory and not uris:
        raise UsageError("give an INVENTORY file or --connect URI", args._parser.prog)
    guest_name: str | None = args.guest_name
    plot: Path | None = args.plot
    as_json: bool = args.as_json
    if plot is not None:  # before any work: a wrong picture must not cost a whole plan
        _check_plot(plot)
    size = sum(p.stat().st_size for p in inventory if p.is_file())
    with _progress(not as_json and size > PROGRESS_BYTES) as report:
        report("reading", 0, 0)
        loaded = load_inventory(inventory) if inventory else Inventory((), ())
        if uris:
            from powercompat.fleet.connect import merge, read_connection

            connected = [read_connection(uri) for uri in uris]
            loaded = merge(loaded, connected)
            for c in connected:
                for name, why in c.skipped:
                    sys.stderr.write(f"powercompat: note: {c.uri}: skipped domain {name}: "
                                     f"{why}\n")
        report("reading", 1, 1)
        decider = Decider()
        result = plan(loaded, report, decider)
        upgrade = None
        if args.upgrade_to is not None:
            from powercompat.fleet.upgrade import upgrade_plan

            upgrade = upgrade_plan(loaded, args.upgrade_to, args.upgrade_kernel, decider)
    detail = result.guest_detail(guest_name) if guest_name else None
    if plot is not None:
        from powercompat.fleet.plot import write_heatmap

        write_heatmap(result, plot)
    if as_json:
        obj = detail.to_json() if detail else result.to_json()
        if upgrade is not None and detail is None:
            obj["upgrade"] = upgrade.to_json()
        indent = 2 if len(loaded.guests) <= JSON_INDENT_LIMIT else None
        print(json.dumps(obj, indent=indent))
    elif detail is not None:
        _show_detail(result, detail)
    else:
        _show_plan(result, args.limit)
        if upgrade is not None:
            from powercompat.cli import tables

            tables.show("", *_upgrade_tables(upgrade, args.limit))
    if plot is not None and not as_json:
        print(f"heat map written to {plot}")
    if args.check and any(g.changes for g in result.groups):
        sys.stderr.write("powercompat: error: some guests need a new max-cpu-compat to stay "
                         "mobile\n")
        return 1
    return 0


def _check_plot(path: Path) -> None:
    """The picture's format, matplotlib and the output path, checked before planning.

    :raises InvalidValueError: another suffix, matplotlib missing, or a path that cannot be
        written.
    """
    from importlib.util import find_spec

    from powercompat.errors import InvalidValueError
    from powercompat.fleet.plot import FORMATS

    if path.suffix.lower() not in FORMATS:
        raise InvalidValueError(f"--plot {path}: the picture must end in "
                                f"{' or '.join(FORMATS)}")
    if find_spec("matplotlib") is None:
        raise InvalidValueError("--plot needs matplotlib: pip install 'powercompat[plot]'")
    check_output_file(path, "--plot")


def configure_synth(parser: ArgumentParser) -> None:
    parser.add_argument("--hosts", dest="n_hosts", required=True, type=count, metavar="N",
                        help="Number of hosts.")
    parser.add_argument("--guests", dest="n_guests", required=True, type=count, metavar="N",
                        help="Number of guests.")
    parser.add_argument("--seed", default=0, type=int, metavar="S",
                        help="Random seed (default: %(default)s).")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE",
                        help="Inventory to write (.json or .csv).")
    add_json(parser, help="Print what was written as one JSON object.")


def synth(args: Namespace) -> int:
    """Write a synthetic inventory."""
    from powercompat.errors import InvalidValueError
    from powercompat.fleet.synth import synthesize, write_inventory

    output: Path = args.output
    if output.suffix.lower() not in (".json", ".csv"):
        raise InvalidValueError(f"{output}: the output must end in .json or .csv")
    check_output_file(output, "-o")
    hosts, guests = synthesize(args.n_hosts, args.n_guests, args.seed)
    write_inventory(output, hosts, guests)
    groups = len({h.group for h in hosts})
    if args.as_json:
        print(json.dumps({"output": str(output), "hosts": len(hosts), "groups": groups,
                          "guests": len(guests), "seed": args.seed}, indent=2))
    else:
        print(f"wrote {output}: {plural(len(hosts), 'host')} in "
              f"{plural(groups, 'group')}, {plural(len(guests), 'guest')}")
    return 0


PLAN = Command(
    "Where each guest can start and migrate; what keeps each host group mobile.",
    configure=configure_plan, run=plan_cmd,
    description="Plan INVENTORY (.json, .csv or libvirt domain .xml files, any mix).\n\n"
    "For each guest: the hosts it can start on and live-migrate to, by classes of equivalent "
    "hosts, with QEMU's and KVM's reason for every refusal. For each host group: the newest "
    "max-cpu-compat that keeps every guest in it mobile, in QEMU's and libvirt's spelling, and "
    "the guests that need a change.")
SYNTH = Command(
    "Write a synthetic inventory.", configure=configure_synth, run=synth,
    description="Write a synthetic inventory: POWER8 to POWER11 host groups (mostly KVM HV, a "
    "small KVM PR lab, QEMU head and 7.2), Linux 6.1 and 2025 guests, some with a "
    "max-cpu-compat.")
COMMAND = Command(
    "Plan a fleet: where guests can live and what keeps them mobile.",
    subcommands={"plan": PLAN, "synth": SYNTH},
    description="Plan a fleet: where each guest can start and live-migrate, and which "
    "max-cpu-compat keeps every guest of a host group mobile.\n\nThe inventory format is "
    "described in docs/FLEET.md.")


# ---------------------------------------------------------------------- progress


@contextmanager
def _progress(wanted: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr, only on a terminal and only when asked for."""
    if not (wanted and sys.stderr.isatty()):
        yield _quiet
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    tasks: dict[str, object] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total or None)
        bar.update(tasks[phase], completed=done, total=total or None)  # type: ignore[arg-type]

    with bar:
        yield report


def _quiet(phase: str, done: int, total: int) -> None:
    pass


# ---------------------------------------------------------------------- tables


def _show_plan(result: FleetPlan, limit: int) -> None:
    from powercompat.cli import tables

    inv = result.inventory
    calls = result.engine_calls
    tables.show(
        f"{plural(len(inv.hosts), 'host')} in "
        f"{plural(len(result.host_classes), 'host class', 'host classes')}, "
        f"{plural(len(inv.guests), 'guest')} in "
        f"{plural(len(result.guest_classes), 'guest class', 'guest classes')}, "
        f"{plural(len(result.groups), 'host group')}; engine runs: "
        f"{plural(calls['negotiate'], 'boot')}, "
        f"{plural(calls['migrate_out'], 'migration stream')}, "
        f"{plural(calls['migrate_in'], 'load')}",
        "", _host_table(result), "", *_group_tables(result), "",
        _class_table(result, limit))


def _host_table(result: FleetPlan) -> Item:
    from powercompat.cli import tables

    counts = Counter(result.host_class_of.values())
    per_group: dict[int, list[str]] = {}
    for group in result.groups:
        for index, n in group.classes:
            per_group.setdefault(index, []).append(f"{group.name}:{n}")
    out = tables.table("class", "CPU", "KVM", "QEMU", "hosts", "groups",
                       title="Host classes (hosts the engine cannot tell apart)",
                       wrap=("groups",))
    for i, cls in enumerate(result.host_classes):
        out.add_row(f"H{i}", f"{cls.family} {cls.cpu}", cls.kvm, cls.qemu, str(counts[i]),
                    " ".join(per_group.get(i, [])))
    return out


def _group_tables(result: FleetPlan) -> list[Item]:
    from powercompat.cli import tables
    from powercompat.fleet.plan import MODE_COLUMNS, column_label

    groups = tables.table(
        "group", "hosts", "guests", "max-cpu-compat", "to change", "why not newer",
        title="Host groups: the newest max-cpu-compat that keeps every guest mobile",
        wrap=("why not newer",))
    spelling = tables.table("group", "QEMU", "libvirt domain XML",
                            title="How to set it", wrap=("QEMU", "libvirt domain XML"))
    notes: list[str] = []
    for g in result.groups:
        setting = {"mode": g.recommended or "", "raw": "none (raw)",
                   "none": "NO SETTING"}[g.status]
        groups.add_row(g.name, str(g.hosts), str(g.guests), setting,
                       str(sum(len(c.guests) for c in g.changes)), g.why_not_newer or "")
        if g.status == "none":
            spelling.add_row(g.name, "nothing keeps every guest mobile", "")
        else:
            spelling.add_row(g.name, g.qemu or "", g.libvirt or "")
        notes.extend(f"note: {g.name}: {n}" for n in g.libvirt_notes)
        releases = sorted({result.host_classes[c].qemu for c, _ in g.classes})
        if len(releases) > 1:
            notes.append(f"note: {g.name}: its hosts run QEMU {', '.join(releases)}: -M "
                         f"{g.machine} on every guest, and live migration only goes to the "
                         "same or a newer release (fleet plan --upgrade-to R orders a rolling "
                         "upgrade)")
    changes = tables.table("group", "guests", "profile", "now", "set", "examples", "because",
                           title="Guests that need a change to stay mobile in their group",
                           wrap=("examples", "because"))
    for g in result.groups:
        for c in g.changes:
            now = c.kind.max_cpu_compat or "none"
            to = "no setting" if g.status == "none" else (c.to or "none (raw)")
            if c.machine is not None and g.status != "none":
                to += f", -M {c.machine}"
            changes.add_row(g.name, str(len(c.guests)),
                            c.kind.profile + (" (libvirt)" if c.kind.libvirt else ""),
                            now, to, _examples(c.guests), c.reason)
    heat = tables.table("group", *(column_label(m) for m in MODE_COLUMNS),
                        title="Share of each group's hosts that start its guests, per "
                        "max-cpu-compat")
    for g in result.groups:
        heat.add_row(g.name, *(f"{v:.0%}" for v in g.heat))
    out: list[Item] = [groups, "", spelling, *notes, ""]
    if changes.row_count:
        out += [changes, ""]
    return [*out, heat]


def _upgrade_tables(up: UpgradePlan, limit: int = DEFAULT_LIMIT) -> list[Item]:
    """The rolling upgrade: per group what to pin, then the order (its first ``limit`` steps
    per group, so the text costs what it shows; --json has every step) and who is stranded."""
    from powercompat.cli import tables

    kernel = f", host kernel {up.kernel}" if up.kernel else ""
    pins = tables.table("group", "upgrade", "pin machine", "max-cpu-compat", "stranded",
                        "why not newer",
                        title=f"Rolling upgrade to QEMU {up.target}{kernel}: what keeps "
                        "every guest mobile while the group mixes releases",
                        wrap=("why not newer",))
    order = tables.table("group", "step", "hosts", "from", "to", "their guests go to",
                         title="The order (oldest release first; one host at a time)",
                         wrap=("hosts", "from", "to", "their guests go to"))
    stranded = tables.table("group", "guest", "on host", "because",
                            title="Guests no host accepts at their host's turn (stranded)",
                            wrap=("because",))
    labels = [c.label for c in up.classes]
    for g in up.groups:
        setting = {"mode": g.mode or "", "raw": "none (raw)", "none": "NO SETTING"}[g.status]
        pins.add_row(g.name, f"{g.upgrade} of {g.upgrade + g.current} hosts",
                     g.machine or "NO COMMON TYPE", setting, str(len(g.stranded)),
                     g.why_not_newer or "")
        runs = g.runs if limit == 0 else g.runs[:limit]
        for n, run in enumerate(runs, start=1):
            where = ", ".join(f"{k} to {labels[c]}" for c, k in run.to)
            if run.stranded:
                where = (where + "; " if where else "") + f"{run.stranded} stranded"
            order.add_row(g.name, str(n), f"{len(run.hosts)}: {_examples(list(run.hosts))}",
                          labels[run.source], labels[run.target], where or "no guests")
        if len(runs) < len(g.runs):
            order.add_row(g.name, f"... {len(g.runs) - len(runs)} more steps", "", "", "",
                          "--limit 0 shows all, --json lists every one")
        for s in g.stranded[:EXAMPLES_STRANDED]:
            stranded.add_row(g.name, s.guest, s.host, s.reason)
        if len(g.stranded) > EXAMPLES_STRANDED:
            stranded.add_row(g.name, f"... {len(g.stranded) - EXAMPLES_STRANDED} more", "",
                             "--json lists every one")
        for label, reason in g.blocked:
            stranded.add_row(g.name, "(hosts of class)", label, f"cannot run QEMU "
                             f"{up.target}: {reason}")
    out: list[Item] = [pins, "", order]
    if stranded.row_count:
        out += ["", stranded]
    return out


def _class_table(result: FleetPlan, limit: int) -> Item:
    from powercompat.cli import tables

    ranked = sorted(result.guest_classes, key=lambda c: (-len(c.guests), c.id))
    shown = ranked if limit == 0 else ranked[:limit]
    caption = None
    if len(shown) < len(ranked):
        caption = (f"{len(shown)} of {len(ranked)} guest classes (largest first); --limit 0 "
                   "shows all, --guest NAME one guest host by host, --json everything")
    out = tables.table("class", "guests", "profile", "max", "now on", "may go to",
                       "start", "live-migrate", title="Guest classes (guests with the "
                       "same answer): where they can start and live-migrate",
                       caption=caption, wrap=("guests", "start", "live-migrate"))
    for c in shown:
        names = [result.inventory.guests[i].name for i in c.guests]
        out.add_row(
            f"G{c.id}", f"{len(names)}: {_examples(names)}",
            c.kind.profile + (" (libvirt)" if c.kind.libvirt else ""),
            c.kind.max_cpu_compat or "none", f"H{c.current}", c.scope or "any group",
            _answers(result, c, lambda t: (t.hosts, t.start)),
            _answers(result, c, lambda t: (t.migrate_hosts, t.migrate)))
    return out


def _answers(result: FleetPlan, c: GuestClass,
             pick: Callable[[TargetAnswer], tuple[int, Verdict]]) -> str:
    """``12/40 hosts``, then each refusal with the host classes (and hosts) it applies to."""
    total = ok = 0
    refused: dict[str, tuple[list[str], int]] = {}
    for target in result.targets(c):
        hosts, verdict = pick(target)
        if not hosts:
            continue
        total += hosts
        if verdict.ok:
            ok += hosts
            continue
        labels, count = refused.get(verdict.reason, ([], 0))
        labels.append(f"H{target.host_class}")
        refused[verdict.reason] = (labels, count + hosts)
    return "\n".join([f"{ok}/{plural(total, 'host')}", *(
        f"not {','.join(labels)} ({count}): {reason}"
        for reason, (labels, count) in refused.items())])


def _examples(names: list[str] | tuple[str, ...]) -> str:
    from powercompat.fleet.plan import EXAMPLES

    head = ", ".join(names[:EXAMPLES])
    return head + (", ..." if len(names) > EXAMPLES else "")


def _show_detail(result: FleetPlan, detail: GuestDetail) -> None:
    from powercompat.cli import tables

    g = detail.guest
    current: HostClass = detail.current
    out = tables.table("host", "group", "class", "start", "live-migrate from " + g.host,
                       wrap=("start", "live-migrate from " + g.host))
    for answer in detail.hosts:
        moved = "(its current host)" if answer.migrate is None else _verdict(answer.migrate)
        out.add_row(answer.host.name, answer.host.group,
                    f"H{result.host_class_of[answer.host.name]}", _verdict(answer.start),
                    moved)
    tables.show(
        f"guest {g.name}: {g.kind.profile}"
        + (" (libvirt domain)" if g.kind.libvirt else "")
        + f", max-cpu-compat={g.kind.max_cpu_compat or 'none'}, on {g.host} "
        f"({current.label}), may go to {g.group or 'any group'}; guest class "
        f"G{detail.guest_class.id}", "", out)


def _verdict(verdict: Verdict) -> str:
    return f"yes: {verdict.reason}" if verdict.ok else f"NO: {verdict.reason}"
