"""``powercompat verify libvirt``: ask a real libvirtd what it does with pseries ``<cpu>`` forms.

Why a harness of its own: ``libvirt-xml``, ``qemu-args`` and the fleet's domain reader speak
for libvirt, so a real libvirt (Debian bookworm's 9.0 with QEMU 7.2, TCG) must answer them.
For each case of a matrix of ``<cpu>`` elements it records, through ``virsh``:

- ``domxml-to-native qemu-argv``: the command line libvirt would generate, or its refusal;
- ``define`` and ``dumpxml``: the definition libvirt writes back (its ``<cpu>`` element and
  machine type), or the refusal;
- ``start --paused``: the refusal, or the live ``<cpu>`` element and the command line from
  the domain log; then ``resume`` and the guest's own report on the serial console
  (``cpu-version`` and ``/proc/cpuinfo``) read from a file chardev.

A libvirtd already answering ``qemu:///system`` is used as it is. Otherwise a private one is
started in session mode (as an unprivileged user when run as root), with its run, config,
cache and data directories in a temporary directory, ``stdio_handler = "file"`` (no
virtlogd) and ``--timeout`` so that it ends by itself if the harness is killed outright.
Every path, signals included, destroys and undefines the domains the harness defined, kills
by pid any QEMU process still carrying one of their (unique) names, stops the libvirtd it
started and removes its temporary directory. Every subprocess has a timeout. Guest starts
happen under an optional ``flock`` (the shared TCG lock of a busy machine), one batch of
starts at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from powercompat.decisions.libvirt import LibvirtCpu, LibvirtDomain, LibvirtHost, start_domain
from powercompat.verify.assets import Assets
from powercompat.verify.errors import BootError, VerifyError
from powercompat.verify.initramfs import DONE
from powercompat.verify.signals import cpu_versions, cpuinfo, cpuinfo_field

VIRSH: Final = "virsh"
LIBVIRTD: Final = "/usr/sbin/libvirtd"
SYSTEM_URI: Final = "qemu:///system"
QEMU_NS: Final = "http://libvirt.org/schemas/domain/qemu/1.0"
KERNEL_APPEND: Final = "console=hvc0 loglevel=4 panic=-1"
#: per virsh call; a define or start of a TCG domain takes well under a second
VIRSH_TIMEOUT: Final = 60.0
#: a SLOF boot of the guest to its report takes ~12 s here (oracle.md: budget 30 s)
BOOT_TIMEOUT: Final = 90.0
#: starts per hold of the TCG lock (about a minute of boots)
LOCK_BATCH: Final = 5
#: the private libvirtd ends by itself after this many idle seconds (harness killed by -9)
DAEMON_IDLE_TIMEOUT: Final = 300
#: the placeholders the recorded XML carries instead of this run's temporary paths
KERNEL_PH, INITRD_PH, CONSOLE_PH = "@KERNEL@", "@INITRD@", "@CONSOLE@"

Say = Callable[[str], None]


# ---------------------------------------------------------------------- the matrix


@dataclass(frozen=True, slots=True)
class Case:
    """One domain: its ``<cpu>`` element (None: no element), domain type, machine and the
    ``<qemu:commandline>`` arguments; ``boot`` says whether a started domain is booted."""

    id: str
    form: str
    cpu_xml: str | None
    virt_type: str = "qemu"
    machine: str = "pseries"
    commandline: tuple[str, ...] = ()
    boot: bool = True

    def domain_xml(self, name: str) -> str:
        """The whole definition, with placeholders for the kernel, initrd and console."""
        ns = f" xmlns:qemu='{QEMU_NS}'" if self.commandline else ""
        cmdline = ""
        if self.commandline:
            args = "".join(f"\n    <qemu:arg value='{a}'/>" for a in self.commandline)
            cmdline = f"\n  <qemu:commandline>{args}\n  </qemu:commandline>"
        cpu = f"\n  {self.cpu_xml}" if self.cpu_xml else ""
        return (
            f"<domain type='{self.virt_type}'{ns}>\n"
            f"  <name>{name}</name>\n"
            "  <memory unit='MiB'>1024</memory>\n"
            "  <vcpu>1</vcpu>\n"
            "  <os>\n"
            f"    <type arch='ppc64le' machine='{self.machine}'>hvm</type>\n"
            f"    <kernel>{KERNEL_PH}</kernel>\n"
            f"    <initrd>{INITRD_PH}</initrd>\n"
            f"    <cmdline>{KERNEL_APPEND}</cmdline>\n"
            f"  </os>{cpu}\n"
            "  <on_poweroff>destroy</on_poweroff>\n"
            "  <on_reboot>destroy</on_reboot>\n"
            "  <on_crash>destroy</on_crash>\n"
            "  <devices>\n"
            f"    <serial type='file'><source path='{CONSOLE_PH}'/></serial>\n"
            f"  </devices>{cmdline}\n"
            "</domain>\n"
        )


def _custom(model: str, extra: str = "", attrs: str = "") -> str:
    return f"<cpu mode='custom'{attrs}><model{extra}>{model}</model></cpu>"


def default_cases() -> tuple[Case, ...]:
    """The recorded matrix: no ``<cpu>``; custom in QEMU's spellings (``powerN``,
    ``powerN_v2.0``) and libvirt's (``POWERN``); host-model without and with a ``<model>``;
    host-passthrough; maximum; ``<qemu:commandline>`` passing ``max-cpu-compat``; a
    ``kvm`` domain; on POWER8, POWER9 and POWER10."""
    cases: list[Case] = [Case("none", "no <cpu>", None)]
    for n in (8, 9, 10):
        cases += [
            Case(f"custom-power{n}", "custom, QEMU alias", _custom(f"power{n}")),
            Case(f"custom-power{n}_v2.0", "custom, QEMU model", _custom(f"power{n}_v2.0")),
            Case(f"custom-POWER{n}", "custom, libvirt CPU map", _custom(f"POWER{n}")),
        ]
    cases += [
        Case("custom-power9-forbid", "custom, QEMU alias, fallback forbid",
             _custom("power9", " fallback='forbid'")),
        Case("custom-POWER9-partial", "custom, libvirt CPU map, check partial",
             _custom("POWER9", attrs=" check='partial'"), boot=False),
        Case("custom-POWER9-pseries-7.2", "custom, versioned machine", _custom("POWER9"),
             machine="pseries-7.2", boot=False),
        Case("custom-POWER7_v2.3", "custom, legacy libvirt name", _custom("POWER7_v2.3"),
             boot=False),
        Case("host-model", "host-model", "<cpu mode='host-model'/>"),
    ]
    for n in (8, 9, 10):
        cases.append(Case(f"host-model-power{n}", "host-model with a compat <model>",
                          f"<cpu mode='host-model'><model>power{n}</model></cpu>"))
    cases += [
        Case("host-passthrough", "host-passthrough", "<cpu mode='host-passthrough'/>"),
        Case("maximum", "maximum", "<cpu mode='maximum'/>"),
    ]
    for n in (8, 9, 10):
        for compat in ("power8", "power9", "power10"):
            if n == 10 or compat != "power10":
                cases.append(Case(
                    f"cmdline-POWER{n}-{compat}", "custom + qemu:commandline max-cpu-compat",
                    _custom(f"POWER{n}"), commandline=("-machine", f"max-cpu-compat={compat}")))
    cases.append(Case("kvm-POWER9", "kvm domain, custom", _custom("POWER9"), virt_type="kvm"))
    return tuple(cases)


# ---------------------------------------------------------------------- virsh


@dataclass(frozen=True, slots=True)
class VirshResult:
    ok: bool
    out: str
    error: str | None


def libvirt_error(stderr: str) -> str | None:
    """libvirt's own message from virsh's stderr: virsh prints ``error: Failed to ...``
    first, then ``error: <virErrorMsg prefix>: <text>`` (which may span lines)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"error: Failed to \w+ (domain|from)", ln)]
    if not lines:
        return None
    lines[0] = lines[0].removeprefix("error: ")
    return "\n".join(lines)


class Virsh:
    """``virsh -c URI`` with a timeout on every call."""

    def __init__(self, uri: str, timeout: float = VIRSH_TIMEOUT) -> None:
        self.uri = uri
        self.timeout = timeout

    def __call__(self, *args: str, timeout: float | None = None) -> VirshResult:
        argv = [VIRSH, "-q", "-c", self.uri, *args]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired as err:
            raise BootError(f"{shlex.join(argv)} did not answer in {err.timeout:.0f} s") from err
        except OSError as err:
            raise BootError(f"cannot run {VIRSH}: {err.strerror}") from err
        if proc.returncode == 0:
            return VirshResult(True, proc.stdout, None)
        return VirshResult(False, proc.stdout, libvirt_error(proc.stderr) or proc.stderr.strip())

    def must(self, *args: str) -> str:
        result = self(*args)
        if not result.ok:
            raise VerifyError(f"virsh {' '.join(args)}: {result.error}")
        return result.out


# ---------------------------------------------------------------------- the daemon


@dataclass
class Daemon:
    """Where libvirtd answers and where it keeps domain logs; ``process`` is set only for a
    libvirtd this harness started."""

    uri: str
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    home: Path | None = None
    user: str | None = None


def _answers(uri: str) -> bool:
    try:
        return Virsh(uri, timeout=15)("uri").ok
    except BootError:
        return False


def _wait_for(uri: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BootError(f"the private libvirtd exited with status {process.returncode}")
        if _answers(uri):
            return
        time.sleep(0.5)
    raise BootError(f"the private libvirtd did not answer within {seconds:.0f} s")


def start_private_daemon(say: Say) -> Daemon:
    """A session-mode libvirtd in a temporary directory (as ``nobody`` when run as root:
    root's libvirtd is always the privileged one with fixed directories).

    :raises BootError: libvirtd missing, or it did not answer in time.
    """
    if not Path(LIBVIRTD).is_file():
        raise BootError(f"{LIBVIRTD} not found: apt-get install --no-install-recommends "
                        "libvirt-daemon-system libvirt-clients")
    home = Path(tempfile.mkdtemp(prefix="pcv-libvirtd-"))
    for sub in ("run", "config/libvirt", "cache", "data"):
        (home / sub).mkdir(parents=True)
    # no virtlogd: QEMU's stdout/stderr go straight to the domain log file
    (home / "config" / "libvirt" / "qemu.conf").write_text('stdio_handler = "file"\n')
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
           "XDG_DATA_HOME": str(home / "data"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "LC_ALL": "C"}
    argv = [LIBVIRTD, "--timeout", str(DAEMON_IDLE_TIMEOUT)]
    user = None
    if os.geteuid() == 0:
        user = "nobody"
        entry = pwd.getpwnam(user)
        _chown_tree(home, entry.pw_uid, entry.pw_gid)
        argv = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                "--clear-groups", *argv]
    home.chmod(0o755)
    say(f"starting a private libvirtd (session mode{', as ' + user if user else ''}) in {home}")
    log = (home / "libvirtd.log").open("wb")
    try:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    uri = f"qemu+unix:///session?socket={home / 'run' / 'libvirt' / 'libvirt-sock'}"
    daemon = Daemon(uri, home / "cache" / "libvirt" / "qemu" / "log", process, home, user)
    try:
        _wait_for(uri, process, 30)
    except BaseException:
        stop_daemon(daemon)
        raise
    return daemon


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, name), uid, gid)


def stop_daemon(daemon: Daemon) -> None:
    """Stop exactly the libvirtd this harness started (by its pid), then remove its
    directory. A daemon found running is left alone."""
    process = daemon.process
    if process is not None and process.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)
            try:
                process.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
    if daemon.home is not None:
        shutil.rmtree(daemon.home, ignore_errors=True)


@contextlib.contextmanager
def libvirt_daemon(uri: str | None, private: bool, say: Say) -> Iterator[Daemon]:
    """``uri`` as given; else ``qemu:///system`` if it answers; else a private libvirtd."""
    if uri is not None:
        if not _answers(uri):
            raise BootError(f"no libvirtd answers at {uri}")
        yield Daemon(uri, Path("/var/log/libvirt/qemu"))
        return
    if not private and _answers(SYSTEM_URI):
        say(f"using the running libvirtd at {SYSTEM_URI}")
        yield Daemon(SYSTEM_URI, Path("/var/log/libvirt/qemu"))
        return
    daemon = start_private_daemon(say)
    try:
        yield daemon
    finally:
        stop_daemon(daemon)


# ---------------------------------------------------------------------- signals and the lock


class Interrupted(VerifyError):
    """SIGTERM, SIGINT or SIGHUP arrived; raised so that every cleanup runs."""


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP/SIGINT into :class:`Interrupted` for the duration."""
    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(f"stopped by signal {signal.Signals(signum).name}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP,
                                                  signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def held(lock: Path | None) -> Iterator[None]:
    """``flock`` on the shared TCG lock file while a batch of guests starts."""
    if lock is None:
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------- reading what libvirt did


def qemu_args(argv: Sequence[str]) -> dict[str, list[str]]:
    """The values of every ``-machine``, ``-accel`` and ``-cpu`` option, in order."""
    wanted = ("-machine", "-accel", "-cpu")
    out: dict[str, list[str]] = {w: [] for w in wanted}
    for i, arg in enumerate(argv[:-1]):
        if arg in wanted:
            out[arg].append(argv[i + 1])
    return out


def log_argv(log: str) -> list[str]:
    """The command line of the last start in a domain log (``starting up`` block)."""
    start = log.rfind("starting up")
    if start < 0:
        return []
    lines = log[start:].splitlines()[1:]
    block: list[str] = []
    for line in lines:
        block.append(line.removesuffix("\\").rstrip())
        if not line.endswith("\\"):
            break
    return shlex.split(" ".join(block))


def qemu_messages(text: str) -> list[str]:
    """QEMU's own error lines (not warnings) inside a libvirt message or a domain log, with
    libvirt's ``-msg timestamp=on`` time stamp and the program name stripped."""
    found = []
    for m in re.finditer(r"qemu-system-ppc64(?:le)?: (.*)", text):
        line = m.group(1).strip()
        if not line.startswith(("warning:", "info:", "terminating on signal")):
            found.append(line)
    return found


def cpu_element(xml: str) -> str | None:
    """The ``<cpu>`` element of a domain definition, serialized compactly."""
    root = ET.fromstring(xml)
    cpu = root.find("cpu")
    if cpu is None:
        return None
    for el in cpu.iter():
        el.tail = None
        if el.text is not None and not el.text.strip():
            el.text = None
    return ET.tostring(cpu, encoding="unicode")


def machine_of(xml: str) -> str | None:
    os_type = ET.fromstring(xml).find("os/type")
    return os_type.get("machine") if os_type is not None else None


# ---------------------------------------------------------------------- one case


@dataclass
class CaseRun:
    """Everything recorded for one case."""

    case: Case
    name: str
    native: dict[str, Any] = field(default_factory=dict)
    define: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] | None = None
    guest: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.case
        return {"id": c.id, "form": c.form, "cpu_xml": c.cpu_xml, "virt_type": c.virt_type,
                "machine": c.machine, "commandline": list(c.commandline),
                "domain_xml": c.domain_xml("@NAME@"), "native": self.native,
                "define": self.define, "start": self.start, "guest": self.guest}


class Runner:
    """Defines, starts and boots cases on one libvirtd; remembers every domain it defined."""

    def __init__(self, daemon: Daemon, assets: Assets, work: Path, say: Say) -> None:
        self.daemon = daemon
        self.virsh = Virsh(daemon.uri)
        self.work = work
        self.say = say
        self.prefix = f"pcv-lv-{secrets.token_hex(3)}-"
        self.defined: list[str] = []
        self.kernel = work / "vmlinux"
        self.initrd = work / "initrd.gz"
        shutil.copyfile(assets.vmlinux, self.kernel)
        shutil.copyfile(assets.initrd, self.initrd)

    def xml(self, case: Case, name: str) -> str:
        console = self.work / f"{name}.console"
        return (case.domain_xml(name).replace(KERNEL_PH, str(self.kernel))
                .replace(INITRD_PH, str(self.initrd)).replace(CONSOLE_PH, str(console)))

    def prepare(self, case: Case) -> CaseRun:
        """domxml-to-native, define and dumpxml: no guest runs."""
        name = self.prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", case.id)
        run = CaseRun(case, name)
        path = self.work / f"{name}.xml"
        path.write_text(self.xml(case, name))
        native = self.virsh("domxml-to-native", "qemu-argv", str(path))
        run.native = {"ok": native.ok, "error": native.error}
        if native.ok:
            run.native["args"] = qemu_args(shlex.split(native.out))
        defined = self.virsh("define", str(path))
        run.define = {"ok": defined.ok, "error": defined.error}
        if defined.ok:
            self.defined.append(name)
            xml = self.virsh.must("dumpxml", "--inactive", name)
            run.define["cpu"] = cpu_element(xml)
            run.define["machine"] = machine_of(xml)
        return run

    def start(self, run: CaseRun) -> None:
        """start --paused, read the live definition and the log, resume, read the guest."""
        name = run.name
        log_path = self.daemon.log_dir / f"{name}.log"
        started = self.virsh("start", "--paused", name)
        run.start = {"ok": started.ok, "error": started.error}
        if not started.ok:
            run.start["qemu_errors"] = qemu_messages(started.error or "")
            return
        live = self.virsh.must("dumpxml", name)
        run.start["cpu"] = cpu_element(live)
        run.start["machine"] = machine_of(live)
        argv = log_argv(_read(log_path))
        run.start["args"] = qemu_args(argv)
        if not run.case.boot:
            self.virsh("destroy", name)
            return
        began = time.monotonic()
        self.virsh.must("resume", name)
        console = self.work / f"{name}.console"
        reported = False
        while time.monotonic() - began < BOOT_TIMEOUT:
            if DONE in _read(console):
                reported = True
            state = self.virsh("domstate", name)
            if state.ok and state.out.strip() == "shut off":
                break
            time.sleep(0.5)
        seconds = round(time.monotonic() - began, 1)
        self.virsh("destroy", name)  # a guest that did not power off in time
        text = _read(console)
        info = cpuinfo(text)
        run.guest = {
            "reported": reported or DONE in text,
            "seconds": seconds,
            "cpu_versions": [f"0x{v:08x}" for _, v in cpu_versions(text)],
            "cpu": cpuinfo_field(info, "cpu"),
            "mmu": cpuinfo_field(info, "MMU"),
            "revision": cpuinfo_field(info, "revision"),
        }

    def cleanup(self) -> None:
        """Destroy and undefine every domain defined here; kill any QEMU left behind."""
        for name in self.defined:
            with contextlib.suppress(VerifyError):
                self.virsh("destroy", name)
            with contextlib.suppress(VerifyError):
                self.virsh("undefine", name)
        for pid in _qemu_pids(self.prefix):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _qemu_pids(prefix: str) -> list[int]:
    """Pids of QEMU processes whose ``-name guest=`` is one of this run's domains."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and b"qemu-system" in cmdline[0] and any(
                arg.startswith(f"guest={prefix}".encode()) for arg in cmdline):
            pids.append(int(entry.name))
    return pids


# ---------------------------------------------------------------------- the whole run


def host_facts(virsh: Virsh) -> dict[str, Any]:
    """Versions, the host arch as libvirt decides it, the CPU map and domcapabilities."""
    # ``version`` exits 1 on an x86_64 host without an x86_64 QEMU ("Cannot find suitable
    # emulator for x86_64") after printing the library and API versions
    version = virsh("version").out
    caps = ET.fromstring(virsh.must("capabilities"))
    facts: dict[str, Any] = {
        "virsh_version": [ln.strip() for ln in version.splitlines() if ln.strip()],
        "host_arch": caps.findtext("host/cpu/arch"),
        "cpu_map_models": virsh.must("cpu-models", "ppc64").split(),
        "domcapabilities": {},
    }
    for virt in ("qemu", "kvm"):
        got = virsh("domcapabilities", "--virttype", virt, "--arch", "ppc64le", "--machine",
                    "pseries")
        if not got.ok:
            facts["domcapabilities"][virt] = {"error": got.error}
            continue
        dom = ET.fromstring(got.out)
        modes = {m.get("name", ""): m.get("supported") == "yes"
                 for m in dom.findall("cpu/mode")}
        facts["domcapabilities"][virt] = {
            "path": dom.findtext("path"), "machine": dom.findtext("machine"),
            "arch": dom.findtext("arch"), "domain": dom.findtext("domain"),
            "cpu_modes": modes,
            "custom_models": [m.text for m in dom.findall("cpu/mode[@name='custom']/model")],
        }
    return facts


def run_libvirt(assets: Assets, cases: Sequence[Case], *, uri: str | None = None,
                private: bool = False, lock: Path | None = None,
                say: Say = lambda _m: None) -> dict[str, Any]:
    """Run every case; return the recording (see the module docstring).

    :raises VerifyError: the daemon or virsh failed (the cases recorded so far are lost).
    """
    began = time.monotonic()
    with signals_raise(), libvirt_daemon(uri, private, say) as daemon:
        work = Path(tempfile.mkdtemp(prefix="pcv-libvirt-"))
        try:
            work.chmod(0o755)  # QEMU runs as libvirt-qemu under the system daemon
            runner = Runner(daemon, assets, work, say)
            if daemon.user is not None:  # the private daemon's user writes the consoles
                entry = pwd.getpwnam(daemon.user)
                _chown_tree(work, entry.pw_uid, entry.pw_gid)
            try:
                facts = host_facts(runner.virsh)
                runs = []
                for case in cases:
                    say(f"define {case.id}")
                    runs.append(runner.prepare(case))
                startable = [r for r in runs if r.define.get("ok")]
                for i in range(0, len(startable), LOCK_BATCH):
                    with held(lock):
                        for run in startable[i:i + LOCK_BATCH]:
                            say(f"start {run.case.id}")
                            runner.start(run)
            finally:
                runner.cleanup()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return {
            **facts,
            "uri": daemon.uri if daemon.process is None else "private session libvirtd",
            "qemu_version": assets.qemu_version,
            "kernel_package": assets.kernel_package,
            "kernel_version": assets.kernel_version,
            "busybox_version": assets.busybox_version,
            "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "wall_seconds": round(time.monotonic() - began, 1),
            "cases": [r.to_json() for r in runs],
        }


def write_recording(data: dict[str, Any], out: Path, command: str) -> None:
    out.write_text(json.dumps({"command": command, **data}, indent=2) + "\n")


# ---------------------------------------------------------------------- judging a recording


def recorded_domain(case: dict[str, Any]) -> LibvirtDomain:
    """The domain a recorded case defined (the recording is ours: plain ElementTree)."""
    cpu = None
    if case["cpu_xml"]:
        el = ET.fromstring(case["cpu_xml"])
        model = el.find("model")
        cpu = LibvirtCpu(el.get("mode", "custom"),
                         model.text if model is not None else None, el.get("check"),
                         el.get("match"), model.get("fallback") if model is not None else None)
    args = case["commandline"]
    compat = None
    for option, value in itertools.pairwise(args):
        if option == "-machine" and value.startswith("max-cpu-compat="):
            compat = value.split("=", 1)[1]
    return LibvirtDomain(cpu, case["virt_type"], case["machine"], compat)


def _xml(cpu: LibvirtCpu | None) -> str | None:
    return cpu.xml() if cpu is not None else None


def _recorded_xml(text: str | None) -> str | None:
    """ElementTree's serialization of a recorded ``<cpu>`` in LibvirtCpu.xml()'s quoting."""
    return text.replace('"', "'").replace(" />", "/>") if text else None


def judge_case(case: dict[str, Any], host: LibvirtHost,
               negotiate: Callable[..., Any]) -> list[str]:
    """Every difference between libvirt's recorded behaviour and the model's (empty: agrees).

    ``negotiate`` is the engine's (:func:`powercompat.scenario.negotiate`), given the
    ``-cpu`` and ``max-cpu-compat`` libvirt passed to QEMU.
    """
    diffs: list[str] = []

    def check(what: str, model: object, real: object) -> None:
        if model != real:
            diffs.append(f"{what}: model {model!r}, libvirt {real!r}")

    outcome = start_domain(recorded_domain(case), host)
    define, start = case["define"], case["start"]
    check("define", outcome.error if outcome.stage == "define" else None, define["error"])
    if not define["ok"]:
        return diffs
    check("machine written", outcome.machine, define["machine"])
    check("<cpu> written", _xml(outcome.defined), _recorded_xml(define["cpu"]))
    qemu_errors = start.get("qemu_errors") or []
    libvirt_refused = not start["ok"] and not qemu_errors
    check("start", outcome.error if outcome.stage == "start" else None,
          start["error"] if libvirt_refused else None)
    native = case["native"]
    check("domxml-to-native", outcome.error, native["error"])
    if libvirt_refused or not outcome.ok:
        return diffs
    args = qemu_args(outcome.args)
    check("generated arguments", args, native["args"])
    if start["ok"]:
        check("arguments in the domain log", args, start["args"])
        check("live <cpu>", _xml(outcome.live), _recorded_xml(start["cpu"]))
    boot = negotiate(str(outcome.qemu_cpu), outcome.max_cpu_compat, accel="tcg",
                     qemu=host.qemu.name)
    check("QEMU's refusal", None if boot.started else boot.error,
          qemu_errors[-1] if qemu_errors else None)
    guest = case.get("guest")
    if guest and boot.started:
        versions = guest["cpu_versions"]
        check("guest cpu-version", boot.cpu_version, int(versions[0], 16) if versions else None)
        check("guest cpu line", boot.guest_cpu_line, guest["cpu"])
    return diffs
