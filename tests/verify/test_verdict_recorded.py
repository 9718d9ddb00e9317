"""One verdict per configuration, checked against reality (issue #11 item 1): for every
configuration in every recorded real-run file under tests/data/real/, the verdict the real
run showed (verify/observed.py, what ``verify`` reports) is the verdict negotiate, simulate,
migrate-check and fleet plan give, each where it can express the configuration.

Which command can express what:

- a matrix cell (TCG, -cpu, max-cpu-compat, -smp): negotiate, verify (judge_cell), and fleet
  plan through a libvirt domain on a TCG (x86_64) host, as ``fleet plan --connect`` reads
  one: ``<cpu mode='custom'>`` in libvirt's spelling and ``<qemu:commandline>`` for the
  maximum. Inventories have no vCPU count, so the fleet decides ``-smp 1`` and is asked
  only about the -smp 1 cells (QEMU 5.2's ISA 3.1 kernels hang with two vCPUs, not one);
- a boot with the kernel's PVR list patched: negotiate with ``--pvr-list`` and
  ``--disable-radix`` (fleet guests are profiles, not lists);
- a hot-plug after CAS: simulate with realize, reset, cas, hotplug;
- a live migration: migrate-check (a TCG fleet host runs one -cpu for every domain, so the
  fleet cannot move a guest between two TCG CPUs);
- a libvirt <cpu> case: fleet plan (the recorded domain on the recorded host) and negotiate
  with the -cpu and maximum libvirt passed;
- a start-up probe or a gdbstub reading: negotiate (QEMU started or refused, nothing more was
  observed);
- a real upgrade diff (``verify diff``, diff-R1-to-R2.json): its own runs are the start-up
  probes it added on each side (``extra_probes``), judged as probes by negotiate on that
  side's release, ``-cpu X,compat=Y`` spelled as QEMU took it; the rest of the file is drawn
  from recordings judged here on their own;
- a nested KVM HV session (``verify kvm``, schema powercompat-verify-kvm/1): simulate with
  realize, reset, cas, reboot, cas on the recorded host PVR and L1 kernel, as
  verify/kvm/compare.py asks it. The engine is asked only where it has the QEMU profile and
  the host kernel; its known gaps (KVM_GAPS) must still disagree, so a fix shows up here.

A file of a kind this test does not know fails it: a new recording must say what it shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from recorded_gaps import gap_marks

from powercompat.catalog.kernels import kernel_by_name
from powercompat.decisions.libvirt import LibvirtCpu, LibvirtDomain, libvirt_spelling, qemu_facts
from powercompat.decisions.verdict import Fate, Verdict, refusal_fate
from powercompat.errors import PowerCompatError, UnknownProfileError
from powercompat.fleet.decide import GuestKind, HostClass
from powercompat.fleet.inventory import Guest, Host, Inventory
from powercompat.fleet.plan import plan
from powercompat.machine.options import MachineOptions
from powercompat.messages import OS_TERMINATED
from powercompat.profiles import parse_profile, profile_for_version
from powercompat.scenario import migrate_check, negotiate, parse_events, simulate
from powercompat.verify.compare import guest_profile, judge_cell, qemu_profile, smp_options
from powercompat.verify.kvm.compare import (
    L2_GUEST,
    accel_of,
    cap_page_kib,
    host_platform,
    init_dies_in_harness,
)
from powercompat.verify.kvm.compare import host_kernel as kvm_host_kernel
from powercompat.verify.kvm.compare import host_pvr as kvm_host_pvr
from powercompat.verify.libvirt import recorded_domain
from powercompat.verify.matrix import CellResult
from powercompat.verify.observed import (
    Partial,
    cell_fate,
    hotplug_fate,
    libvirt_fate,
    migration_fate,
    patched_fate,
    startup_fate,
    xmigration_fate,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
FILES = sorted(REAL.glob("*.json"))


class Config(NamedTuple):
    """One recorded configuration: what reality showed, and each command's verdict."""

    id: str
    observed: Fate | Partial
    verdicts: dict[str, Fate]


def _engine(command: Callable[..., Any], *args: Any, **kwargs: Any) -> Fate:
    """A command's verdict (its result's ``fate``); options QEMU refuses are its start-up
    refusal."""
    try:
        fate = command(*args, **kwargs).fate
        assert isinstance(fate, Fate)
        return fate
    except PowerCompatError as err:
        fate = refusal_fate(err)
        assert fate is not None, f"not a QEMU refusal: {err}"
        return fate


def _tcg_host(qemu: str) -> HostClass:
    return HostClass("x86_64", "-", "tcg", qemu, "x86_64")


def _fleet_start(domain: LibvirtDomain, max_compat: str | None, guest: str,
                 qemu: str) -> Fate:
    """fleet plan's start verdict for one libvirt guest on one TCG host."""
    host = Host("tcg-host", _tcg_host(qemu), "g")
    kind = GuestKind(guest, max_compat, True, domain)
    result = plan(Inventory((host,), (Guest("g0", kind, "tcg-host", None, ("test", "0")),)))
    start = result.targets(result.guest_classes[0])[0].start
    out: Any = result.to_json()
    assert out["verdicts"][out["rows"][out["guest_classes"][0]["start"]][0]]["verdict"] == \
        start.verdict.value
    return Fate(start.verdict, start.reason)


def _matrix(data: dict[str, Any]) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    guest = guest_profile(data["kernel_version"])
    for raw in data["cells"]:
        cell = CellResult.from_json(raw)
        machine = {"smp": cell.smp} if cell.smp != 1 else {}
        if cell.threads != 1:
            machine["threads"] = cell.threads
        spelled = libvirt_spelling(cell.cpu, qemu_facts(parse_profile(qemu))) or cell.cpu
        domain = LibvirtDomain(LibvirtCpu("custom", spelled, match="exact", fallback="forbid"),
                               "qemu", commandline_compat=cell.max_cpu_compat)
        judged = judge_cell(cell, qemu=qemu, guest=guest)
        assert judged.observed == cell_fate(cell)
        assert judged.predicted is not None
        verdicts = {
            "negotiate": _engine(negotiate, cell.cpu, cell.max_cpu_compat, guest,
                                 accel="tcg", qemu=qemu, **machine),
            "verify (engine side)": judged.predicted,
        }
        if cell.smp == 1:  # an inventory has no vCPU count: the fleet boots -smp 1
            verdicts["fleet plan"] = _fleet_start(domain, cell.max_cpu_compat, guest, qemu)
        yield Config(f"{cell.cpu}:{cell.max_cpu_compat or 'unset'}:smp{cell.smp}"
                     + (f",threads={cell.threads}" if cell.threads != 1 else ""),
                     cell_fate(cell), verdicts)


def _patched(data: dict[str, Any]) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    for boot in data["boots"]:
        yield Config(
            f"{boot['list']}:{boot['cpu']}:{boot['max_cpu_compat'] or 'unset'}"
            + (":disable_radix" if boot["disable_radix"] else ""), patched_fate(boot), {
                "negotiate": _engine(negotiate, boot["cpu"], boot["max_cpu_compat"],
                    pvr_list=bytes.fromhex(boot["pvr_list"]), qemu=qemu,
                    disable_radix=boot["disable_radix"])})


def _migrations(data: dict[str, Any]) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    for run in data["migrations"]:
        yield Config(
            f"{run['src_cpu']}:{run['src_max_cpu_compat'] or 'unset'}->{run['dst_cpu']}:"
            f"{run['dst_max_cpu_compat'] or 'unset'}", migration_fate(run), {
                "migrate-check": _engine(
                    migrate_check, run["src_cpu"], run["dst_cpu"], run["src_max_cpu_compat"],
                    qemu=qemu, accel="tcg", dst_max_cpu_compat=run["dst_max_cpu_compat"] or "")})


def _xmigrations(data: dict[str, Any]) -> Iterator[Config]:
    """Between two releases (``verify migration``): migrate-check with each side's release
    and the machine type (simulate's migrate event is held to the same recordings in
    test_xmigration_engine.py)."""
    # each side's exact build: 10.0.2 is not 10.0.13 (the icp/server backport)
    src_qemu, dst_qemu = (qemu_profile(data[side]["qemu_version"]) for side in ("src", "dst"))
    for run in data["migrations"]:
        src, dst = run["src"], run["dst"]
        verdicts = {"migrate-check": _engine(
            migrate_check, src["cpu"], dst["cpu"], src["max_cpu_compat"], guest=run["guest"],
            accel="tcg", dst_max_cpu_compat=dst["max_cpu_compat"] or "",
            src_qemu=src_qemu, dst_qemu=dst_qemu, machine=src["machine"],
            before_boot=run["stage"] == "before-boot")}
        yield Config(run["key"], xmigration_fate(run), verdicts)


def _hotplugs(data: dict[str, Any]) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    guest = guest_profile(data["kernel_version"])
    for run in data["hotplugs"]:
        pvrs = bytes.fromhex(run["pvr_list"]) if run["pvr_list"] else None
        options = MachineOptions(cpu=run["cpu"], max_cpu_compat=run["max_cpu_compat"],
                                 max_cpus=2, qemu=qemu)
        yield Config(
            f"{run['cpu']}:{run['max_cpu_compat'] or 'unset'}:{'list' if pvrs else 'stock'}",
            hotplug_fate(run), {
                "simulate": _engine(simulate, options, parse_events("realize,reset,cas,hotplug"),
                                    guest, pvrs)})


def _startups(data: dict[str, Any], key: str) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    for item in data[key]:
        machine = smp_options(tuple(item.get("extra", ())))
        if machine is None:  # options negotiate has no counterpart for
            continue
        error = item.get("startup_error") if key == "probes" else item.get("error")
        yield Config(
            f"{item['cpu']}:{item['max_cpu_compat'] or 'unset'}:{' '.join(item.get('extra', []))}",
            startup_fate(error), {
                "negotiate": _engine(negotiate, item["cpu"], item["max_cpu_compat"],
                                     accel="tcg", qemu=qemu, **machine)})


def _diff_probes(data: dict[str, Any]) -> Iterator[Config]:
    """The start-up probes a real upgrade diff ran on each release (upgrade/real.py)."""
    for side in ("from", "to"):
        qemu = qemu_profile(data[side]["qemu_version"])
        for probe in data["extra_probes"][side]:
            cpu, mode, variant = probe["cpu"], probe["max_cpu_compat"], probe["variant"]
            if variant == "compat":  # -cpu CPU,compat=MODE, no machine maximum
                cpu, mode = f"{cpu},compat={mode}", None
            machine = {"smp": 2, "threads": 2} if variant == "threads=2" else {}
            assert variant in ("", "compat", "threads=2"), variant
            yield Config(
                f"{side}:{probe['cpu']}:{probe['max_cpu_compat'] or 'unset'}:{variant}",
                startup_fate(probe["startup_error"]), {
                    "negotiate": _engine(negotiate, cpu, mode, accel="tcg", qemu=qemu,
                                         **machine)})


def _libvirt(data: dict[str, Any]) -> Iterator[Config]:
    qemu = qemu_profile(data["qemu_version"])
    guest = guest_profile(data["kernel_version"])
    assert data["host_arch"] == "x86_64"  # a TCG host, as _fleet_start builds it
    for case in data["cases"]:
        domain = recorded_domain(case)
        verdicts = {"fleet plan": _fleet_start(domain, domain.commandline_compat, guest, qemu)}
        observed = libvirt_fate(case)
        args = (case["start"] or {}).get("args") or {}
        if args.get("-cpu"):  # libvirt started QEMU: the engine on what it passed
            verdicts["negotiate"] = _engine(negotiate, args["-cpu"][-1],
                                            domain.commandline_compat, guest, accel="tcg",
                                            qemu=qemu)
        yield Config(case["id"], observed, verdicts)


#: nested-KVM configurations whose verdict the engine gets wrong today, and why:
#: (host, config id) -> reason. Empty since the engine models the host's MMU and a nested
#: host (kvm-kernel.md's "Engine disagreements" 1, 7, 8).
KVM_GAPS: dict[tuple[str, str], str] = {}


def _kvm_observed(run: dict[str, Any]) -> Fate:
    """A nested-KVM run: QEMU's refusal, its exit after the guest started, or the L2 guest's
    reports (one per boot)."""
    errors = [line.removeprefix("qemu-system-ppc64: ") for line in run["error"]]
    started = any(p["name"].startswith("cas") for p in run["phases"]) or bool(run["boots"])
    if not started:
        return Fate(Verdict.QEMU_REFUSES, "; ".join(errors[:2]) or "QEMU did not start")
    if run["returncode"] not in (0, None) and errors:
        return Fate(Verdict.QEMU_EXITS, errors[0])
    if errors and errors[0].startswith(OS_TERMINATED):  # after CAS: L2's init trapped
        return Fate(Verdict.USERLAND_DIES, "the L2 kernel panicked (ibm,os-term)")
    if run["boots"]:
        return Fate(Verdict.WORKS, "the L2 guest reported")
    return Fate(Verdict.KERNEL_HANGS, "the L2 guest never reported")


def _kvm(data: dict[str, Any], gaps: dict[tuple[str, str], str]) -> Iterator[Config]:
    """The nested-KVM configurations the engine can be asked (as verify/kvm/compare.py asks
    it: the recorded host PVR, L1 kernel, platform and accelerator), but the known ``gaps``."""
    host = data["host"]["name"]
    if kernel_by_name(kvm_host_kernel(data)) is None:
        return  # the engine has no such host kernel yet
    for cell in data["cells"]:
        cfg, run = cell["config"], cell.get("run")
        pvr = kvm_host_pvr(cell, data)
        if run is None or pvr is None or (host, cfg["id"]) in gaps:
            continue
        try:
            qemu = profile_for_version(data["l1_qemus"][cfg["qemu"]]["reported"]).name
        except UnknownProfileError:
            continue  # a release the engine does not model yet
        options = MachineOptions(cpu=cfg["cpu"], smp=cfg["smp"],
                                 max_cpu_compat=cfg["max_cpu_compat"], accel=accel_of(data),
                                 host_cpu=pvr, qemu=qemu, host_kernel=kvm_host_kernel(data),
                                 host_platform=host_platform(data),
                                 host_page_size=data["l1_kernel"].get("page_size", 65536) >> 10,
                                 hpt_max_page_size=cap_page_kib(cfg.get("argv", [])))
        events = parse_events("realize,reset,cas,reboot,cas")
        fate = _engine(simulate, options, events, L2_GUEST)
        if fate.verdict is Verdict.USERLAND_DIES and not init_dies_in_harness(
                simulate(options, events, L2_GUEST)):
            # a death the PCR's instruction gating causes: L0 TCG enforces no PCR, so here
            # the guest runs on (verify/kvm/compare.py init_dies_in_harness)
            fate = Fate(Verdict.WORKS, "not observable under an L0 that enforces no PCR")
        yield Config(f"{host}:{cfg['id']}", _kvm_observed(run), {"simulate": fate})


def _kvm_gaps_fixed(data: dict[str, Any]) -> list[str]:
    """KVM_GAPS entries of this file whose verdict the engine now gets right."""
    gaps = {f"{host}:{cfg}" for host, cfg in KVM_GAPS}
    return [c.id for c in _kvm(data, {}) if c.id in gaps
            and all(_agrees(c.observed, f) for f in c.verdicts.values())]


def _configs(path: Path) -> tuple[str, list[Config]]:
    """(kind, configurations) of one recorded file."""
    data = json.loads(path.read_text())
    if data.get("schema") == "powercompat-verify/1" and "cells" in data:
        return "matrix", list(_matrix(data))
    if data.get("schema") == "powercompat-verify-kvm/1":
        fixed = _kvm_gaps_fixed(data)
        assert fixed == [], f"fixed in the engine: remove them from KVM_GAPS: {fixed}"
        return "kvm", list(_kvm(data, KVM_GAPS))
    readers: dict[str, Callable[[dict[str, Any]], Iterator[Config]]] = {
        "boots": _patched, "migrations": _migrations, "hotplugs": _hotplugs,
        "probes": lambda d: _startups(d, "probes"),
        "readings": lambda d: _startups(d, "readings"), "cases": _libvirt,
        "extra_probes": _diff_probes}
    if data.get("schema") == "powercompat-xmigration/1":
        return "migrations", list(_xmigrations(data))
    for key, reader in readers.items():
        if key in data:
            return key, list(reader(data))
    if "pvr_pairs" in data or data.get("symbol") == "cpu_specs":
        return "vector", []  # the guest kernel's CAS vector or cpu table: no machine started
    pytest.fail(f"{path.name}: a recorded file of a kind this test does not know "
                f"(keys {sorted(data)[:8]}); say what verdict its runs show")


def _agrees(observed: Fate | Partial, engine: Fate) -> bool:
    if isinstance(observed, Fate):
        return engine.verdict is observed.verdict
    if observed is Partial.STARTED:  # QEMU (and libvirt) started it
        return engine.verdict not in (Verdict.QEMU_REFUSES, Verdict.LIBVIRT_REFUSES)
    # moved: both QEMUs ran and the destination took the guest
    return engine.verdict not in (Verdict.QEMU_REFUSES, Verdict.MIGRATION_REFUSED)


def _label(observed: Fate | Partial) -> str:
    return observed.value if isinstance(observed, Partial) else observed.verdict.value


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name, marks=gap_marks(p.name))
                                  for p in FILES])
def test_every_command_gives_reality_s_verdict(path: Path) -> None:
    kind, configs = _configs(path)
    assert configs or kind in ("vector", "kvm"), f"{path.name}: no configuration read"
    wrong = [f"{c.id}: observed {_label(c.observed)}, {name} {fate.verdict.value} "
             f"({fate.reason})"
             for c in configs for name, fate in c.verdicts.items()
             if not _agrees(c.observed, fate)]
    assert wrong == []


def test_the_recordings_show_every_verdict_a_tcg_run_can() -> None:
    """The comparison above is not vacuous: the recorded runs show a start-up refusal, a
    kernel that never reaches CAS, an early kernel hang, a failed CAS, init's SIGILL, a
    refused migration and guests that work."""
    seen = {c.observed.verdict for path in FILES for c in _configs(path)[1]
            if isinstance(c.observed, Fate)}
    assert seen >= {Verdict.WORKS, Verdict.QEMU_REFUSES, Verdict.KERNEL_HANGS,
                    Verdict.CAS_FAILS, Verdict.USERLAND_DIES, Verdict.MIGRATION_REFUSED,
                    Verdict.LIBVIRT_REFUSES}


def test_verify_run_cpus_host_agrees_with_real_qemu() -> None:
    """issue #11: under TCG real QEMU says "unable to find CPU model 'host'" (run on the
    Debian binaries, qemu-releases.md 4.2); the engine says the same, so a ``verify run
    --cpus host`` cell is a matched refusal, not a mismatch."""
    refused = CellResult(
        cpu="host", max_cpu_compat=None, firmware="vof", argv=(),
        startup_error="unable to find CPU model 'host'",
        startup_error_prefix="qemu-system-ppc64: ", trace_current=None, trace_new=None,
        trace_explicit_match=None, cas_trace_count=0, cpu_versions=(), guest_cpu_line=None,
        guest_revision=None, guest_mmu=None, hardware_name=None, hardware_real_pvr=None,
        hardware_compat_pvr=None, cas_failed=False, init_sigill=False, os_panic=None,
        returncode=1, stop_reason="exited", stopped_by="qemu", console_tail=(),
        wall_seconds=0.1)
    judged = judge_cell(refused, qemu="7.2", guest="linux-6.1")
    assert (judged.outcome.value, judged.diffs) == ("refusal-matched", ())
    assert judged.predicted == judged.observed == Fate(Verdict.QEMU_REFUSES,
                                                       "unable to find CPU model 'host'")


def test_cpuinfo_revision_is_the_real_pvr_as_linux_prints_it() -> None:
    """The guest's /proc/cpuinfo revision line, in every recorded boot that printed one,
    is negotiate's guest_revision (Linux show_cpuinfo())."""
    seen = 0
    for path in FILES:
        data = json.loads(path.read_text())
        if data.get("schema") != "powercompat-verify/1":
            continue
        qemu = qemu_profile(data["qemu_version"])
        for raw in data["cells"]:
            if raw["guest_revision"] is None:
                continue
            n = negotiate(raw["cpu"], raw["max_cpu_compat"], qemu=qemu)
            assert n.guest_revision == raw["guest_revision"], (path.name, raw["cpu"])
            seen += 1
    assert seen >= 20
