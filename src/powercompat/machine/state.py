"""What the machine reports: lifecycle states, per-vCPU snapshots, and the event log."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from powercompat.messages import hex32, hex64

if TYPE_CHECKING:  # the transports are imported only by a KVM machine (#13, start-up)
    from powercompat.accel.transport import OneRegCall


class Lifecycle(Enum):
    """CREATED -> realize -> REALIZED -> reset -> RUNNING (INCOMING on a migration
    destination until the stream is loaded); EXITED when QEMU would have exited."""

    CREATED = "created"
    REALIZED = "realized"
    RUNNING = "running"
    INCOMING = "incoming"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class VcpuState:
    """One vCPU as QEMU and (under KVM) the kernel hold it."""

    index: int
    compat_pvr: int
    pcr: int
    cpu_version: int
    kernel_arch_compat: int | None
    kernel_pcr: int | None
    kernel_enforced: bool | None
    kernel_note: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.index,
            "compat_pvr": hex32(self.compat_pvr),
            "pcr": hex64(self.pcr),
            "cpu_version": hex32(self.cpu_version),
            "kernel_arch_compat": (None if self.kernel_arch_compat is None
                                   else hex32(self.kernel_arch_compat)),
            "kernel_pcr": None if self.kernel_pcr is None else hex64(self.kernel_pcr),
            "kernel_enforced": self.kernel_enforced,
            "kernel_note": self.kernel_note,
        }


@dataclass(slots=True)
class Event:
    """One lifecycle step: its ONE_REG calls, its reasons, and the vCPUs after it."""

    name: str
    machine: str = "source"
    ok: bool = True
    error: str | None = None
    one_reg: list[OneRegCall] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    vcpus: tuple[VcpuState, ...] = ()
    detail: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "machine": self.machine,
            "ok": self.ok,
            "error": self.error,
            "one_reg": [c.to_json() for c in self.one_reg],
            "reasons": list(self.reasons),
            "detail": self.detail,
            "vcpus": [v.to_json() for v in self.vcpus],
        }
