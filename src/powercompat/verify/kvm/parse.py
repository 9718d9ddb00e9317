"""Turn L1's console (markers, L2 console, QEMU stderr, filtered ftrace) into results.

Phases (guest.py explains the markers): ``startup`` until the first CAS marker, ``casN`` from
the N-th ``spapr_cas_pvr`` line, ``rebootN`` from L1's ``pc:reboot N`` marker, ``shutdown``
from ``pc:poweroff``. A vCPU is named by its creation index (the order of
``kvm_arch_vcpu_create``, which is QEMU's CPU index order) and keeps the id QEMU asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from powercompat.verify.kvm.guest import ARCH_COMPAT_ID

_TRACE = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+(?P<ts>[\d.]+): "
    r"(?P<event>[\w]+): (?P<rest>.*)$")
_ARGS = re.compile(r"(\w+)=(\S+)")
_CAS = re.compile(r"spapr_cas_pvr current=(0x[0-9a-f]+), explicit_match=(\d), new=(0x[0-9a-f]+)")
_WARNING_LINES = ("Falling back to kernel-irqchip=off",)


@dataclass(frozen=True, slots=True)
class Call:
    """One ARCH_COMPAT ioctl as the kernel saw it. ``errno`` 0 on success."""

    vcpu: int
    vcpu_id: int
    op: str
    value: int | None
    errno: int
    #: where the trace saw it: L1's CPU and thread, and the entry's timestamp. The trace file
    #: merges L1's per-CPU buffers by timestamp, so calls made on different L1 CPUs are
    #: ordered only as well as those CPUs' clocks agree
    l1_cpu: int = -1
    thread: int = -1
    ts: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"vcpu": self.vcpu, "vcpu_id": self.vcpu_id, "op": self.op,
                "id": f"0x{ARCH_COMPAT_ID:016x}",
                "value": None if self.value is None else f"0x{self.value:08x}",
                "errno": self.errno, "l1_cpu": self.l1_cpu, "thread": self.thread,
                "ts": self.ts}


@dataclass
class Phase:
    name: str
    calls: list[Call] = field(default_factory=list)
    cas: dict[str, Any] | None = None  # spapr_cas_pvr fields for a casN phase

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "calls": [c.to_json() for c in self.calls]}
        if self.cas is not None:
            d["cas"] = self.cas
        return d


@dataclass
class Boot:
    """What L2 printed in one boot."""

    cpu_lines: list[str]
    mmu: str | None
    cpu_versions: list[str]  # one per /proc/device-tree/cpus/*@* node, hex or "none"

    def to_json(self) -> dict[str, Any]:
        return {"cpu_lines": self.cpu_lines, "mmu": self.mmu, "cpu_versions": self.cpu_versions}


@dataclass
class Sregs:
    vcpu: int
    pvr: int
    errno: int


@dataclass
class ConfigRun:
    """Everything observed for one L2 configuration."""

    id: str
    returncode: int | None
    seconds: float | None
    stderr: list[str]
    console_tail: list[str]
    phases: list[Phase]
    boots: list[Boot]
    sregs: list[Sregs]
    vcpu_ids: list[int]
    vid_offset_checked: bool | None  # kvm_vcpu.vcpu_id at +36 equals the requested id

    @property
    def error_lines(self) -> list[str]:
        """QEMU's own error text: stderr lines that are not warnings."""
        out = []
        for ln in self.stderr:
            if "warning:" in ln or ln.strip() in _WARNING_LINES or not ln.strip():
                continue
            out.append(ln)
        return out

    @property
    def timed_out(self) -> bool:
        return self.returncode in (137, -9)

    def to_json(self) -> dict[str, Any]:
        sregs_failed = [{"vcpu": s.vcpu, "pvr": f"0x{s.pvr:08x}", "errno": s.errno}
                        for s in self.sregs if s.errno]
        return {
            "returncode": self.returncode,
            "timed_out": self.timed_out,
            "seconds": self.seconds,
            "error": self.error_lines,
            "stderr": self.stderr,
            "phases": [p.to_json() for p in self.phases],
            "boots": [b.to_json() for b in self.boots],
            "set_sregs": {"calls": len(self.sregs),
                          "pvrs": sorted({f"0x{s.pvr:08x}" for s in self.sregs}),
                          "failed": sregs_failed},
            "vcpu_ids": self.vcpu_ids,
            "vid_offset_checked": self.vid_offset_checked,
            "console_tail": self.console_tail,
        }


def _between(lines: list[str], begin: str, end: str) -> list[str]:
    try:
        i = lines.index(begin)
    except ValueError:
        return []
    j = lines.index(end, i) if end in lines[i:] else len(lines)
    return lines[i + 1:j]


def parse_boots(console: list[str]) -> list[Boot]:
    """Every L2 boot's cpuinfo ``cpu`` lines, MMU and DT ``cpu-version`` values."""
    boots: list[Boot] = []
    cur: Boot | None = None
    in_info = False
    for ln in console:
        ln = ln.rstrip("\r")
        if ln.startswith("@@L2-CPUINFO-BEGIN"):
            cur, in_info = Boot([], None, []), True
            boots.append(cur)
        elif ln.startswith("@@L2-CPUINFO-END"):
            in_info = False
        elif in_info and cur is not None:
            key, _sep, value = ln.partition(":")
            if key.strip() == "cpu":
                cur.cpu_lines.append(value.strip())
            elif key.strip() == "MMU":
                cur.mmu = value.strip()
        elif ln.startswith("@@L2-CPU-VERSION") and cur is not None:
            cur.cpu_versions.append(ln.split()[-1])
    return boots


def _phase_for(marker: str, phases: list[Phase], cas_count: list[int]) -> None:
    if marker.startswith("spapr_cas_pvr"):
        cas_count[0] += 1
        m = _CAS.search(marker)
        cas = None
        if m:
            cas = {"current": f"0x{int(m.group(1), 16):08x}",
                   "explicit_match": m.group(2) == "1", "new": f"0x{int(m.group(3), 16):08x}"}
        phases.append(Phase(f"cas{cas_count[0]}", cas=cas))
    elif marker.startswith("pc:reboot"):
        phases.append(Phase(f"reboot{marker.split()[-1]}"))
    elif marker.startswith("pc:poweroff"):
        phases.append(Phase("shutdown"))


def parse_trace(lines: list[str]) -> tuple[list[Phase], list[Sregs], list[int], bool | None]:
    """Phases with their ARCH_COMPAT calls, the SET_SREGS calls, the vCPU ids in creation
    order, and whether the +36 offset read the right id for every vCPU."""
    phases = [Phase("startup")]
    cas_count = [0]
    pending_id: dict[str, int] = {}  # thread -> id from precreate
    vcpus: dict[str, tuple[int, int]] = {}  # pointer -> (index, id)
    vid_ok: bool | None = None
    # thread -> (event, args, L1 CPU, timestamp) of a call not returned yet
    open_call: dict[str, tuple[str, dict[str, str], int, str]] = {}
    sregs: list[Sregs] = []
    for raw in lines:
        m = _TRACE.match(raw)
        if not m:
            continue
        thread, event, rest = m.group("pid"), m.group("event"), m.group("rest")
        if event == "tracing_mark_write":
            _phase_for(rest.strip(), phases, cas_count)
            continue
        args = dict(_ARGS.findall(rest))
        if event == "pc_pre":
            pending_id[thread] = int(args["id"], 0)
        elif event == "pc_create":
            vid = pending_id.pop(thread, -1)
            vcpus[args["vcpu"]] = (len(vcpus), vid)
            ok = int(args["vid"], 0) == vid
            vid_ok = ok if vid_ok is None else (vid_ok and ok)
        elif event in ("pc_set", "pc_get", "pc_sregs"):
            open_call[thread] = (event, args, int(m.group("cpu")), m.group("ts"))
        elif event.endswith("_ret") and thread in open_call:
            entry, eargs, cpu, ts = open_call.pop(thread)
            ret = int(args["ret"], 0)
            index, vid = vcpus.get(eargs["vcpu"], (-1, -1))
            if entry == "pc_sregs":
                sregs.append(Sregs(index, int(eargs["pvr"], 0), -ret if ret < 0 else 0))
                continue
            op = "set" if entry == "pc_set" else "get"
            value = int(eargs["val"], 0) if op == "set" else None
            phases[-1].calls.append(Call(index, vid, op, value, -ret if ret < 0 else 0, cpu,
                                         int(thread), ts))
    ids = [vid for _i, vid in sorted(vcpus.values())]
    return phases, sregs, ids, vid_ok


def parse_session(console: str) -> tuple[dict[str, str], list[ConfigRun]]:
    """L1's facts (kernel, KVM, the QEMU versions it ran) and one ConfigRun per config."""
    lines = [ln.rstrip("\r") for ln in console.splitlines()]
    facts: dict[str, str] = {}
    for ln in lines:
        if "@@PCK-L1 " in ln:  # firmware output may precede it on the same line
            facts["l1"] = ln.split("@@PCK-L1 ", 1)[1]
        elif ln.startswith("@@PCK-KVM "):
            facts["kvm"] = ln.split()[-1]
        elif ln.startswith("@@PCK-QEMU "):
            _tag, label, version = ln.split(" ", 2)
            facts[f"qemu {label}"] = version
        elif ln.startswith(("@@PCK-INSMOD-FAIL", "@@PCK-KPROBES-FAIL")):
            facts.setdefault("problems", "")
            facts["problems"] += ln + "; "
    runs: list[ConfigRun] = []
    for i, ln in enumerate(lines):
        if not ln.startswith("@@PCK-BEGIN "):
            continue
        parts = ln.split()
        cid, t0 = parts[1], float(parts[2]) if len(parts) > 2 else None
        rest = lines[i:]
        rc: int | None = None
        seconds: float | None = None
        for r in rest:
            if r.startswith(f"@@PCK-RC {cid} "):
                bits = r.split()
                rc = int(bits[2])
                if t0 is not None and len(bits) > 3:
                    seconds = round(float(bits[3]) - t0, 2)
                break
        stderr = _between(rest, f"@@PCK-STDERR-BEGIN {cid}", f"@@PCK-STDERR-END {cid}")
        console_l2 = _between(rest, f"@@PCK-CONSOLE-BEGIN {cid}", f"@@PCK-CONSOLE-END {cid}")
        trace = _between(rest, f"@@PCK-TRACE-BEGIN {cid}", f"@@PCK-TRACE-END {cid}")
        phases, sregs, ids, vid_ok = parse_trace(trace)
        runs.append(ConfigRun(cid, rc, seconds, stderr, console_l2[-30:], phases,
                              parse_boots(console_l2), sregs, ids, vid_ok))
    return facts, runs
