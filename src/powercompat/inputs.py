"""Reading untrusted input files: one capped reader, strict JSON, checked text values.

Why one module: every front-end that reads a file a user names (fleet inventories and domain
XML, ``verify check`` recorded results, ``fuzz --replay`` corpora) must refuse the same hostile
inputs the same way, as a one-line typed error, before any of it reaches the engine:

- only regular files are read: a FIFO, a device (a symlink to ``/dev/zero`` too), a socket or
  a directory is refused from ``stat`` before it is opened for reading;
- the size is capped while reading (chunks, stopping at cap + 1 bytes), never after, so a file
  that grows or lies about its size cannot make the reader allocate more than the cap;
- JSON is strict: duplicate keys, ``NaN``/``Infinity``, integers of more than
  :data:`MAX_INT_DIGITS` digits and nesting deeper than Python's recursion limit are refused;
- text values (names, paths in a file) must be short, with no control or format character
  and no lone surrogate, so every later message stays one printable line.

The caps, one per kind of input (:class:`InputKind`):

==================  ==========  ================================================================
kind                cap         why
==================  ==========  ================================================================
fleet inventory     512 MiB     a million records is ~120 MiB of JSON
libvirt domain XML  1 MiB       real domain definitions are a few KiB
recorded results    16 MiB      the largest recorded matrix is ~70 KiB (40-line console tails)
fuzz input          1 MiB       libFuzzer's inputs are 4 KiB by default; a 4096-vCPU stream
                                is ~260 KiB
==================  ==========  ================================================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import types
import typing
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from powercompat.errors import InputError

if TYPE_CHECKING:  # pathlib (with urllib.parse and ipaddress) costs ~3 ms of every start-up
    from pathlib import Path

__all__ = [
    "DOMAIN_XML",
    "FUZZ_INPUT",
    "INVENTORY",
    "MAX_INT_DIGITS",
    "MAX_TEXT_CHARS",
    "RECORDED_RESULTS",
    "InputFileError",
    "InputKind",
    "check_record",
    "decode_utf8",
    "display_path",
    "loads_json",
    "one_line",
    "plain_text",
    "read_capped",
    "text_problem",
]

#: JSON integers longer than this are refused (no value powercompat reads comes close; Python
#: itself refuses int/str conversions past 4300 digits)
MAX_INT_DIGITS: Final = 64
#: longest text value (a name, a group, a path inside an inventory) accepted
MAX_TEXT_CHARS: Final = 4096
#: read size of one chunk
_CHUNK: Final = 1 << 20
#: Unicode categories refused in text values: control, surrogate, format (invisible, bidi
#: overrides), line and paragraph separators (``str.splitlines`` breaks on them)
_BAD_CATEGORIES: Final = frozenset({"Cc", "Cs", "Cf", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class InputKind:
    """A kind of input file: what to call it in messages and its size cap in bytes."""

    name: str
    cap: int


INVENTORY: Final = InputKind("fleet inventory", 512 << 20)
DOMAIN_XML: Final = InputKind("libvirt domain XML file", 1 << 20)
RECORDED_RESULTS: Final = InputKind("recorded results file", 16 << 20)
FUZZ_INPUT: Final = InputKind("fuzz input", 1 << 20)


class InputFileError(InputError):
    """An input file that cannot be used: ``path`` (printable), ``where`` in it, ``problem``.

    >>> str(InputFileError("fleet.json", "is a FIFO (named pipe), not a regular file"))
    'fleet.json: is a FIFO (named pipe), not a regular file'
    >>> str(InputFileError("f.json", "duplicate key 'name'", "line 3 column 9"))
    "f.json: line 3 column 9: duplicate key 'name'"
    """

    def __init__(self, path: str, problem: str, where: str | None = None) -> None:
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.where = where


def display_path(path: Path | str) -> str:
    """A path as one printable line (see :func:`one_line`), so printing an error naming it
    can never fail, even for a name that is not valid UTF-8."""
    return one_line(os.fspath(path))


def one_line(text: str) -> str:
    """``text`` with every non-printable character (newline, control, lone surrogate from an
    undecodable file name) as its backslash escape.

    >>> one_line("a\\nb\\udcff")
    'a\\\\nb\\\\udcff'
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _kind_of(mode: int) -> str | None:
    """Why a file of this mode is refused; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"  # pragma: no cover - every file type is listed above


def read_capped(path: Path | str, kind: InputKind) -> bytes:
    """The bytes of a regular file of at most ``kind.cap`` bytes.

    The type is checked from ``stat`` before opening (opening a FIFO would block) and again
    on the open descriptor (the path may have changed in between); the cap is enforced while
    reading.

    :raises InputFileError: missing or unreadable, not a regular file, or over the cap.
    """
    label = display_path(path)
    try:
        what = _kind_of(os.stat(path).st_mode)
        if what is not None:
            raise InputFileError(label, f"is {what}, not a regular file")
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(path, flags)
    except OSError as err:
        raise InputFileError(label, f"cannot read: {err.strerror}") from err
    except ValueError as err:  # "embedded null byte"
        raise InputFileError(label, "cannot read: the path contains a NUL character") from err
    try:
        info = os.fstat(fd)
        what = _kind_of(info.st_mode)
        if what is not None:
            raise InputFileError(label, f"is {what}, not a regular file")
        if info.st_size > kind.cap:
            raise _too_large(label, kind)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, kind.cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > kind.cap:
                raise _too_large(label, kind)
    except OSError as err:
        raise InputFileError(label, f"cannot read: {err.strerror}") from err
    finally:
        os.close(fd)
    return b"".join(chunks)


def _too_large(label: str, kind: InputKind) -> InputFileError:
    return InputFileError(label, f"larger than {_size(kind.cap)}, the cap for a {kind.name}")


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def decode_utf8(data: bytes, label: str) -> str:
    """UTF-8 text (a leading BOM is dropped). UTF-16 and UTF-32 are named, not guessed at.

    :raises InputFileError: not UTF-8, with the offset of the first bad byte.
    """
    for bom, name in ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"),
                      (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16")):
        if data.startswith(bom):
            raise InputFileError(label, f"{name} text (byte-order mark); save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputFileError(label, "not UTF-8", f"byte {err.start}") from err


class _Refused(ValueError):
    """A value the strict JSON hooks refuse (carried out of ``json.loads``)."""


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {_quote(key)}")
        out[key] = value
    return out


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"number {text[:40]} is out of range")
    return value


def _constant(name: str) -> object:
    raise _Refused(f"{name} is not JSON")


def loads_json(text: str, label: str) -> object:
    """Parse JSON strictly: duplicate keys, NaN/Infinity, over-long integers and
    pathological nesting are refused.

    :raises InputFileError: the first problem, with its line and column when JSON says it.
    """
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise InputFileError(label, f"not valid JSON ({err.msg})",
                             f"line {err.lineno} column {err.colno}") from err
    except _Refused as err:
        raise InputFileError(label, f"not accepted JSON: {err}") from err
    except RecursionError as err:
        raise InputFileError(label, "not accepted JSON: nested too deeply") from err


def _quote(value: str) -> str:
    """A value inside a message: quoted, and escaped when it is not plainly printable."""
    if value.isprintable() and len(value) <= 80:
        return f"'{value}'"
    return ascii(value[:80]) + ("..." if len(value) > 80 else "")


def plain_text(value: str) -> bool:
    """A printable string of a sane length: text_problem() has nothing to say about it. The
    hot callers (every argument of an entry point, every inventory field) ask this first and
    text_problem() only when it is False.

    >>> plain_text("web-01"), plain_text("a\\nb")
    (True, False)
    """
    return len(value) <= MAX_TEXT_CHARS and value.isprintable()


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name or text field (None when it can).

    >>> text_problem("web-01") is None
    True
    >>> text_problem("a\\udc80")
    "contains a lone surrogate U+DC80 ('a\\\\udc80')"
    """
    if len(value) > MAX_TEXT_CHARS:
        return f"longer than {MAX_TEXT_CHARS} characters"
    if value.isprintable():  # the usual case, in C: every refused category is unprintable
        return None
    for ch in value:
        category = unicodedata.category(ch)
        if category in _BAD_CATEGORIES:
            what = {"Cc": "a control character", "Cs": "a lone surrogate",
                    "Cf": "an invisible format character"}.get(category, "a line separator")
            return f"contains {what} U+{ord(ch):04X} ({_quote(value)})"
    return None


def check_record(raw: object, cls: type[Any], label: str, where: str | None,
                 free_text: Collection[str] = ()) -> dict[str, Any]:
    """A JSON object checked field by field against the dataclass ``cls`` it will build.

    Every field must be present unless it has a default, none may be extra, and each value
    must have the field's type exactly as JSON gives it: ``str``, ``int`` (not a bool),
    ``float`` (an int too), ``bool``, ``None`` in an optional field, a list for a
    ``tuple[X, ...]``. Strings must be one printable line (:func:`text_problem`) except in
    ``free_text`` fields (observed output, kept verbatim). Returns ``raw`` itself.

    :raises InputFileError: naming ``where`` and the first bad field.
    """
    if not isinstance(raw, dict):
        raise InputFileError(label, f"must be an object, not {_json_type(raw)}", where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise InputFileError(label, f"field {_quote(key)}: unknown field", where)
    for name, field in fields.items():
        if name not in raw:
            if field.default is dataclasses.MISSING and \
                    field.default_factory is dataclasses.MISSING:
                raise InputFileError(label, f"field '{name}': missing", where)
            continue
        value = raw[name]
        hint = hints[name]
        if not _matches(value, hint):
            raise InputFileError(
                label, f"field '{name}': must be {_describe(hint)}, not {_json_type(value)}",
                where)
        if name not in free_text:
            for text in _strings(value):
                problem = text_problem(text)
                if problem is not None:
                    raise InputFileError(label, f"field '{name}': {problem}", where)
    return raw


def _matches(value: object, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        item, *rest = typing.get_args(hint)
        assert rest == [Ellipsis], f"unsupported field type {hint}"
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return type(value) in (int, float)
    assert hint in (str, int, bool), f"unsupported field type {hint}"
    return type(value) is hint


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return f"a list of {({str: 'strings', int: 'integers'}).get(item) or _describe(item)}"
    return "null" if hint is type(None) else {str: "a string", int: "an integer",
                                               float: "a number", bool: "true or false"}[hint]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
