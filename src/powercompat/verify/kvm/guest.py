"""The L1 and L2 guests: their /init scripts, the kprobes, each L2 QEMU command line, and
the initramfs that carries them.

How calls are attributed to phases (the order inside L1's ftrace buffer is the order of
events, because every marker is written synchronously before what it announces):

* ``pc:begin ID`` is written by L1's /init before it starts the L2 QEMU: everything up to the
  first CAS marker is **startup** (vCPU creation, the start-up machine reset).
* L2 QEMU runs with ``-D <tracefs>/trace_marker -trace spapr_cas_pvr``: QEMU writes the
  ``spapr_cas_pvr`` trace line from the vCPU thread handling CAS before it calls
  ``ppc_set_compat_all`` (hw/ppc/spapr_hcall.c do_client_architecture_support), so the calls
  after it are **cas N**.
* L2's /init prints its report, then waits for a word on its console. L1's watcher writes
  ``pc:reboot N`` (or ``pc:poweroff``) into the trace *before* it sends the word, and only
  then does L2 call ``reboot -f``: calls after it are **reboot N** (the machine reset) until
  the next CAS marker, or **shutdown**.
"""

from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass, field
from pathlib import Path

from powercompat.verify.errors import AssetError
from powercompat.verify.initramfs import CpioEntry, write_newc

#: register id of KVM_REG_PPC_ARCH_COMPAT (arch/powerpc/include/uapi/asm/kvm.h)
ARCH_COMPAT_ID = 0x10200000000000B7
TRACEFS = "/sys/kernel/tracing"
L2_KERNEL_PATH = "/l2/vmlinux"
L2_INITRD_PATH = "/l2/initrd"
L2_APPEND = "console=hvc0 loglevel=1 quiet panic=-1"
#: seconds one L2 QEMU may run (start-up, boot, reboot, boot, power off) before SIGKILL
L2_TIMEOUT = 300
#: seconds L2 waits for L1's word before it powers off by itself
L2_WAIT = 240

#: kprobe_events lines (Documentation/trace/kprobetrace.rst). ``kvm_arch_vcpu_precreate(kvm,
#: id)`` then ``kvm_arch_vcpu_create(vcpu)`` on the same thread pair a vCPU pointer with the
#: id QEMU asked for and with its creation index; ``vid`` reads kvm_vcpu.vcpu_id at +36 to
#: check that offset (kvm-nested.md) on this kernel. ppc64 ELFv2: args in r3, r4, r5.
def kprobes_for(module: str = "kvm_hv", flavour: str = "hv") -> tuple[str, ...]:
    """The probes for one KVM flavour: ``kvm_hv``/``hv`` (kvmppc_set_one_reg_hv, ...), or
    ``kvm_pr``/``pr`` for KVM PR (kvmppc_{set,get}_one_reg_pr, book3s_pr.c). Both flavours
    also probe ``kvm_arch_vcpu_ioctl_set_sregs_<flavour>``: HV refuses a PVR other than the
    host's there; PR takes any PVR (kvmppc_set_pvr_pr), and the probe records which one QEMU
    passed (``-cpu host`` is the L1 CPU's PVR)."""
    probes = [
        "p:kprobes/pc_pre kvm:kvm_arch_vcpu_precreate id=%r4:u32",
        "p:kprobes/pc_create kvm:kvm_arch_vcpu_create vcpu=%r3:x64 vid=+36(%r3):s32",
        f"p:kprobes/pc_set {module}:kvmppc_set_one_reg_{flavour} vcpu=%r3:x64 id=%r4:x64 "
        "val=+0(%r5):x32",
        f"r:kprobes/pc_set_ret {module}:kvmppc_set_one_reg_{flavour} ret=$retval:s32",
        f"p:kprobes/pc_get {module}:kvmppc_get_one_reg_{flavour} vcpu=%r3:x64 id=%r4:x64",
        f"r:kprobes/pc_get_ret {module}:kvmppc_get_one_reg_{flavour} ret=$retval:s32",
        # struct kvm_sregs starts with __u32 pvr (arch/powerpc/include/uapi/asm/kvm.h)
        f"p:kprobes/pc_sregs {module}:kvm_arch_vcpu_ioctl_set_sregs_{flavour} vcpu=%r3:x64 "
        "pvr=+0(%r4):x32",
        f"r:kprobes/pc_sregs_ret {module}:kvm_arch_vcpu_ioctl_set_sregs_{flavour} "
        "ret=$retval:s32",
    ]
    return tuple(probes)


#: kprobe_events lines (Documentation/trace/kprobetrace.rst) for KVM HV.
#: ``kvm_arch_vcpu_precreate(kvm, id)`` then ``kvm_arch_vcpu_create(vcpu)`` on the same thread
#: pair a vCPU pointer with the id QEMU asked for and with its creation index; ``vid`` reads
#: kvm_vcpu.vcpu_id at +36 to check that offset (kvm-nested.md) on this kernel. ppc64 ELFv2:
#: arguments in r3, r4, r5.
KPROBES = kprobes_for()
#: ftrace event filters: only ARCH_COMPAT among the hundreds of ONE_REG calls per vCPU
KPROBE_FILTERS = {"pc_set": f"id == 0x{ARCH_COMPAT_ID:x}", "pc_get": f"id == 0x{ARCH_COMPAT_ID:x}"}

#: keeps markers and entry probes, and of the return probes only the first one on a thread
#: after an entry (the return of the filtered call: calls on one thread never nest)
TRACE_FILTER_AWK = r"""/^#/ { next }
/ pc_(set|get|sregs): / { k = substr($0, 1, index($0, "[") - 1); p[k] = 1; print; next }
/ pc_(set|get|sregs)_ret: / { k = substr($0, 1, index($0, "[") - 1)
  if (p[k]) { print; p[k] = 0 }
  next }
{ print }"""

L2_INIT = f"""#!/bin/sh
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo @@L2-CPUINFO-BEGIN
cat /proc/cpuinfo
echo @@L2-CPUINFO-END
for d in /proc/device-tree/cpus/*@*; do
  if [ -e "$d/cpu-version" ]; then
    echo "@@L2-CPU-VERSION $d $(hexdump -v -e '1/1 "%02x"' "$d/cpu-version")"
  else
    echo "@@L2-CPU-VERSION $d none"
  fi
done
echo @@L2-DONE
read -t {L2_WAIT} word
case "$word" in
  reboot*) reboot -f ;;
  *) poweroff -f ;;
esac
"""


def _l1_init(reboots: int, kprobes: tuple[str, ...] = KPROBES) -> str:
    probes = "\n".join(kprobes)
    filters = "\n".join(f"echo '{expr}' > $T/events/kprobes/{name}/filter"
                        for name, expr in KPROBE_FILTERS.items())
    return f"""#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
T={TRACEFS}
mount -t tracefs tracefs $T
echo "@@PCK-L1 $(uname -r) $(grep -m1 '^cpu' /proc/cpuinfo | sed 's/.*: //')"
for m in $(cat /lib/modules/order); do
  insmod /lib/modules/$m 2>/tmp/insmod || echo "@@PCK-INSMOD-FAIL $m $(cat /tmp/insmod)"
done
[ -c /dev/kvm ] && echo "@@PCK-KVM yes" || echo "@@PCK-KVM no"
echo 16384 > $T/buffer_size_kb
cat > $T/kprobe_events <<'EOF'
{probes}
EOF
{filters}
echo 1 > $T/events/kprobes/enable || echo "@@PCK-KPROBES-FAIL"
qrun() {{
  q=$1; shift
  $q/lib/ld64.so.2 --library-path $q/lib $q/bin/qemu-system-ppc64 -L $q/share "$@"
}}
for q in /q/*; do
  echo "@@PCK-QEMU $(basename $q) $(qrun $q --version | head -n1)"
done
ONLY=$(sed -n 's/.*pc.only=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
pcwatch() {{
  n=0
  while [ -e /tmp/running ]; do
    c=$(grep -c '^@@L2-DONE' /tmp/out)
    if [ "$c" -gt "$n" ]; then
      n=$c
      if [ "$n" -le {reboots} ]; then
        echo "pc:reboot $n" > $T/trace_marker; echo reboot > /tmp/in
      else
        echo "pc:poweroff" > $T/trace_marker; echo poweroff > /tmp/in
      fi
    fi
    sleep 0.2
  done
}}
for id in $(cat /configs-order); do
  f=/configs/$id
  if [ -n "$ONLY" ] && ! echo ",$ONLY," | grep -q ",$id,"; then continue; fi
  rel=$(sed -n 1p $f); args=$(sed -n 2p $f); tmo=$(sed -n 3p $f); q=/q/$rel
  echo > $T/trace
  rm -f /tmp/out /tmp/err /tmp/in; mkfifo /tmp/in; : > /tmp/out
  exec 3<>/tmp/in
  echo "@@PCK-BEGIN $id $(cut -d' ' -f1 /proc/uptime)"
  touch /tmp/running
  pcwatch &
  wpid=$!
  echo "pc:begin $id" > $T/trace_marker
  timeout -s KILL ${{tmo:-{L2_TIMEOUT}}} $q/lib/ld64.so.2 --library-path $q/lib \\
    $q/bin/qemu-system-ppc64 -L $q/share $args -append "{L2_APPEND}" <&3 >/tmp/out 2>/tmp/err
  rc=$?
  echo "pc:end $id $rc" > $T/trace_marker
  rm -f /tmp/running; wait $wpid; exec 3>&-
  echo "@@PCK-RC $id $rc $(cut -d' ' -f1 /proc/uptime)"
  echo "@@PCK-STDERR-BEGIN $id"; cat /tmp/err; echo "@@PCK-STDERR-END $id"
  echo "@@PCK-CONSOLE-BEGIN $id"; cat /tmp/out; echo "@@PCK-CONSOLE-END $id"
  echo "@@PCK-TRACE-BEGIN $id"
  awk '{TRACE_FILTER_AWK.replace("'", "")}' $T/trace
  echo "@@PCK-TRACE-END $id"
done
echo @@PCK-ALL-DONE
poweroff -f
"""


@dataclass(frozen=True, slots=True)
class L2Config:
    """One L2 start inside L1. ``kvm_type``: the pseries ``kvm-type`` (None = auto);
    ``firmware``: ``vof`` (x-vof=on) or ``slof``; ``timeout``: seconds L1 gives this L2
    QEMU."""

    id: str
    qemu: str  # L1 QEMU label (7.2, 10.0, 11.1)
    max_cpu_compat: str | None = None
    cpu: str = "host"
    smp: int = 2
    mem: str = "512M"
    kvm_type: str | None = None
    reboots: int = 1
    machine_extra: tuple[str, ...] = ()
    firmware: str = "vof"
    timeout: int = L2_TIMEOUT

    def argv(self, page_size: int) -> list[str]:
        """The L2 QEMU arguments, kvm-nested.md's recipe, without the binary, ``-L`` and
        ``-append`` (L1's /init adds ``-append L2_APPEND``: one word per argument here)."""
        vof = ["x-vof=on"] if self.firmware == "vof" else []
        machine = ["pseries", "accel=kvm", *vof, "cap-sbbc=broken", "cap-cfpc=broken",
                   "cap-ibs=broken", "cap-ccf-assist=off"]
        if not any(x.startswith("cap-hpt-max-page-size=") for x in self.machine_extra):
            machine.append(f"cap-hpt-max-page-size={'64k' if page_size == 65536 else '4k'}")
        if self.max_cpu_compat is not None:
            machine.append(f"max-cpu-compat={self.max_cpu_compat}")
        if self.kvm_type is not None:
            machine.append(f"kvm-type={self.kvm_type}")
        machine.extend(self.machine_extra)
        return [
            "-machine", ",".join(machine), "-cpu", self.cpu, "-smp", str(self.smp),
            "-m", self.mem, "-nodefaults", "-display", "none", "-serial", "stdio",
            "-monitor", "none", "-kernel", L2_KERNEL_PATH, "-initrd", L2_INITRD_PATH,
            "-D", f"{TRACEFS}/trace_marker", "-trace", "spapr_cas_pvr",
            "-trace", "qemu_system_shutdown_request",
        ]  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "qemu": self.qemu, "max_cpu_compat": self.max_cpu_compat,
                "cpu": self.cpu, "smp": self.smp, "mem": self.mem, "kvm_type": self.kvm_type,
                "reboots": self.reboots, "machine_extra": list(self.machine_extra),
                "firmware": self.firmware, "timeout": self.timeout}


def _dir(name: str) -> CpioEntry:
    return CpioEntry(name, stat.S_IFDIR | 0o755)


def _file(name: str, data: bytes, mode: int = 0o644) -> CpioEntry:
    return CpioEntry(name, stat.S_IFREG | mode, data)


def l2_initramfs(busybox: bytes) -> bytes:
    """The tiny L2 initramfs (uncompressed newc)."""
    entries = [_dir(d) for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys",
                                 "dev", "tmp")]
    entries += [CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdevmajor=5, rdevminor=1),
                _file("bin/busybox", busybox, 0o755),
                CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
                _file("init", L2_INIT.encode(), 0o755)]
    return write_newc(entries)


@dataclass
class L1Image:
    """What goes into one L1 initramfs."""

    busybox: Path
    modules: list[Path]
    qemus: dict[str, Path]  # label -> folder (bin/, lib/, share/)
    l2_vmlinux: Path
    configs: list[L2Config]
    page_size: int
    reboots: int = 1
    kprobes: tuple[str, ...] = KPROBES
    extra: dict[str, bytes] = field(default_factory=dict)

    def entries(self) -> list[CpioEntry]:
        busybox = self.busybox.read_bytes()
        entries = [_dir(d) for d in ("bin", "sbin", "usr", "proc", "sys", "dev", "tmp", "lib",
                                     "lib/modules", "q", "l2", "configs")]
        entries += [CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdevmajor=5, rdevminor=1),
                    _file("bin/busybox", busybox, 0o755),
                    CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
                    _file("init", _l1_init(self.reboots, self.kprobes).encode(), 0o755)]
        order = []
        for mod in self.modules:
            name = mod.name.split("-", 1)[1] if mod.name[0].isdigit() else mod.name
            entries.append(_file(f"lib/modules/{name}", mod.read_bytes()))
            order.append(name)
        entries.append(_file("lib/modules/order", ("\n".join(order) + "\n").encode()))
        for label, folder in sorted(self.qemus.items()):
            entries += [_dir(f"q/{label}"), _dir(f"q/{label}/bin"), _dir(f"q/{label}/lib"),
                        _dir(f"q/{label}/share")]
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.name != "qemu.json":
                    rel = path.relative_to(folder)
                    mode = 0o755 if rel.parts[0] == "bin" or path.name.startswith("ld") else 0o644
                    entries.append(_file(f"q/{label}/{rel}", path.read_bytes(), mode))
        entries.append(_file("l2/vmlinux", self.l2_vmlinux.read_bytes()))
        entries.append(_file("l2/initrd", l2_initramfs(busybox)))
        for cfg in self.configs:
            args = " ".join(cfg.argv(self.page_size))
            entries.append(_file(f"configs/{cfg.id}",
                                 f"{cfg.qemu}\n{args}\n{cfg.timeout}\n".encode()))
        # run in the given order (a configuration that may wedge L1 goes last)
        run_order = "".join(f"{cfg.id}\n" for cfg in self.configs)
        entries.append(_file("configs-order", run_order.encode()))
        entries += [_file(name, data) for name, data in self.extra.items()]
        return entries

    def write(self, dest: Path, limit: int | None = None) -> Path:
        """Write the newc archive: uncompressed (no decompression cost inside TCG) unless it
        exceeds ``limit``, then gzip level 1 (233 MiB -> 77 MiB in ~7 s here).

        :raises AssetError: still larger than ``limit`` once compressed.
        """
        blob = write_newc(self.entries())
        if limit is not None and len(blob) > limit:
            blob = gzip.compress(blob, compresslevel=1, mtime=0)
            if len(blob) > limit:
                raise AssetError(f"L1 initramfs is {len(blob) >> 20} MiB compressed; the "
                                 f"machine loads at most {limit >> 20} MiB")
        tmp = dest.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(dest)
        return dest
