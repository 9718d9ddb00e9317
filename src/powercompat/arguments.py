"""Typed checks of the arguments at the library's public entry points.

Why: a caller of ``negotiate``/``simulate``/``migrate_check`` that passes the wrong type
(``smp="2"``, ``cpu=7``, events as one string) must get an ``InputError`` naming the argument,
not a TypeError or AttributeError from deep inside the engine, nor a result that quietly
ignores the input (``events=("bogus",)`` used to return ``error=None, started=False``).

One decorator, :func:`checked`, reads the function's own annotations, so the check cannot
drift from the signature: every argument must have its annotated type (``int`` is not a
``bool``; ``tuple[str, ...]`` takes a tuple or list of strings, never one string; a dataclass
such as ``MachineOptions`` is checked field by field), every string must be one printable
line (:func:`powercompat.inputs.text_problem`), and arguments given ``choices`` must hold
only those values. It only checks; it never converts.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from powercompat.errors import InvalidValueError
from powercompat.inputs import plain_text, text_problem

P = ParamSpec("P")
R = TypeVar("R")


class ArgumentError(InvalidValueError):
    """An argument of a public function has the wrong type or value.

    ``function`` is the entry point, ``argument`` the argument's name (``options.smp`` for a
    field of a dataclass argument), ``problem`` what is wrong.

    >>> str(ArgumentError("simulate", "events", "unknown event 'bogus'"))
    "simulate: argument 'events': unknown event 'bogus'"
    """

    def __init__(self, function: str, argument: str, problem: str) -> None:
        super().__init__(f"{function}: argument '{argument}': {problem}")
        self.function = function
        self.argument = argument
        self.problem = problem


def checked(**choices: Iterable[str]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check every argument of the decorated function against its annotation before it runs.

    ``choices`` maps an argument name to the values it may hold (for a sequence: each item).

    :raises ArgumentError: the first argument of the wrong type or value.
    """
    allowed = {name: tuple(values) for name, values in choices.items()}

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)
        # Positional-or-keyword parameters only: arguments are matched to names directly,
        # without signature.bind (the entry points are called in hot loops; issue #13).
        simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in signature.parameters.values())
        names = tuple(signature.parameters)
        hints: dict[str, Any] = {}
        #: per parameter, the exact types a plain value may have (None: check it in full)
        plain: dict[str, frozenset[type] | None] = {}

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if not hints:  # resolved on first use: the module is complete by then
                hints.update(typing.get_type_hints(func))
                plain.update((n, _plain_types(h)) for n, h in hints.items())
            if simple and len(args) <= len(names) and (
                    not kwargs or all(k in hints and k not in names[:len(args)]
                                      for k in kwargs)):
                given = (*zip(names, args, strict=False), *kwargs.items())
            else:  # a wrong call is Python's TypeError
                given = tuple(signature.bind(*args, **kwargs).arguments.items())
            for name, value in given:
                kinds = plain[name]
                kind = type(value)
                # the usual argument: a value of one of its exact types, a string that is
                # one short printable line; anything else gets the full check
                if kinds is None or kind not in kinds or (
                        kind is str and not plain_text(value)):  # type: ignore[arg-type]
                    _check(func.__name__, name, value, hints[name])
                if name in allowed:
                    _check_choice(func.__name__, name, value, allowed[name])
            return func(*args, **kwargs)

        return wrapper

    return decorate


def _plain_types(hint: Any) -> frozenset[type] | None:
    """The exact types that satisfy ``hint`` on their own (str, int, bool, bytes, None and
    unions of them), or None for a hint that needs the full check (tuples, dataclasses)."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union,
                                                                 types.UnionType) else (hint,)
    simple = {str: (str,), int: (int,), bool: (bool,), float: (int, float),
              bytes: (bytes, bytearray), type(None): (type(None),), None: (type(None),)}
    out: set[type] = set()
    for arg in args:
        if arg not in simple:
            return None
        out.update(simple[arg])
    return frozenset(out)


def _check(function: str, name: str, value: object, hint: Any) -> None:
    if not _matches(value, hint):
        raise ArgumentError(function, name, f"must be {_describe(hint)}, not "
                            f"{type(value).__name__}")
    for text in _strings(value):
        problem = text_problem(text)
        if problem is not None:
            raise ArgumentError(function, name, problem)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if _known_good(value):
            return
        for field, hint in _field_hints(type(value)):
            _check(function, f"{name}.{field}", getattr(value, field), hint)
        _remember(value)


#: frozen dataclass values already checked field by field (the same MachineOptions is passed
#: to every boot and load of a fleet plan); bounded, and only hashable values
_GOOD: dict[object, None] = {}
_GOOD_MAX = 4096


def _known_good(value: object) -> bool:
    try:
        return value in _GOOD
    except TypeError:  # not hashable: checked every time
        return False


def _remember(value: object) -> None:
    try:
        if len(_GOOD) >= _GOOD_MAX:
            _GOOD.clear()
        _GOOD[value] = None
    except TypeError:
        pass


@functools.cache
def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """A dataclass's fields with their resolved annotations, resolved once per class
    (get_type_hints compiles every string annotation again on each call; issue #13)."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _check_choice(function: str, name: str, value: object, allowed: tuple[str, ...]) -> None:
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    for item in items:
        if item not in allowed:
            raise ArgumentError(function, name, f"unknown {name.removesuffix('s')} '{item}' "
                                f"(valid: {', '.join(allowed)})")


def _matches(value: object, hint: Any) -> bool:
    if type(value) is hint:  # the common case, and never a wrong answer (bool is not int)
        return True
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        item, *rest = typing.get_args(hint)
        assert rest == [Ellipsis], f"unsupported annotation {hint}"
        return isinstance(value, tuple | list) and all(_matches(v, item) for v in value)
    if hint is None or hint is type(None):
        return value is None
    if hint is int:
        return type(value) is int
    if hint is float:
        return type(value) in (int, float)
    if hint is bytes:
        return isinstance(value, bytes | bytearray)
    assert isinstance(hint, type), f"unsupported annotation {hint}"
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return f"a tuple of {_PLURALS.get(item, _describe(item))}"
    if hint is None or hint is type(None):
        return "None"
    names = {str: "a string", int: "an integer", float: "a number", bool: "True or False",
             bytes: "bytes"}
    return names.get(hint, f"a {getattr(hint, '__name__', hint)}")


_PLURALS = {str: "strings", int: "integers", bool: "booleans"}


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [v for v in value if isinstance(v, str)]
    return []
