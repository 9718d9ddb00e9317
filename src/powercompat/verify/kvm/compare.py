"""Compare one recorded nested-KVM configuration with the engine's prediction.

The prediction is ``powercompat.scenario.simulate`` with the record's KVM flavour as the
accelerator (``accel``: ``kvm-hv``, or ``kvm-pr`` for the PR runs of issue #14), ``cpu`` as L2 QEMU
was given it, the host CPU as the L1 kernel reported it (the PVR QEMU passed to
``KVM_SET_SREGS``), where L1 runs (``powernv`` bare metal, or ``pseries``: a nested
hypervisor), the L1 QEMU's profile, ``smp`` of the run, the L2 guest (Linux 6.12, the
engine's ``linux-6.12``), and the events ``realize,reset,cas,reboot,cas``.
The engine's events map onto the recorded phases: realize+reset = startup, then cas1,
reboot1, cas2. Compared: whether QEMU started, its first error line, the ARCH_COMPAT calls
(vCPU, op, value, errno) of each phase in each vCPU's order, and every vCPU's final
``cpu-version``.

Why not the order across vCPUs: QEMU makes each vCPU's call on that vCPU's own thread
(ppc_set_compat_all() and CAS go through run_on_cpu(), one vCPU after the other, in
CPU_FOREACH order: target/ppc/compat.c), and L1's trace file merges its per-CPU buffers by
timestamp, so two calls made on different L1 CPUs are ordered only as well as those CPUs'
clocks agree. The recorded calls carry their L1 CPU, thread and timestamp. A first powernv9
L1 6.12 session saw vCPU 1 before vCPU 0 in two of 15 cells; its re-run saw 0 before 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from powercompat.catalog.kernels import kernel_by_name
from powercompat.errors import PowerCompatError, UnknownProfileError
from powercompat.machine.options import MachineOptions
from powercompat.messages import SIGILL, guest_init_killed
from powercompat.profiles import profile_for_version
from powercompat.scenario import Simulation, judge_guest, parse_guest, simulate
from powercompat.verify.errors import RecordError

EVENTS = ("realize", "reset", "cas", "reboot", "cas")
L2_GUEST = "linux-6.12"
_PHASES = ("startup", "cas1", "reboot1", "cas2")
_PREFIX = "qemu-system-ppc64: "


@dataclass
class Comparison:
    """``gap``: what the engine lacks to predict this cell (its QEMU release, its host
    kernel); then ``profile`` is None and nothing was compared."""

    cell: str
    profile: str | None
    agree: bool
    diffs: list[str] = field(default_factory=list)
    predicted: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    gap: str | None = None


def load_kvm_record(path: Path) -> dict[str, Any]:
    """:raises RecordError: not a recorded nested-KVM session."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RecordError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(data, dict) or data.get("schema") != "powercompat-verify-kvm/1":
        raise RecordError(f"{path}: not a nested-KVM record (schema)")
    if not isinstance(data.get("cells"), list):
        raise RecordError(f"{path}: no 'cells' list")
    return data


def host_pvr(cell: dict[str, Any], record: dict[str, Any]) -> str | None:
    """The host PVR: what ``-cpu host`` passed to KVM_SET_SREGS in this cell, else in any
    cell of the session (a start-up refusal may come before any vCPU exists)."""
    for c in (cell, *record["cells"]):
        run = c.get("run") or {}
        pvrs = run.get("set_sregs", {}).get("pvrs", [])
        if c["config"]["cpu"] == "host" and pvrs:
            return str(pvrs[0])
    return None


def accel_of(record: dict[str, Any]) -> str:
    """The engine accelerator that models the record's kernel (older records: HV)."""
    return str(record.get("accel", "kvm-hv"))


def observed(cell: dict[str, Any]) -> dict[str, Any]:
    """The recorded run reduced to what the engine predicts."""
    run = cell["run"]
    phases = {p["name"]: p for p in run["phases"]}
    started = any(n.startswith("cas") for n in phases) or bool(run["boots"])
    errors = [ln.removeprefix(_PREFIX) for ln in run["error"]]
    calls = {name: [(c["vcpu"], c["op"], c["value"], c["errno"])
                    for c in phases.get(name, {"calls": []})["calls"]] for name in _PHASES}
    last = run["boots"][-1]["cpu_versions"] if run["boots"] else None
    return {"started": started, "error": errors[0] if errors else None, "calls": calls,
            "cpu_versions": [f"0x{v}" for v in last] if last else None}


def host_kernel(record: dict[str, Any]) -> str:
    """The engine's name for the host kernel: the L1 kernel is the host of L2 (a rebuilt
    kernel, ``6.1-pr``, is named by its upstream version)."""
    return f"linux-{record['l1_kernel']['label'].split('-')[0]}"


def host_platform(record: dict[str, Any]) -> str:
    """Where L1 runs: ``powernv9`` is bare metal (PowerNV), ``pseries-*`` a nested
    hypervisor (a record naming no host: bare metal)."""
    name = str(record.get("host", {}).get("name", "powernv"))
    return "powernv" if name.startswith("powernv") else "pseries"


_SIZE_KIB = {"k": 1, "m": 1024, "g": 1024 * 1024}


def cap_page_kib(argv: list[str]) -> int | None:
    """``cap-hpt-max-page-size=4k`` of L2's ``-machine`` in KiB (None: not given)."""
    for i, arg in enumerate(argv[:-1]):
        if arg not in ("-machine", "-M"):
            continue
        for prop in argv[i + 1].split(","):
            key, _, value = prop.partition("=")
            if key == "cap-hpt-max-page-size" and value[:-1].isdigit():
                return int(value[:-1]) * _SIZE_KIB.get(value[-1].lower(), 0)
    return None


def _page_kib(record: dict[str, Any]) -> int | None:
    """The L1 kernel's base page as its config said (None: not recorded, the kernel's own)."""
    size = record["l1_kernel"].get("page_size")
    return None if size is None else int(size) // 1024


def init_dies_in_harness(sim: Simulation) -> bool:
    """Does L2's init die in this harness? The engine's userland verdict, but with the PCR
    not enforced: L0 is TCG, whose translation checks no PCR bit (target/ppc), so only what
    the guest is told counts (no VSX in ibm,vmx: init dies, as recorded in power6 mode),
    not the instruction gating real hardware adds (a POWER8-built init survived power7 mode
    in every recorded cell)."""
    vm = sim.machines[0] if sim.machines else None
    if not sim.started or vm is None or not vm.vcpus:
        return False
    state = replace(vm.vcpu_states()[0], kernel_enforced=False)
    _kernel, userland = judge_guest(parse_guest(L2_GUEST), vm.config,
                                    vm.config.max_compat_pvr, vm.vcpus[0].compat_pvr, state)
    return userland.ok is False


def predicted(cell: dict[str, Any], record: dict[str, Any], profile: str
              ) -> dict[str, Any]:
    cfg = cell["config"]
    options = MachineOptions(cpu=cfg["cpu"], smp=cfg["smp"], threads=1,
                             max_cpu_compat=cfg["max_cpu_compat"], accel=accel_of(record),
                             host_cpu=host_pvr(cell, record), qemu=profile,
                             host_kernel=host_kernel(record),
                             host_platform=host_platform(record),
                             host_page_size=_page_kib(record),
                             hpt_max_page_size=cap_page_kib(cfg.get("argv", [])))
    try:
        sim = simulate(options, EVENTS, L2_GUEST)
    except PowerCompatError as err:  # the engine refuses the options themselves
        return {"started": False, "error": str(err), "calls": {p: [] for p in _PHASES},
                "cpu_versions": None}
    calls: dict[str, list[tuple[int, str, str | None, int]]] = {p: [] for p in _PHASES}
    phase_of = {0: "startup", 1: "startup", 2: "cas1", 3: "reboot1", 4: "cas2"}
    # init dies at the first boot: the guest kernel panics and calls ibm,os-term, QEMU
    # reports it and stops (panic action shutdown), so there is no reboot and no second CAS
    panicked = init_dies_in_harness(sim)
    if panicked:
        phase_of = {0: "startup", 1: "startup", 2: "cas1"}
    for i, event in enumerate(sim.events):
        name = phase_of.get(i)
        if name is None or event.name != EVENTS[i]:
            continue
        calls[name] += [(c.vcpu, c.op, None if c.value is None else f"0x{c.value:08x}",
                         c.errno) for c in event.one_reg]
    versions = ([f"0x{v.cpu_version:08x}" for v in sim.vcpus]
                if sim.started and not panicked else None)
    said = guest_init_killed(SIGILL, parse_guest(L2_GUEST).os_term_text)
    return {"started": sim.started, "error": said if panicked else sim.error,
            "calls": calls, "cpu_versions": versions}


def per_vcpu(calls: list[list[Any]]) -> dict[Any, list[list[Any]]]:
    """A phase's calls as each vCPU made them, in its order (the module says why not the
    order across vCPUs)."""
    out: dict[Any, list[list[Any]]] = {}
    for call in calls:
        out.setdefault(call[0], []).append(call)
    return out


def compare_cell(cell: dict[str, Any], record: dict[str, Any]) -> Comparison:
    """Engine vs. one recorded configuration; every difference as one line."""
    cfg = cell["config"]
    version = record["l1_qemus"][cfg["qemu"]]["reported"] or cfg["qemu"]
    version = version.split("version ")[-1].split()[0] if "version " in version else version
    if cell.get("run") is None:
        return Comparison(cfg["id"], None, False, ["no run recorded (harness)"])
    obs = observed(cell)
    try:
        prof = profile_for_version(version)
    except UnknownProfileError:
        gap = f"the engine has no profile for QEMU {version}"
        return Comparison(cfg["id"], None, False, [gap], None, obs, gap)
    if kernel_by_name(host_kernel(record)) is None:
        gap = f"the engine has no host kernel {host_kernel(record)}"
        return Comparison(cfg["id"], None, False, [gap], None, obs, gap)
    pred = predicted(cell, record, prof.name)
    diffs = []
    if obs["started"] != pred["started"]:
        diffs.append(f"started: observed {obs['started']}, predicted {pred['started']}")
    if (obs["error"] or None) != (pred["error"] or None):
        diffs.append(f"error: observed {obs['error']!r}, predicted {pred['error']!r}")
    for phase in _PHASES:
        o = [list(c) for c in obs["calls"][phase]]
        p = [list(c) for c in pred["calls"][phase]]
        if per_vcpu(o) != per_vcpu(p):
            diffs.append(f"{phase} ARCH_COMPAT calls: observed {o}, predicted {p}")
    if obs["cpu_versions"] is not None and obs["cpu_versions"] != pred["cpu_versions"]:
        diffs.append(f"cpu-version: observed {obs['cpu_versions']}, "
                     f"predicted {pred['cpu_versions']}")
    return Comparison(cfg["id"], prof.name, not diffs, diffs, pred, obs)
