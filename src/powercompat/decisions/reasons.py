"""The record every decision explains itself with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    """One candidate considered: taken or refused, by which rule, in words."""

    candidate: str
    accepted: bool
    rule: str
    text: str

    def __str__(self) -> str:
        return self.text
