"""A QEMU release's pseries machine types, read from the real binary (``-M help``).

Why: a live migration across releases needs a machine type both ends have (the destination
refuses the stream otherwise: ``Machine type received is 'pseries-7.2' and local is
'pseries-10.0'``), and releases drop old types (10.0 has no pseries-2.x; Debian's 11.1 has no
pseries-5.0 or 5.1, although upstream's tree still lists them). Which types a binary has, which
``pseries`` stands for, which it calls deprecated, and its words for a missing one, are
recorded per release under ``src/powercompat/data/machines-R.json`` and read by the
engine's catalogue. No guest runs: ``-M help`` and one start-up probe, no lock needed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from powercompat.verify import process, signals
from powercompat.verify.errors import EnvironmentProblem
from powercompat.verify.qemu import QemuBinary, QemuVersion

SCHEMA = "powercompat-qemu-machines/1"
TIMEOUT = 30.0
#: a machine type no release has, for the refusal's words
MISSING = "pseries-0.0"
NAME = "{machine}"

# "pseries-7.2          pSeries Logical Partition (PAPR compliant) (default)"
# "pseries              pSeries ... (alias of pseries-7.2)"; hw/core/machine-qmp-cmds or vl.c
_LINE = re.compile(r"^(pseries(?:-\S+)?)\s+(.*?)\s*$")
_ALIAS = re.compile(r"\(alias of (\S+)\)")


@dataclass(frozen=True, slots=True)
class MachineHelp:
    """One pseries line of ``-M help``."""

    name: str
    deprecated: bool
    default: bool


def parse_machine_help(text: str) -> tuple[list[MachineHelp], str | None]:
    """The pseries types of ``-M help`` in the binary's order, and what ``pseries`` stands for.

    :raises EnvironmentProblem: no pseries type is listed.
    """
    machines: list[MachineHelp] = []
    alias: str | None = None
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m is None:
            continue
        name, rest = m.group(1), m.group(2)
        target = _ALIAS.search(rest)
        if name == "pseries" and target is not None:
            alias = target.group(1)
            continue
        machines.append(MachineHelp(name, "(deprecated)" in rest, "(default)" in rest))
    if not machines:
        raise EnvironmentProblem("-M help lists no pseries machine type")
    return machines, alias


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name))


def _first_error(stderr: str) -> tuple[str | None, list[str]]:
    """QEMU's first non-warning line (prefix removed) and every line after it."""
    lines = [ln.removeprefix(signals.QEMU_PREFIX) for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("warning:")]
    return (errors[0] if errors else None), errors


def read_machines(qemu: QemuBinary, version: QemuVersion) -> dict[str, Any]:
    """``-M help``, one start-up probe with a missing type and one with a deprecated type.

    :raises EnvironmentProblem: the binary fails, hangs or lists no pseries type.
    """
    listed = process.run(qemu.argv("-M", "help"), timeout=TIMEOUT)
    if listed.returncode != 0:
        raise EnvironmentProblem(f"{qemu.name} -M help exited {listed.returncode}")
    machines, alias = parse_machine_help(listed.stdout)
    probe = ("-nodefaults", "-S", "-display", "none", "-monitor", "stdio", "-cpu", "power8")
    missing = process.run(qemu.argv("-M", MISSING, *probe), timeout=TIMEOUT, stdin_text="quit\n")
    first, lines = _first_error(missing.stderr)
    texts = {"unsupported_machine": [ln.replace(MISSING, NAME) for ln in lines]}
    deprecated = [m.name for m in machines if m.deprecated]
    warning = None
    if deprecated:
        started = process.run(qemu.argv("-M", deprecated[0], *probe), timeout=TIMEOUT,
                              stdin_text="quit\n")
        warning = next((ln.removeprefix(signals.QEMU_PREFIX + "warning: ").replace(
            deprecated[0], NAME) for ln in started.stderr.splitlines()
            if "is deprecated" in ln), None)
    texts["deprecated_machine"] = [] if warning is None else [warning]
    if first is None:
        raise EnvironmentProblem(f"{qemu.name} started with -M {MISSING}")
    ordered = sorted(machines, key=lambda m: _version_key(m.name))
    return {
        "schema": SCHEMA,
        "release": version.release,
        "qemu_version": version.line,
        "debian_version": version.debian_version,
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "method": "-M help (the pseries lines); start-up probes -M MACHINE -S -nodefaults "
        "-monitor stdio with 'quit' on stdin: a missing type (" + MISSING + ") for the "
        "refusal, the oldest deprecated type for the warning",
        "pseries": alias,
        "machines": [{"name": m.name, "deprecated": m.deprecated} for m in ordered],
        "texts": texts,
    }
