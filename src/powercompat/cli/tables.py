"""Tables and plain lines for the human output, laid out as rich's ``SIMPLE_HEAD`` box.

Tables are laid out here directly, in time linear in their cells: one that fits the width as
it is (the common case: hex, names, short reasons); one too wide whose wrap columns rich would
narrow and fold (its column-width and word-wrap rules, followed here step for step); and one
too wide none of whose columns may wrap: it is printed whole, wider than the terminal, where
rich cropped every cell (a hex value lost its last digit). rich is imported only for the rest:
a table that folding cannot fit (rich then narrows every column and crops), a title or caption
longer than its table, a styled line longer than the width, or text that is not plain ASCII
(rich measures cell widths). rich renders a cell in tens of microseconds, which made
``simulate --smp 1024`` with 100 hot-plugs take minutes (issue #13), and its import and layout
were a third of a 10,000-host ``fleet plan`` (issue #15); the fast layout gives the same
characters (property tests compare both on random tables at random widths). Styles (bold
headings) are dropped in both: the output is plain text, on a terminal too.
"""

from __future__ import annotations

import os
import re
import sys
from itertools import pairwise
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
    texts = [*grid.columns, *(c for row in grid.rows for c in row)]
    notes = [n for n in (grid.title, grid.caption) if n]  # rich skips an empty one
    if not all(widths) or not all(_plain(t) for t in [*texts, *notes]):
        return None
    folds = [False] * len(widths)
    total = sum(widths) + len(GAP) * (len(widths) - 1)
    # Too wide: rich folds the columns that may wrap; one with none that may is printed
    # whole (rich would crop every cell to the width: 0x0f000004 came out as 0x0f00000).
    if total > limit and grid.wrap:
        folded = _fold_widths(grid, widths, limit)
        if folded is None:
            return None
        folds = [w < natural for w, natural in zip(folded, widths, strict=True)]
        widths = folded
        total = sum(widths) + len(GAP) * (len(widths) - 1)
    if any(len(n) > total for n in notes):
        return None
    out: list[str] = []
    if grid.title:
        out.append(grid.title)
    out.extend(_rows([[c.split("\n") for c in grid.columns]], widths, folds, header=True))
    out.append(RULE * total)
    out.extend(_rows(cells, widths, folds))
    if grid.caption:
        out.append(grid.caption)
    return out


def _rows(rows: list[list[list[str]]], widths: list[int], folds: list[bool],
          header: bool = False) -> list[str]:
    """Each row's lines: every cell's lines (folded to its width where ``folds``) side by
    side, each padded to its column's width; cells sit at the top of a row, but at the
    bottom of the header row (rich/table.py ``Table._render``)."""
    out: list[str] = []
    fold_any = any(folds)
    for row in rows:
        if fold_any:
            row = [_fold_lines(lines, w) if fold else lines
                   for lines, w, fold in zip(row, widths, folds, strict=True)]
        height = max(len(lines) for lines in row)
        if height == 1:  # the usual row: one line in every cell
            out.append(GAP.join(lines[0].ljust(w) for lines, w in zip(row, widths, strict=True)))
            continue
        if header:
            row = [[""] * (height - len(lines)) + lines for lines in row]
        for k in range(height):
            out.append(GAP.join((lines[k] if k < len(lines) else "").ljust(w)
                                for lines, w in zip(row, widths, strict=True)))
    return out


def _fold_widths(grid: Table, widths: list[int], limit: int) -> list[int] | None:
    """The content widths rich gives a too-wide table by narrowing its wrap columns, or None
    when that is not enough (rich then narrows every column and crops: its own layout).

    rich/table.py ``Table._calculate_column_widths``: a column's width counts its padding (one
    space each side, none at the table's outer edges) and the space of the divider is taken
    from the limit; ``_collapse_widths`` then narrows the widest wrap columns, all of equal
    width at once, down to the next widest, until the table fits."""
    n = len(widths)
    room = limit - (n - 1)
    pads = [(i > 0) + (i < n - 1) for i in range(n)]
    measured = [min(w + p, room) or 1 for w, p in zip(widths, pads, strict=True)]
    may = [c in grid.wrap for c in grid.columns]
    excess = sum(measured) - room
    while excess > 0:
        widest = max((w for w, m in zip(measured, may, strict=True) if m), default=0)
        second = max((w for w, m in zip(measured, may, strict=True) if m and w != widest),
                     default=0)
        ratios = [1 if m and w == widest else 0 for w, m in zip(measured, may, strict=True)]
        if not any(ratios) or widest == second:
            break
        measured = _ratio_reduce(excess, ratios, min(excess, widest - second), measured)
        excess = sum(measured) - room
    if excess > 0:
        return None
    content = [w - p for w, p in zip(measured, pads, strict=True)]
    return content if all(w >= 1 for w in content) else None


def _ratio_reduce(total: int, ratios: list[int], cap: int, values: list[int]) -> list[int]:
    """Take ``total`` from the values in proportion to their ratios, at most ``cap`` from
    each, rounding as Python does (rich/_ratio.py ``ratio_reduce``)."""
    left, weight = total, sum(ratios)
    out: list[int] = []
    for ratio, value in zip(ratios, values, strict=True):
        if ratio and cap and weight > 0:
            taken = min(cap, round(ratio * left / weight))
            out.append(value - taken)
            left -= taken
            weight -= ratio
        else:
            out.append(value)
    return out


def _fold_lines(lines: list[str], width: int) -> list[str]:
    """A wrap column's cell (its lines) folded to ``width``: each line broken before the
    first word that does not fit, a word longer than the width cut into width-long pieces
    (rich/_wrap.py ``divide_line`` with ``fold``; a word carries the spaces after it), each
    piece cut to the width (rich's ``Text.wrap`` with ``overflow="fold"``)."""
    out: list[str] = []
    for line in lines:
        breaks: list[int] = []
        used = 0
        for match in _WORD.finditer(line):
            start, word = match.start(), match.group()
            length = len(word.rstrip())
            if width - used >= length:
                used += len(word)
            elif length > width:
                pieces = [word[k:k + width] for k in range(0, len(word), width)]
                for k, piece in enumerate(pieces):
                    if start:
                        breaks.append(start)
                    if k == len(pieces) - 1:
                        used = len(piece)
                    else:
                        start += len(piece)
            elif used and start:
                breaks.append(start)
                used = len(word)
        edges = [0, *breaks, len(line)]
        out.extend(line[a:b][:width] for a, b in pairwise(edges))
    return out


_WORD = re.compile(r"\s*\S+\s*")


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
