"""rich, imported only here and only when a table is drawn (``--json`` never gets here)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

#: width when stdout is not a terminal (pipes, tests, the tour): wide enough for the demo
PIPE_WIDTH = 120


def console() -> Console:
    """A console on the current sys.stdout (tests swap it), no markup or highlighting."""
    from rich.console import Console

    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else PIPE_WIDTH, highlight=False,
                   markup=False, emoji=False, soft_wrap=False)


def table(*columns: str, title: str | None = None, caption: str | None = None,
          wrap: tuple[str, ...] = ()) -> Table:
    """A table with a header row; cells are plain text (never rich markup). Only the
    columns named in ``wrap`` may fold their text; the others (hex, names) stay whole."""
    from rich import box
    from rich.table import Table

    out = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, title_justify="left",
                caption_justify="left", show_edge=False, pad_edge=False)
    for name in columns:
        out.add_column(name, overflow="fold", no_wrap=name not in wrap)
    return out


def text(value: object, style: str | None = None) -> Text:
    from rich.text import Text

    return Text(str(value), style=style or "")


def indent(item: RenderableType, by: int = 4) -> RenderableType:
    from rich.padding import Padding

    return Padding(item, (0, 0, 0, by), expand=False)


def show(*items: RenderableType | str) -> None:
    """Print renderables (a str is printed as plain text, never as markup)."""
    out = console()
    with out.capture() as captured:
        for item in items:
            if isinstance(item, str):
                out.print(text(item), soft_wrap=True)  # long lines stay whole, as plain text
            else:
                out.print(item)
    # rich pads every cell; trailing blanks only get in the way of diffs and pastes
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))
