"""Start-up probes: what QEMU accepts or refuses before any guest runs, and the pre-CAS tree.

Why ``-machine dumpdtb=``: it runs QEMU's whole start-up validation (CPU model, machine
properties, the machine reset that applies max-cpu-compat) and writes the initial device tree,
then exits in about 0.1 s (oracle.md). The tree's ``cpu-version`` is the mode before CAS:
``spapr_dt_cpu`` writes the real PVR, overwritten by ``compat_pvr`` when one is set
(qemu.md section 5.2, step 5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import fdt

from powercompat.verify import process, signals
from powercompat.verify.boot import dump_dtb
from powercompat.verify.qemu import QemuBinary


@dataclass(frozen=True, slots=True)
class Probe:
    """One start-up configuration to try."""

    cpu: str
    max_cpu_compat: str | None = None
    extra: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What QEMU said about a :class:`Probe`."""

    cpu: str
    max_cpu_compat: str | None
    extra: tuple[str, ...]
    note: str
    argv: tuple[str, ...]
    returncode: int
    started: bool
    startup_error: str | None
    startup_error_prefix: str | None
    stderr: str
    cpu_nodes: tuple[str, ...]  # names of the /cpus/*@* nodes in the pre-CAS tree
    cpu_versions: tuple[int, ...]  # their cpu-version (pre-CAS)
    #: TCG's "doesn't support requested feature" lines, kept out of ``stderr`` (catalog.py)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in _LISTS:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProbeResult:
        d = dict(d)
        for k in _LISTS:
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


_LISTS = ("extra", "argv", "cpu_nodes", "cpu_versions", "warnings")


def dtb_cpu_versions(blob: bytes) -> tuple[tuple[str, int], ...]:
    """``(node name, cpu-version)`` of every CPU node of a flattened device tree."""
    tree = fdt.parse_dtb(blob)
    out: list[tuple[str, int]] = []
    for node in tree.get_node("/cpus").nodes:
        prop = node.get_property("cpu-version")
        if "@" in node.name and prop is not None:
            out.append((node.name, int(prop.value)))
    return tuple(out)


def run_probe(qemu: QemuBinary | str, probe: Probe) -> ProbeResult:
    """Run one probe with ``dumpdtb`` and read the pre-CAS tree if QEMU wrote one."""
    with process.temp_dir(prefix="pcv-dtb-") as tmp:
        dest = tmp / "pre-cas.dtb"
        proc = dump_dtb(qemu, probe.cpu, probe.max_cpu_compat, dest, extra=probe.extra)
        started = proc.returncode == 0 and dest.exists()
        nodes = dtb_cpu_versions(dest.read_bytes()) if started else ()
    err = None if started else signals.startup_error(proc.stderr)
    return ProbeResult(
        cpu=probe.cpu,
        max_cpu_compat=probe.max_cpu_compat,
        extra=probe.extra,
        note=probe.note,
        argv=tuple(str(a) for a in proc.args),
        returncode=proc.returncode,
        started=started,
        startup_error=err.message if err else None,
        startup_error_prefix=err.prefix if err else None,
        stderr=proc.stderr,
        cpu_nodes=tuple(n for n, _ in nodes),
        cpu_versions=tuple(v for _, v in nodes),
    )


#: The probes the engine needs answered by the real QEMU (brief of issue #4, qemu.md App. A).
DEFAULT_PROBES: tuple[Probe, ...] = (
    Probe("foo", note="unknown CPU model"),
    Probe("power5+", "power6", note="pre-POWER6 CPU with a compat mode (pcr_supported = 0)"),
    Probe("power5+", note="pre-POWER6 CPU, raw"),
    Probe("970", note="PowerPC 970 on pseries, raw"),
    Probe("970", "power6", note="PowerPC 970 with a compat mode"),
    Probe("power9", extra=("-smp", "2,threads=2"), note="SMT under TCG pseries"),
    Probe("power8", extra=("-smp", "2,threads=2"), note="SMT under TCG pseries"),
    Probe("power8e", note="CPU model alias accepted?"),
    Probe("power8nvl", note="CPU model alias accepted?"),
    Probe("power9_v2.0", note="CPU model accepted?"),
    Probe("power9_v2.2", note="CPU model accepted?"),
    Probe("power10_v2.0", note="CPU model accepted?"),
    Probe("power7", "power7+", note="power7+ on a POWER7"),
    Probe("power9", "power7+", note="power7+ on a POWER9 (HEAD would refuse)"),
    Probe("power9", "foo", note="unknown mode name"),
    Probe("power9", "POWER8", note="mode names are case-sensitive"),
    Probe("power9", "", note="empty mode = raw"),
    Probe("power9", "power11", note="mode absent from 7.2"),
    Probe("power9", "power10", note="mode newer than the CPU"),
    Probe("power8", "power9", note="mode newer than the CPU"),
    Probe("power9", "power8", note="pre-CAS cpu-version in a compat mode"),
    Probe("power9", extra=("-smp", "4"), note="pre-CAS cpu-version of every vCPU, raw"),
    Probe("power9", "power7", extra=("-smp", "2"), note="every vCPU gets max-cpu-compat"),
    Probe("power9,compat=power8", note="the removed -cpu compat= property"),
)


#: ``-smp`` settings of the threads-per-core sweep (``record smt``): every power of 2 up to
#: past TCG's limit of 8 threads (hw/ppc/spapr.c spapr_set_vsmt_mode(), 10.0 on), a count
#: that is not a power of 2, and two cores of two threads
SMT_SPECS: tuple[str, ...] = ("2,threads=2", "4,threads=4", "8,threads=8", "16,threads=16",
                              "6,threads=3", "4,threads=2")


def smt_probes(cpus: list[str], modes: list[str | None]) -> tuple[Probe, ...]:
    """Every CPU x max-cpu-compat x :data:`SMT_SPECS`: which thread counts each release
    starts under TCG, with its refusal's words, and the pre-CAS mode of every core."""
    return tuple(Probe(cpu, mode, ("-smp", spec), note="threads per core under TCG")
                 for cpu in cpus for mode in modes for spec in SMT_SPECS)
