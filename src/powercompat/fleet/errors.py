"""The fleet planner's input error: one line naming the file, the record and the field."""

from __future__ import annotations

from powercompat.errors import InputError
from powercompat.inputs import one_line


class InventoryError(InputError):
    """An inventory that cannot be planned.

    ``path`` is the file, ``where`` the record (``row 7``, ``guests[3]``, ``<cpu>/<model>``),
    ``field`` the field or attribute (None when the whole record or file is at fault) and
    ``problem`` the reason, often the engine's own message. The message is always one
    printable line: a key or value from the file that is not is shown escaped.

    >>> str(InventoryError("fleet.csv", "row 7", "cpu", "unable to find CPU model 'power12'"))
    "fleet.csv: row 7, field 'cpu': unable to find CPU model 'power12'"
    """

    def __init__(self, path: str, where: str | None, field: str | None, problem: str) -> None:
        spot = ", ".join(part for part in (
            where, f"field '{field}'" if field is not None else None) if part)
        super().__init__(one_line(f"{path}: {spot}: {problem}" if spot else f"{path}: {problem}"))
        self.path = path
        self.where = where
        self.field = field
        self.problem = problem
