"""The fleet picture: a heat map of host groups x compat modes.

Each cell is the fraction of the group's hosts on which every guest profile at home in the
group starts with that ``max-cpu-compat`` (column ``raw``: none set); the recommended mode of
each group is outlined. matplotlib is imported here only, and only when a picture is drawn
(``pip install powercompat[plot]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from powercompat.errors import InvalidValueError
from powercompat.fleet.plan import MODE_COLUMNS, FleetPlan, column_label

FORMATS: Final = (".svg", ".png")


def write_heatmap(plan: FleetPlan, path: Path) -> None:
    """Draw the heat map to ``path`` (SVG or PNG by suffix), reproducibly.

    :raises InvalidValueError: another suffix, matplotlib missing, or nothing to draw.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidValueError(f"--plot {path}: the picture must end in .svg or .png")
    if not plan.groups:
        raise InvalidValueError("--plot: the inventory has no host groups to draw")
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as err:
        raise InvalidValueError(
            "--plot needs matplotlib: pip install 'powercompat[plot]'") from err
    matplotlib.rcParams["svg.hashsalt"] = "powercompat-fleet"  # stable ids in the SVG
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small and searchable

    groups = plan.groups
    rows = [[group.heat[i] for i in range(len(MODE_COLUMNS))] for group in groups]
    width = 1.6 + 0.85 * len(MODE_COLUMNS)
    height = 1.4 + 0.42 * len(groups)
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(rows, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(MODE_COLUMNS)), [column_label(m) for m in MODE_COLUMNS])
    ax.set_yticks(range(len(groups)),
                  [f"{g.name} ({g.hosts} host{'s' if g.hosts != 1 else ''})" for g in groups])
    ax.set_xlabel("max-cpu-compat")
    ax.set_title("Share of each group's hosts that start its guests, per max-cpu-compat\n"
                 "(outlined: the newest setting that keeps every guest mobile)",
                 fontsize="medium")
    for y, group in enumerate(groups):
        for x, value in enumerate(rows[y]):
            ax.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize="small",
                    color="black" if value > 0.6 else "white")
        if group.status != "none":
            x = MODE_COLUMNS.index(group.recommended)
            ax.add_patch(_outline(x, y))
    fig.colorbar(image, ax=ax, label="share of hosts", format=lambda v, _: f"{v:.0%}")
    meta = {"Date": None} if suffix == ".svg" else {"Software": None}
    fig.savefig(path, metadata=meta, dpi=110)


def _outline(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5)
