"""Tables and plain lines for the human output, laid out as rich's ``SIMPLE_HEAD`` box.

A table that fits the width as it is (the common case: hex, names, short reasons) is laid out
here directly, in time linear in its cells, and so is a too-wide table none of whose columns
may wrap: it is printed whole, wider than the terminal, where rich cropped every cell (a hex
value lost its last digit). rich is imported only for what needs its layout engine: a table
too wide for the width with columns that may fold, a title or caption
longer than its table, a styled line longer than the width, or text that is not plain ASCII
(rich measures cell widths). rich renders a cell in tens of microseconds, which made
``simulate --smp 1024`` with 100 hot-plugs take minutes (issue #13); the fast layout gives the
same characters (a test compares both on random tables). Styles (bold headings) are dropped
in both: the output is plain text, on a terminal too.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

#: width when stdout is not a terminal (pipes, tests, the tour): wide enough for the demo
PIPE_WIDTH = 120
#: rich's SIMPLE_HEAD with show_edge=False, pad_edge=False: one space of padding either side
#: of the one-space column divider, the header underlined with this character
GAP = "   "
RULE = "\u2500"


class Table:
    """A table with a header row; cells are plain text (never markup). Only the columns named
    in ``wrap`` may fold their text when the table is too wide; the others stay whole."""

    __slots__ = ("caption", "columns", "rows", "title", "wrap")

    def __init__(self, *columns: str, title: str | None = None, caption: str | None = None,
                 wrap: tuple[str, ...] = ()) -> None:
        self.columns = columns
        self.title = title
        self.caption = caption
        self.wrap = wrap
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells: str) -> None:
        """One row; missing cells are empty (``add_row()`` is a blank separator line)."""
        if len(cells) > len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells + ("",) * (len(self.columns) - len(cells)))

    @property
    def row_count(self) -> int:
        return len(self.rows)


class Text:
    """One line of text with a style rich would apply (dropped in plain output)."""

    __slots__ = ("style", "value")

    def __init__(self, value: str, style: str = "") -> None:
        self.value = value
        self.style = style


class Indent:
    """An item shifted right by ``by`` spaces (rich's Padding, expand=False)."""

    __slots__ = ("by", "item")

    def __init__(self, item: Item, by: int) -> None:
        self.item = item
        self.by = by


Item = Table | Text | Indent | str


def table(*columns: str, title: str | None = None, caption: str | None = None,
          wrap: tuple[str, ...] = ()) -> Table:
    return Table(*columns, title=title, caption=caption, wrap=wrap)


def text(value: object, style: str | None = None) -> Text:
    return Text(str(value), style or "")


def indent(item: Item, by: int = 4) -> Indent:
    return Indent(item, by)


def width() -> int:
    """The terminal's width on a terminal, else :data:`PIPE_WIDTH` (as rich sees it)."""
    if not sys.stdout.isatty():
        return PIPE_WIDTH
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 80


def _plain(value: str) -> bool:
    """Text whose width is its length: printable ASCII (rich measures anything else)."""
    return value.isascii() and all(line.isprintable() for line in value.split("\n"))


def layout_table(grid: Table, limit: int) -> list[str] | None:
    """The table's lines as rich draws it, or None when rich's layout is needed."""
    cells = [[c.split("\n") for c in row] for row in grid.rows]
    widths = [len(c) for c in grid.columns]
    for row in cells:
        for i, lines in enumerate(row):
            for line in lines:
                if len(line) > widths[i]:
                    widths[i] = len(line)
    total = sum(widths) + len(GAP) * (len(widths) - 1)
    texts = [*grid.columns, *(c for row in grid.rows for c in row)]
    notes = [n for n in (grid.title, grid.caption) if n]  # rich skips an empty one
    # Too wide: rich folds the columns that may wrap; one with none that may is printed
    # whole (rich would crop every cell to the width: 0x0f000004 came out as 0x0f00000).
    if (total > limit and grid.wrap) or not all(widths) or any(len(n) > total for n in notes) \
            or not all(_plain(t) for t in [*texts, *notes]):
        return None
    out: list[str] = []
    if grid.title:
        out.append(grid.title)
    out.append(GAP.join(c.ljust(w) for c, w in zip(grid.columns, widths, strict=True)))
    out.append(RULE * total)
    for row in cells:
        height = max(len(lines) for lines in row)
        for k in range(height):
            out.append(GAP.join((lines[k] if k < len(lines) else "").ljust(w)
                                for lines, w in zip(row, widths, strict=True)))
    if grid.caption:
        out.append(grid.caption)
    return out


def _layout(item: Item, limit: int) -> list[str] | None:
    """An item's lines, or None when only rich can lay it out."""
    if isinstance(item, str):  # printed whole, never wrapped (rich's soft_wrap)
        return item.split("\n")
    if isinstance(item, Text):
        lines = item.value.split("\n")
        return lines if all(len(x) <= limit and _plain(x) for x in lines) else None
    if isinstance(item, Indent):
        inner = _layout(item.item, limit - item.by)
        return None if inner is None else [" " * item.by + line for line in inner]
    return layout_table(item, limit)


def show(*items: Item) -> None:
    """Print the items, each laid out here when it can be, by rich otherwise."""
    limit = width()
    out: list[str] = []
    console: Console | None = None
    for item in items:
        lines = _layout(item, limit)
        if lines is None:
            console = console or _console(limit)
            lines = _rich_lines(console, item)
        out.extend(line.rstrip() for line in lines)
    # rich pads every cell; trailing blanks only get in the way of diffs and pastes
    print("\n".join(out))


# ---------------------------------------------------------------------- rich


def _console(limit: int) -> Console:
    """A console on the current sys.stdout, no markup, highlighting or colour."""
    from rich.console import Console

    return Console(file=sys.stdout, width=limit, highlight=False, markup=False, emoji=False,
                   soft_wrap=False, no_color=True)


def to_rich(item: Item) -> RenderableType:
    """The rich renderable the fast layout stands in for."""
    from rich import box
    from rich import table as rich_table
    from rich import text as rich_text
    from rich.padding import Padding

    if isinstance(item, str):
        return rich_text.Text(item)
    if isinstance(item, Text):
        return rich_text.Text(item.value, style=item.style)
    if isinstance(item, Indent):
        return Padding(to_rich(item.item), (0, 0, 0, item.by), expand=False)
    out = rich_table.Table(title=item.title, caption=item.caption, box=box.SIMPLE_HEAD,
                           title_justify="left", caption_justify="left", show_edge=False,
                           pad_edge=False)
    for name in item.columns:
        out.add_column(name, overflow="fold", no_wrap=name not in item.wrap)
    for row in item.rows:
        out.add_row(*row)
    return out


def _rich_lines(console: Console, item: Item) -> list[str]:
    with console.capture() as captured:
        if isinstance(item, str):
            console.print(to_rich(item), soft_wrap=True)
        else:
            console.print(to_rich(item))
    value = captured.get()
    return (value[:-1] if value.endswith("\n") else value).split("\n")
