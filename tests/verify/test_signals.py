"""Parsers of boot output, on text captured from real QEMU 7.2 + Linux 6.1 boots."""

from __future__ import annotations

import pytest

from powercompat.verify import signals
from powercompat.verify.signals import CasTrace, HardwareName, StartupError

STDERR_OK = """\
qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-cfpc=workaround
qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-sbbc=workaround
qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ibs=workaround
qemu-system-ppc64: warning: TCG doesn't support requested feature, cap-ccf-assist=on
spapr_cas_pvr current=0xf000004, explicit_match=1, new=0xf000004
"""

CONSOLE_OK = """\
[    0.160013] nvram: Failed to find or create ibm,rtas-log partition, err -28
Linux ppc64le
#1 SMP Debian 6.[    0.160633] nvram: Failed to initialize oops partition!
@@POWERCOMPAT-CPUINFO-BEGIN@@
processor\t: 0
cpu\t\t: POWER8 (architected), altivec supported
clock\t\t: 1000.000000MHz
revision\t: 2.0 (pvr 004e 1200)

timebase\t: 512000000
platform\t: pSeries
model\t\t: IBM pSeries (emulated by qemu)
machine\t\t: CHRP IBM pSeries (emulated by qemu)
MMU\t\t: Hash
@@POWERCOMPAT-CPUINFO-END@@
@@POWERCOMPAT-CPU-VERSION /proc/device-tree/cpus/PowerPC,POWER9@0/cpu-version 0f000004
@@POWERCOMPAT-DONE@@
[    1.305317] reboot: Power down
"""

CONSOLE_SIGILL = """\
[    0.394721] vas: API is supported only with radix page tables
[    0.965538] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000004
[    0.966149] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0-50-powerpc64le #1  Debian 6.1.176-1
[    0.966276] Hardware name: IBM pSeries (emulated by qemu) POWER7 (architected) 0x3f0203 \
0xf000003 pSeries
[    0.966444] Call Trace:
"""


def test_cas_trace_plain() -> None:
    assert signals.cas_traces(STDERR_OK) == (CasTrace(0x0F000004, True, 0x0F000004),)


@pytest.mark.parametrize(
    "line",
    [
        "spapr_cas_pvr current=0x0, explicit_match=0, new=0x0",
        "12345@1700000000.123456:spapr_cas_pvr current=0x0, explicit_match=0, new=0x0",
        "qemu-system-ppc64: spapr_cas_pvr current=0x0, explicit_match=0, new=0x0",
    ],
)
def test_cas_trace_with_or_without_log_prefix(line: str) -> None:
    assert signals.cas_traces(line + "\n") == (CasTrace(0, False, 0),)


def test_cas_trace_keeps_every_event_in_order() -> None:
    text = (
        "spapr_cas_pvr current=0x0, explicit_match=1, new=0xf000005\n"
        "spapr_cas_pvr current=0xf000005, explicit_match=1, new=0xf000005\n"
    )
    assert [t.current for t in signals.cas_traces(text)] == [0, 0x0F000005]


def test_no_trace_no_event() -> None:
    assert signals.cas_traces("qemu-system-ppc64: warning: x\n") == ()


def test_cpu_versions() -> None:
    assert signals.cpu_versions(CONSOLE_OK) == (
        ("/proc/device-tree/cpus/PowerPC,POWER9@0/cpu-version", 0x0F000004),
    )


def test_cpuinfo_fields() -> None:
    info = signals.cpuinfo(CONSOLE_OK)
    assert signals.cpuinfo_field(info, "cpu") == "POWER8 (architected), altivec supported"
    assert signals.cpuinfo_field(info, "revision") == "2.0 (pvr 004e 1200)"
    assert signals.cpuinfo_field(info, "MMU") == "Hash"
    assert signals.cpuinfo_field(info, "nope") is None


def test_cpuinfo_absent_when_init_died() -> None:
    assert signals.cpuinfo(CONSOLE_SIGILL) is None
    assert signals.cpuinfo_field(None, "cpu") is None


def test_hardware_name_gives_real_and_compat_pvr() -> None:
    assert signals.hardware_name(CONSOLE_SIGILL) == HardwareName(
        line="IBM pSeries (emulated by qemu) POWER7 (architected) 0x3f0203 0xf000003 pSeries",
        real_pvr=0x003F0203,
        compat_pvr=0x0F000003,
    )
    assert signals.hardware_name(CONSOLE_OK) is None


def test_hardware_name_raw_mode_has_one_pvr() -> None:
    hw = signals.hardware_name("Hardware name: IBM pSeries (emulated by qemu) POWER9 0x4e1200 x\n")
    assert hw is not None and (hw.real_pvr, hw.compat_pvr) == (0x4E1200, None)


def test_init_sigill() -> None:
    assert signals.init_sigill(CONSOLE_SIGILL)
    assert signals.init_exit_code(CONSOLE_SIGILL) == 4
    assert not signals.init_sigill(CONSOLE_OK)
    assert not signals.init_sigill("Attempted to kill init! exitcode=0x0000000b\n")  # SIGSEGV


def test_cas_failed() -> None:
    line = "qemu-system-ppc64: Couldn't negotiate a suitable PVR during CAS\n"
    assert signals.cas_failed(line)
    assert not signals.cas_failed(STDERR_OK)


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        (
            "qemu-system-ppc64: warning: TCG doesn't support requested feature, "
            "cap-ibs=workaround\n"
            "qemu-system-ppc64: Compatibility PVR 0x0f000006 not valid for CPU\n",
            "Compatibility PVR 0x0f000006 not valid for CPU",
        ),
        (
            'qemu-system-ppc64: Invalid compatibility mode "foo"\n',
            'Invalid compatibility mode "foo"',
        ),
        ("qemu-system-ppc64: unable to find CPU model 'foo'\n", "unable to find CPU model 'foo'"),
        (
            "qemu-system-ppc64: TCG cannot support more than 1 thread/core on a pseries machine\n",
            "TCG cannot support more than 1 thread/core on a pseries machine",
        ),
    ],
)
def test_startup_error_splits_prefix_keeps_text(stderr: str, message: str) -> None:
    assert signals.startup_error(stderr) == StartupError("qemu-system-ppc64: ", message)


def test_startup_error_ignores_warnings_infos_and_traces() -> None:
    info = "qemu-system-ppc64: info: dtb dumped to /tmp/x.dtb. Exiting.\n"
    assert signals.startup_error(STDERR_OK + info) is None


def test_os_panic() -> None:
    text = (
        "qemu-system-ppc64: OS terminated: OS panic: Attempted to kill init! exitcode=0x00000004\n"
    )
    assert signals.os_panic(text) == "OS panic: Attempted to kill init! exitcode=0x00000004"
    assert signals.os_panic(STDERR_OK) is None
