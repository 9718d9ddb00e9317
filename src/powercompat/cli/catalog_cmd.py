"""``powercompat modes`` and ``powercompat cpus``: the catalogue, as tables or JSON."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from powercompat.catalog.behaviour import switch_docs
from powercompat.catalog.history import HEAD, switch_changes
from powercompat.catalog.modes import CompatMode, mode_by_name
from powercompat.cli.common import add_json, add_qemu, emit_json
from powercompat.cli.main import Command
from powercompat.decisions.pcr import decode_pcr
from powercompat.decisions.validity import valid_modes
from powercompat.messages import hex32, hex64
from powercompat.profiles import (
    ALL_PROFILES,
    PROFILE_NAMES,
    Profile,
    parse_profile,
)


def _bits(value: int) -> str:
    return ", ".join(decode_pcr(value)) or "-"


def configure_modes(parser: ArgumentParser) -> None:
    parser.add_argument("--qemu", default=None, metavar="PROFILE",
                        help=f"Also show which modes are in this release's table, with its "
                        f"values: {', '.join(PROFILE_NAMES)}.")
    add_json(parser)


def modes(args: Namespace) -> int:
    profile = parse_profile(args.qemu) if args.qemu is not None else None
    rows = [_mode_row(mode, profile) for mode in HEAD.modes]
    if args.as_json:
        emit_json({"qemu": profile.name if profile else None, "modes": rows})
        return 0
    from powercompat.cli import tables

    columns = ["name", "logical PVR", "PCR", "pcr_level", "vthreads", "ISA", "since"]
    if profile:
        columns.append(f"in {profile.name}")
    grid = tables.table(*columns, wrap=("PCR",), title="Compat modes" + (
        f" (values as {profile.title} has them)" if profile else " (QEMU head)"))
    for row in rows:
        cells = [str(row["name"]), str(row["pvr"]),
                 f"{_short(str(row['pcr']))} {' '.join(row['pcr_bits'])}",  # type: ignore[arg-type]
                 f"{_short(str(row['pcr_level']))} {row['pcr_level_bit']}",
                 str(row["max_vthreads"]), str(row["isa"]), str(row["since"])]
        if profile:
            cells.append("yes" if row["in_profile"] else "no")
        grid.add_row(*cells)
    tables.show(grid)
    return 0


def _mode_row(mode: CompatMode, profile: Profile | None) -> dict[str, object]:
    own = mode_by_name(mode.name, profile.rules.modes) if profile else mode
    shown = own or mode
    row: dict[str, object] = {
        "name": mode.name,
        "pvr": hex32(mode.pvr),
        "pcr": hex64(shown.pcr),
        "pcr_bits": list(decode_pcr(shown.pcr)),
        "pcr_level": hex64(shown.pcr_level),
        "pcr_level_bit": _bits(shown.pcr_level),
        "max_vthreads": shown.max_vthreads,
        "isa": mode.isa,
        "since": _since(mode.name),
    }
    if profile:
        row["in_profile"] = own is not None
    return row


def configure_cpus(parser: ArgumentParser) -> None:
    add_qemu(parser)
    add_json(parser)


def cpus(args: Namespace) -> int:
    profile = parse_profile(args.qemu)
    aliases: dict[str, list[str]] = {}
    for alias, target in profile.cpu_aliases.items():
        aliases.setdefault(target, []).append(alias)
    rows: list[dict[str, object]] = []
    for model in profile.cpu_models:
        family = model.family
        rows.append({
            "model": model.name,
            "aliases": sorted(aliases.get(model.name, [])),
            "pvr": hex32(model.pvr),
            "family": family.name,
            "pcr_mask": hex64(family.pcr_mask),
            "pcr_mask_bits": list(decode_pcr(family.pcr_mask)),
            "pcr_supported": hex64(family.pcr_supported),
            "pcr_supported_bits": list(decode_pcr(family.pcr_supported)),
            "valid_modes": [m.name for m in valid_modes(family, profile.rules)],
            "description": model.description,
        })
    if args.as_json:
        emit_json({"qemu": profile.name, "cpus": rows})
        return 0
    from powercompat.cli import tables

    grid = tables.table("model", "aliases", "raw PVR", "family", "pcr_mask", "pcr_supported",
                        "valid modes", title=f"CPU models in {profile.title}",
                        wrap=("aliases", "pcr_mask", "pcr_supported", "valid modes"))
    for row in rows:
        grid.add_row(
            str(row["model"]), ", ".join(row["aliases"]) or "-",  # type: ignore[arg-type]
            str(row["pvr"]), str(row["family"]),
            f"{_short(str(row['pcr_mask']))} {' '.join(row['pcr_mask_bits'])}",  # type: ignore[arg-type]
            f"{_short(str(row['pcr_supported']))} "
            f"{' '.join(row['pcr_supported_bits'])}",  # type: ignore[arg-type]
            ", ".join(row["valid_modes"]) or "none")  # type: ignore[arg-type]
    tables.show(grid)
    return 0


def _short(hex_text: str) -> str:
    """``0x000000000000000e`` as ``0xe`` inside a crowded table (JSON keeps the 16 digits)."""
    return hex(int(hex_text, 16))


def configure_profiles(parser: ArgumentParser) -> None:
    parser.add_argument("--qemu", action="append", default=None, metavar="R",
                        help="Show only these profiles (repeatable): a name, a release, a "
                        "full version (10.0.2) or a Debian version string; each says how it "
                        "resolved (default: every named profile).")
    add_json(parser)


def profiles(args: Namespace) -> int:
    """:raises UnknownProfileError: a ``--qemu`` that names no profile or modelled version."""
    shown = (tuple(parse_profile(name) for name in args.qemu) if args.qemu
             else ALL_PROFILES)
    values = {p.name: p.switch_values() for p in shown}
    docs = switch_docs()
    if args.as_json:
        emit_json({"profiles": [{"name": p.name, "title": p.title,
                                 "description": p.description,
                                 "resolution": p.resolution,
                                 "modes": [m.name for m in p.rules.modes],
                                 "logical_pvr_check": p.rules.logical_pvr_check,
                                 "switches": values[p.name],
                                 "switch_commits": {name: p.switch_commit(name)
                                                    for name, _ in docs}}
                                for p in shown],
                   "switches": dict(docs)})
        return 0
    from powercompat.cli import tables

    grid = tables.table("switch", *(p.name for p in shown), "meaning",
                        title="QEMU profiles (--qemu)", wrap=("meaning",))
    grid.add_row("newest mode", *(p.rules.modes[-1].name for p in shown),
                 "the compat table ends there")
    for name, meaning in docs:
        commits = ", ".join(c.label for c in switch_changes(name))
        grid.add_row(name, *(_flag(values[p.name][name], name) for p in shown),
                     f"{meaning} ({commits})" if commits else meaning)
    tables.show(grid, *(f"{p.name:<12} {p.title}: {p.description}"
                        + (f" [{p.resolution}]" if args.qemu else "") for p in shown))
    return 0


def _since(name: str) -> str | None:
    change = HEAD.mode_source(name)
    return change.label if change else None


#: what an unset (None) switch means, where "-" would not say it (no switch is None today)
_UNSET: dict[str, str] = {}


def _flag(value: object, switch: str = "") -> str:
    """A switch's cell: yes, -, a count or a name; never Python's ``None``."""
    if value is True:
        return "yes"
    if value is False:
        return "-"
    if value is None:
        return _UNSET.get(switch, "-")
    return str(value).replace("ppc_init_compat_all", "init_all").replace(
        "ppc_set_compat_all", "set_all")


MODES = Command("The compat mode table, oldest to newest.", configure=configure_modes,
                run=modes,
                description="The compat table (target/ppc/compat.c compat_table), oldest to "
                "newest.")
CPUS = Command("CPU models, their PCR masks and valid modes.", configure=configure_cpus,
               run=cpus, description="The CPU models a QEMU release knows, and the modes each "
               "may run.")
PROFILES = Command("The QEMU release profiles and their behaviour switches.",
                   configure=configure_profiles, run=profiles,
                   description="Each QEMU release as named switches (profiles.py), with the "
                   "commit behind each.")
