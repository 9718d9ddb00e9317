"""Read the PCR special-purpose register of a running guest through QEMU's gdbstub.

Why: QMP exposes no compat or PCR property, and HMP ``info registers`` shows the PVR, not the
PCR (oracle.md). The gdbstub does: QEMU's dynamic SPR feature (``power-spr.xml``, built by
``gdb_gen_spr_xml`` in ``target/ppc/gdbstub.c``) names ``pcr``. Its register number is its
position over all features of ``target.xml`` in order, a ``regnum`` attribute resetting the
count (GDB's target-description rules). Register bytes follow the guest's current endianness
(``ppc_maybe_bswap_register``), so the byte order is taken from the PVR read alongside: a
32-bit value in a 64-bit register.

The GDB remote protocol: packets ``$data#cs`` (cs = sum of bytes mod 256), acknowledged by
``+``; ``qXfer:features:read:ANNEX:OFF,LEN`` returns ``m``/``l`` + text; ``p N`` returns the
register as hex bytes. QEMU stops the VM when a debugger connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from powercompat.verify import process
from powercompat.verify.boot import (
    BootSpec,
    _drain,
    _kill_if_running,
    _stop,
    free_port,
    qemu_argv,
    spawn_qemu,
)
from powercompat.verify.errors import BootError
from powercompat.verify.initramfs import INIT_EPILOGUE, INIT_PROLOGUE
from powercompat.verify.qemu import QemuBinary
from powercompat.verify.signals import cas_traces, startup_error

#: printed by :data:`HOLD_INIT` once the guest runs its /init
HOLD_TAG = "@@POWERCOMPAT-HOLD@@"
#: the guest's /init while its PCR is read: it says so, then stays up until QEMU is stopped
HOLD_INIT = INIT_PROLOGUE + f"echo {HOLD_TAG}\nsleep 120\n" + INIT_EPILOGUE

_PACKET = re.compile(rb"\$([^#]*)#([0-9a-fA-F]{2})")
_KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\] ", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class PcrReading:
    """PVR and PCR of vCPU 0 after CAS, with how they were read."""

    cpu: str
    max_cpu_compat: str | None
    firmware: str
    trace_current: int | None
    trace_new: int | None
    pvr: int
    pcr: int
    pcr_regnum: int
    pvr_regnum: int
    byte_order: str
    seconds: float
    #: when the stub was asked: at the guest's /init (``init``) or its kernel's first line
    read_at: str = "kernel-line"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["pvr_hex"], d["pcr_hex"] = f"0x{self.pvr:08x}", f"0x{self.pcr:016x}"
        return d


class GuestStopped(BootError):
    """The guest went through CAS but stopped before its /init said it was ready (an init
    that dies of SIGILL never runs a line): read it again at the kernel's first line."""


class GdbClient:
    """The few GDB remote-protocol requests the harness needs, over an asyncio stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._r, self._w, self._buf = reader, writer, b""

    async def request(self, data: bytes, timeout: float = 5.0) -> bytes:
        """Send one packet and return the payload of the reply packet."""
        self._w.write(b"$" + data + b"#%02x" % (sum(data) % 256))
        await self._w.drain()
        return await self._next(timeout)

    async def handshake(self) -> None:
        """``qSupported``, skipping any packet QEMU sent on its own (a stop reply on attach)."""
        reply = await self.request(b"qSupported:xmlRegisters=powerpc")
        while b"PacketSize" not in reply:
            reply = await self._next()

    async def _next(self, timeout: float = 5.0) -> bytes:
        while True:
            m = _PACKET.search(self._buf)
            if m:
                self._buf = self._buf[m.end() :]
                self._w.write(b"+")
                return _unescape(m.group(1))
            chunk = await asyncio.wait_for(self._r.read(65536), timeout)
            if not chunk:
                raise BootError("gdbstub closed the connection")
            self._buf += chunk

    async def read_xml(self, annex: str) -> str:
        """One whole ``qXfer:features:read`` document."""
        out, offset = b"", 0
        while True:
            reply = await self.request(b"qXfer:features:read:%s:%x,fff" % (annex.encode(), offset))
            if not reply or reply[:1] not in (b"m", b"l"):
                raise BootError(f"qXfer of {annex} refused: {reply!r}")
            out += reply[1:]
            offset += len(reply) - 1
            if reply[:1] == b"l":
                return out.decode()

    async def register(self, regnum: int) -> bytes:
        reply = await self.request(b"p%x" % regnum)
        if reply.startswith(b"E") or not reply:
            raise BootError(f"gdbstub refused register {regnum}: {reply!r}")
        return bytes.fromhex(reply.decode())


def _unescape(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        if data[i] == 0x7D and i + 1 < len(data):  # '}' escape: next byte XOR 0x20
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def register_numbers(target_xml: str, features: dict[str, str]) -> dict[str, int]:
    """Register name -> number over ``target.xml``'s includes, in order."""
    numbers: dict[str, int] = {}
    nxt = 0
    for href in re.findall(r'<xi:include href="([^"]+)"', target_xml):
        for reg in re.finditer(r"<reg\s([^>]*)/?>", features[href]):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', reg.group(1)))
            if "regnum" in attrs:
                nxt = int(attrs["regnum"])
            numbers.setdefault(attrs["name"], nxt)
            nxt += 1
    return numbers


def decode_pair(pvr_raw: bytes, pcr_raw: bytes) -> tuple[int, int, str]:
    """Decode PVR and PCR with the byte order under which the PVR fits in 32 bits."""
    for order in ("little", "big"):
        pvr = int.from_bytes(pvr_raw, "little" if order == "little" else "big")
        if 0 < pvr < 1 << 32:
            pcr = int.from_bytes(pcr_raw, "little" if order == "little" else "big")
            return pvr, pcr, order
    raise BootError(f"cannot tell the byte order of PVR bytes {pvr_raw.hex()}")



async def read_pcr(
    spec: BootSpec, qemu: QemuBinary | str, vmlinux: Path, initrd: Path, *, timeout: float = 60.0,
    ready: str | None = None,
) -> PcrReading:
    """Boot ``spec`` until the kernel prints its first line (CAS is over), or until the
    console shows ``ready``, then read PCR.

    With :data:`HOLD_INIT` as ``initrd`` and ``ready=HOLD_TAG`` the stub is asked once the
    guest sits in its /init: QEMU 5.2 with SLOF reset the connection when it came during the
    kernel's early boot, and powered off within a second of it. The guest cannot write the
    PCR (hypervisor state), so it still holds CAS's value. ``spec.timeout``, when set, is the
    boot's timeout.

    :raises BootError: when the guest never gets past CAS or the gdbstub misbehaves.
    """
    timeout = spec.timeout or timeout
    port = free_port()
    with process.temp_dir(prefix="pcv-gdb-") as tmp:
        sock = tmp / "qmp.sock"
        argv = [
            *qemu_argv(qemu, spec, vmlinux, initrd),
            "-gdb", f"tcp:127.0.0.1:{port}",
            "-qmp", f"unix:{sock},server=on,wait=off",
        ]  # fmt: skip
        start = time.monotonic()
        run = await spawn_qemu(argv)
        proc, out, err, changed, pumps, waiter = (
            run.proc, run.out, run.err, run.changed, run.pumps, run.waiter)
        try:
            while not (cas_traces(err.decode()) and (
                    ready in out.decode(errors="replace") if ready
                    else _KERNEL_LINE.search(out.decode()))):
                if ready and waiter.done() and cas_traces(err.decode()):
                    raise GuestStopped(f"{spec.cpu}/{spec.max_cpu_compat}: the guest stopped "
                                       f"after CAS, before its /init said {ready}")
                if waiter.done() or time.monotonic() - start > timeout:
                    refusal = startup_error(err.decode()) if waiter.done() else None
                    why = f"refused: {refusal.message}" if refusal else "no kernel line after CAS"
                    raise BootError(f"{spec.cpu}/{spec.max_cpu_compat}: {why}")
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), 1.0)
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                gdb = GdbClient(reader, writer)
                await gdb.handshake()
                target = await gdb.read_xml("target.xml")
                hrefs = re.findall(r'<xi:include href="([^"]+)"', target)
                features = {h: await gdb.read_xml(h) for h in hrefs}
                nums = register_numbers(target, features)
                pvr_raw = await gdb.register(nums["pvr"])
                pcr_raw = await gdb.register(nums["pcr"])
                writer.close()
            except (OSError, TimeoutError) as exc:  # QEMU went away or the stub stopped
                raise BootError(f"{spec.cpu}/{spec.max_cpu_compat}: gdbstub: "
                                f"{exc or type(exc).__name__}") from exc
            pvr, pcr, order = decode_pair(pvr_raw, pcr_raw)
        finally:
            try:
                if not waiter.done():
                    await asyncio.wait_for(_stop(proc, sock, waiter), 12.0)
            except TimeoutError:
                pass
            finally:
                _kill_if_running(proc)
            await _drain(pumps, waiter)
        trace = cas_traces(err.decode())
        return PcrReading(
            cpu=spec.cpu,
            max_cpu_compat=spec.max_cpu_compat,
            firmware=spec.firmware.value,
            trace_current=trace[-1].current if trace else None,
            trace_new=trace[-1].new if trace else None,
            pvr=pvr,
            pcr=pcr,
            pcr_regnum=nums["pcr"],
            pvr_regnum=nums["pvr"],
            byte_order=order,
            seconds=round(time.monotonic() - start, 3),
            read_at="init" if ready else "kernel-line",
        )
