"""A QEMU release's CPU catalogue, read from the real binary: ``-cpu help`` plus start-up probes.

Why probes and not the help text alone: ``-cpu help`` lists every PowerPC model the binary was
built with, but only some are pseries CPUs (a ``970fx`` is listed and refused with "Unable to
find sPAPR CPU Core definition"), and which ``max-cpu-compat`` each accepts is decided at
machine start-up. A probe starts the machine stopped (``-S``) with the monitor on stdin and
sends ``quit``: exit status 0 means the machine was built, 1 that it was refused with its
message on stderr (releases.md). No timing guess is involved; ``-nodefaults`` keeps releases
from looking for VGA ROMs.

TCG prints ``warning: TCG doesn't support requested feature, cap-...`` on every start; those
lines are kept apart from the refusal text (they are not errors).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from powercompat.verify import process, signals
from powercompat.verify.probes import ProbeResult
from powercompat.verify.qemu import QemuBinary, QemuVersion

SCHEMA = "powercompat-qemu-catalog/1"
#: ``None`` = max-cpu-compat unset; the newest names are refused by releases that lack them
PROBE_MODES: tuple[str | None, ...] = (
    None, "power6", "power7", "power7+", "power8", "power9", "power10", "power11",
)  # fmt: skip
PROBE_TIMEOUT = 60.0
HELP_TIMEOUT = 30.0
#: a name no release has, for the unknown-model text
UNKNOWN_MODEL = "powercompat-no-such-cpu"
#: the placeholder for the model name in ``texts``
NAME = "{model}"
METHOD = (
    "QEMU -M pseries[,max-cpu-compat=M] -cpu C -m 1G -S -nodefaults -display none "
    "-monitor stdio, 'quit' on stdin; exit 0 = the machine was built (started), else the "
    "refusal is on stderr; 'warning: TCG doesn't support requested feature' lines are kept "
    "apart in 'warnings'"
)

# "PowerPC power9_v2.0         PVR 004e1200" (up to 7.2) or "  power9_v2.2  PVR 004e1202";
# target/ppc/cpu_init.c ppc_cpu_list_entry()
_MODEL = re.compile(r"^(?:PowerPC )?\s*(\S+)\s+PVR ([0-9a-fA-F]{8})\s*(.*)$")
_ALIAS = re.compile(r"^(?:PowerPC )?\s*(\S+)\s+\(alias for (?:preferred )?(\S+?)(?: CPU)?\)\s*$")
_TCG_WARNING = re.compile(r"warning: TCG doesn't support requested feature")


@dataclass(frozen=True, slots=True)
class HelpModel:
    """One model line of ``-cpu help``."""

    name: str
    pvr: int
    description: str  # what the line says after the PVR (QEMU prints nothing there today)


@dataclass(frozen=True, slots=True)
class CpuHelp:
    """``-cpu help`` parsed: models and aliases in the order QEMU prints them."""

    models: tuple[HelpModel, ...]
    aliases: tuple[tuple[str, str], ...]
    unparsed: tuple[str, ...]  # lines that are neither (the "Available CPUs:" header)


def parse_cpu_help(text: str) -> CpuHelp:
    """Read every model with its PVR and every alias with its target."""
    models: list[HelpModel] = []
    aliases: list[tuple[str, str]] = []
    unparsed: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _ALIAS.match(line)
        if m:
            aliases.append((m.group(1), m.group(2)))
            continue
        m = _MODEL.match(line)
        if m:
            models.append(HelpModel(m.group(1), int(m.group(2), 16), m.group(3).strip()))
            continue
        unparsed.append(line.strip())
    return CpuHelp(tuple(models), tuple(aliases), tuple(unparsed))


def cpu_help(qemu: QemuBinary) -> CpuHelp:
    """Ask the binary for its model list.

    :raises EnvironmentProblem: it cannot be run or hangs.
    """
    proc = process.run(qemu.argv("-cpu", "help"), timeout=HELP_TIMEOUT)
    return parse_cpu_help(proc.stdout)


def probe_argv(cpu: str, max_cpu_compat: str | None, extra: tuple[str, ...] = ()) -> list[str]:
    """QEMU options of one start-up probe (without the binary's argv prefix)."""
    machine = "pseries" if max_cpu_compat is None else f"pseries,max-cpu-compat={max_cpu_compat}"
    return ["-M", machine, "-cpu", cpu, "-m", "1G", "-S", "-nodefaults", "-display", "none",
            "-monitor", "stdio", *extra]


def split_warnings(stderr: str) -> tuple[str, tuple[str, ...]]:
    """(stderr without the TCG feature warnings, those warning lines)."""
    kept: list[str] = []
    warnings: list[str] = []
    for line in stderr.splitlines(keepends=True):
        (warnings if _TCG_WARNING.search(line) else kept).append(line)
    return "".join(kept), tuple(w.rstrip("\n") for w in warnings)


def run_startup_probe(
    qemu: QemuBinary, cpu: str, max_cpu_compat: str | None = None, note: str = "",
    extra: tuple[str, ...] = (),
) -> ProbeResult:
    """Start the machine stopped and quit it: was it built, and what did QEMU say?

    Unlike ``-machine dumpdtb`` (which 10.0 and 11.1 refuse for pseries: "This machine
    doesn't have an FDT", and 5.2 cannot combine with VOF) it works in every release."""
    options = probe_argv(cpu, max_cpu_compat, extra)
    proc = process.run(qemu.argv(*options), timeout=PROBE_TIMEOUT, stdin_text="quit\n")
    stderr, warnings = split_warnings(proc.stderr)
    started = proc.returncode == 0
    err = None if started else signals.startup_error(stderr)
    return ProbeResult(
        cpu=cpu,
        max_cpu_compat=max_cpu_compat,
        extra=extra,
        note=note,
        argv=(qemu.binary.name, *options),
        returncode=proc.returncode,
        started=started,
        startup_error=err.message if err else None,
        startup_error_prefix=err.prefix if err else None,
        stderr=stderr,
        cpu_nodes=(),
        cpu_versions=(),
        warnings=warnings,
    )


@dataclass(frozen=True, slots=True)
class CatalogRun:
    """Everything one ``verify catalog`` learned from one binary."""

    version: QemuVersion
    suite: str | None
    help: CpuHelp
    pseries: dict[str, bool]
    probes: tuple[ProbeResult, ...]
    texts: dict[str, str]
    seconds: float
    date: str

    def catalog_json(self, command: str) -> dict[str, Any]:
        """The per-release catalogue (``src/powercompat/data/qemu-<release>.json``)."""
        return {
            "schema": SCHEMA,
            "release": self.version.release,
            "qemu_version": self.version.line,
            "debian_version": self.version.debian_version,
            "suite": self.suite,
            "command": command,
            "date": self.date,
            "models": [
                {"name": m.name, "pvr": f"0x{m.pvr:08x}", "description": m.description,
                 "pseries": self.pseries[m.name]}
                for m in self.help.models
            ],
            "aliases": dict(self.help.aliases),
            "texts": self.texts,
        }

    def probes_json(self, command: str, qemu: QemuBinary) -> dict[str, Any]:
        """The probe matrix (``tests/data/real/qemu-<release>-startup-probes.json``)."""
        return {
            "qemu_version": self.version.line,
            "qemu_release": self.version.release,
            "qemu_debian_version": self.version.debian_version,
            "qemu_suite": self.suite,
            "qemu": qemu.to_json(),
            "date": self.date,
            "command": command,
            "method": METHOD,
            "probe_seconds": self.seconds,
            "probes": [p.to_json() for p in self.probes],
        }


def _server_family(name: str) -> bool:
    """64-bit server models (970 and POWER5 on): the ones worth a max-cpu-compat probe."""
    return name.startswith(("970", "power"))


def _template(message: str | None, name: str) -> str:
    return "" if message is None else message.replace(name, NAME)


def run_catalog(
    qemu: QemuBinary,
    version: QemuVersion,
    *,
    suite: str | None = None,
    modes: Sequence[str | None] = PROBE_MODES,
    jobs: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> CatalogRun:
    """Probe every listed model as a pseries CPU, then every pseries-capable server model with
    every ``max-cpu-compat`` value; two probes at a time (this machine has 2 cores)."""
    import time

    start = time.monotonic()
    date = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    help_ = cpu_help(qemu)
    done = 0

    def one(args: tuple[str, str | None, str]) -> ProbeResult:
        nonlocal done
        result = run_startup_probe(qemu, *args)
        done += 1
        if progress is not None:
            progress(done, total)
        return result

    first: list[tuple[str, str | None, str]] = [
        (m.name, None, "listed model as a pseries CPU") for m in help_.models]
    first.append((UNKNOWN_MODEL, None, "unknown model"))
    total = len(first)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        plain = list(pool.map(one, first))
        pseries = {p.cpu: p.started for p in plain if p.cpu != UNKNOWN_MODEL}
        second = [(m.name, mode, "max-cpu-compat on a pseries CPU") for m in help_.models
                  if pseries[m.name] and _server_family(m.name) for mode in modes
                  if mode is not None]
        total += len(second)
        with_modes = list(pool.map(one, second))
    unknown = plain[-1]
    refused = next((p for p in plain if not p.started and _server_family(p.cpu)), None)
    texts = {
        "unknown_model": _template(unknown.startup_error, UNKNOWN_MODEL),
        "not_pseries": _template(refused.startup_error, refused.cpu) if refused else "",
    }
    probes = tuple(replace(p, note=p.note) for p in (*plain, *with_modes))
    return CatalogRun(version, suite, help_, pseries, probes, texts,
                      round(time.monotonic() - start, 3), date)
