"""Build a ppc64le Linux with KVM PR from Debian's own source and config (issue #14).

Why: Debian builds no KVM PR (``KVM_BOOK3S_64_PR`` depends on ``!CONTEXT_TRACKING_USER``, which
Debian's ``NO_HZ_FULL`` and ``VIRT_CPU_ACCOUNTING_GEN`` select; arch/powerpc/kvm/Kconfig,
kernel/time/Kconfig, init/Kconfig), so the only way to ask a real PR kernel about
``KVM_REG_PPC_ARCH_COMPAT`` here is to rebuild Debian's kernel with PR enabled. This is the
project's one sanctioned recipe that rebuilds a fetched program (TEAM.md); it runs by hand, its
output is cached, and CI only tests the config derivation and the manifest, offline.

Inputs, all Debian bookworm packages, none installed except the cross toolchain:

* ``linux-source-6.1`` at the same version as the L1 image package (Debian's patched tree);
* ``/boot/config-*`` of that ``linux-image-6.1.0-*-powerpc64le`` package (the config base);
* ``gcc-powerpc64le-linux-gnu`` and ``binutils-powerpc64le-linux-gnu`` (installed on the host);
* ``flex``, ``bison``, ``m4`` (unpacked under the cache, put on ``PATH``).

The config is Debian's with (1) what PR needs, (2) what a by-hand harness needs (no debug info,
no Debian signing key, a local version), (3) a trim: every module off except KVM's, and a list
of large built-in subsystems an L1 pseries guest in QEMU never touches. ``make olddefconfig``
resolves the rest, and the result is checked against ``REQUIRED`` before anything is compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from powercompat.catalog.kernels import HOST_PAGE_SIZES_KIB, sizes_text
from powercompat.verify import process
from powercompat.verify.assets import check_cache_dir
from powercompat.verify.errors import AssetError, VerifyError
from powercompat.verify.kvm.apt import AptState

Progress = Callable[[str], None]

ARCH = "powerpc"
CROSS_COMPILE = "powerpc64le-linux-gnu-"
SUITE = "bookworm"
SOURCE_PACKAGE = "linux-source-6.1"
KERNEL_META = "linux-image-powerpc64le"
GUEST_ARCH = "ppc64el"
HOST_ARCH = "amd64"
#: installed on the host with apt (the brief allows these two for this by-hand harness)
TOOLCHAIN_PACKAGES = ("gcc-powerpc64le-linux-gnu", "binutils-powerpc64le-linux-gnu")
#: unpacked under the cache, never installed: host tools kbuild needs on this machine
#: (no libelf-dev: Debian's ppc64el config records mcount with recordmcount, not objtool)
BUILD_TOOL_PACKAGES = ("flex", "bison", "m4")
LOCALVERSION = "-powercompat-pr"
MANIFEST = "manifest.json"
#: a fixed build identity so that two builds of the same inputs print the same banner
BUILD_ENV = {
    "KBUILD_BUILD_USER": "powercompat",
    "KBUILD_BUILD_HOST": "powercompat",
    "KBUILD_BUILD_VERSION": "1",
    "LC_ALL": "C",
    "TZ": "UTC",
}
#: the modules the harness copies out (paths under the build tree)
KVM_MODULES = tuple(f"arch/powerpc/kvm/{m}.ko" for m in ("kvm", "kvm-hv", "kvm-pr"))

Value = str  # "y", "m", "n" (for "is not set"), or the literal right-hand side ("\"x\"", "2048")

#: What KVM PR needs (arch/powerpc/kvm/Kconfig: KVM_BOOK3S_64_PR depends on
#: !CONTEXT_TRACKING_USER; NO_HZ_FULL and VIRT_CPU_ACCOUNTING_GEN select it).
PR_CHANGES: dict[str, Value] = {
    "NO_HZ_FULL": "n",
    "NO_HZ_IDLE": "y",
    "VIRT_CPU_ACCOUNTING_GEN": "n",
    "VIRT_CPU_ACCOUNTING_NATIVE": "y",
    "CONTEXT_TRACKING_USER": "n",
    "KVM_BOOK3S_64_PR": "m",
    "KVM_BOOK3S_64_HV": "m",
}

#: What the harness needs: no DWARF (time; vcpu_id's offset is read by a compiled probe
#: instead), no Debian signing key (not in the source package), a name that says what it is.
#: Lockdown goes because it selects MODULE_SIG (security/lockdown/Kconfig); Debian's default
#: is LOCK_DOWN_KERNEL_FORCE_NONE anyway, so nothing the harness observes changes.
HARNESS_CHANGES: dict[str, Value] = {
    "SECURITY_LOCKDOWN_LSM": "n",
    "DEBUG_INFO": "n",
    "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT": "n",
    "DEBUG_INFO_NONE": "y",
    "DEBUG_INFO_BTF": "n",
    "MODULE_SIG": "n",
    "MODULE_SIG_ALL": "n",
    "SYSTEM_TRUSTED_KEYS": '""',
    "SYSTEM_REVOCATION_KEYS": '""',
    "LOCALVERSION": f'"{LOCALVERSION}"',
    "LOCALVERSION_AUTO": "n",
}

#: Modules kept when every other ``=m`` is turned off (KVM: kvm.ko, kvm-hv.ko, kvm-pr.ko).
KEEP_MODULES = frozenset({"KVM_BOOK3S_64", "KVM_BOOK3S_64_HV", "KVM_BOOK3S_64_PR"})

#: Large built-in subsystems an L1 pseries guest booted from an initramfs never uses.
TRIM_BUILTINS: tuple[str, ...] = (
    "DRM", "FB", "VT", "SOUND", "MEDIA_SUPPORT", "STAGING", "WLAN", "WIRELESS", "BT",
    "INFINIBAND", "SCSI", "ATA", "MD", "NVME_CORE", "USB_SUPPORT", "INPUT_JOYSTICK",
    "INPUT_TOUCHSCREEN", "INPUT_TABLET", "INPUT_MISC", "HID", "NETDEVICES", "WAN", "ISDN",
    "NFS_FS", "NFSD", "CIFS", "XFS_FS", "BTRFS_FS", "EXT4_FS", "EXT2_FS", "SQUASHFS",
    "NETFILTER", "IP_SCTP", "BRIDGE", "VLAN_8021Q", "IPV6", "XFRM", "MPTCP",
    "SECURITY_SELINUX", "SECURITY_APPARMOR", "SECURITY_TOMOYO", "IMA", "EVM",
    "BPF_JIT", "BPF_LSM", "DEBUG_KMEMLEAK", "KASAN",
)  # fmt: skip
# (PPC_POWERNV stays: KVM_BOOK3S_64_HV depends on it, arch/powerpc/kvm/Kconfig.)

#: What the final ``.config`` must hold (after olddefconfig), or the build is refused.
REQUIRED: dict[str, Value] = {
    "KVM_BOOK3S_64": "m",
    "KVM_BOOK3S_64_HV": "m",
    "KVM_BOOK3S_64_PR": "m",
    "CONTEXT_TRACKING_USER": "n",
    "NO_HZ_IDLE": "y",
    "VIRT_CPU_ACCOUNTING_NATIVE": "y",
    "PPC_PSERIES": "y",
    "PPC_BOOK3S_64": "y",
    # as Debian's L1: the HV harness's hash L2 needs a 64K-page L1 (the 4K build: required())
    "PPC_64K_PAGES": "y",
    "PPC_64S_HASH_MMU": "y",  # PR hosts only on hash (book3s_pr.c)
    "HVC_CONSOLE": "y",
    "BLK_DEV_INITRD": "y",
    "RD_GZIP": "y",
    "DEVTMPFS": "y",
    "TMPFS": "y",
    "PROC_FS": "y",
    "SYSFS": "y",
    "UNIX": "y",
    "BINFMT_ELF": "y",
    "MODULES": "y",
    "MODULE_UNLOAD": "y",
    "KPROBES": "y",
    "KPROBE_EVENTS": "y",
    "FTRACE": "y",
    "DYNAMIC_FTRACE": "y",
    "DEBUG_FS": "y",
    "DEBUG_INFO_NONE": "y",
    "MODULE_SIG": "n",
}

#: The L1 kernel's base page in KiB. 64 keeps Debian's 6.1 choice (the default build, and the
#: tables above); 4 is the base page of Debian's 6.12 and 7.2 ppc64el builds. On a 4K-page
#: KVM host a hash guest's VRMA maps 2^(12 + htab_shift - 7) bytes (target/ppc/kvm.c
#: kvmppc_vrma_limit, hw/ppc/spapr.c spapr_setup_hpt), and every PR guest runs hash.
PAGE_SIZES_KIB = HOST_PAGE_SIZES_KIB
DEFAULT_PAGE_KIB = 64
#: page size -> (what it adds to the PR changes and to ``REQUIRED``, the build's local
#: version). arch/powerpc/Kconfig, choice "Page size" (PPC_4K_PAGES, PPC_64K_PAGES, ...).
PAGE_VARIANTS: dict[int, tuple[dict[str, Value], str]] = {
    64: ({}, LOCALVERSION),
    4: ({"PPC_4K_PAGES": "y", "PPC_64K_PAGES": "n"}, "-powercompat-pr4k"),
}


def _variant(page_kib: int) -> tuple[dict[str, Value], str]:
    try:
        return PAGE_VARIANTS[page_kib]
    except KeyError:
        raise VerifyError(f"page size {page_kib} KiB: the PR kernel is built with "
                          f"{sizes_text(PAGE_SIZES_KIB)} KiB pages") from None


def pr_changes(page_kib: int = DEFAULT_PAGE_KIB) -> dict[str, Value]:
    """``PR_CHANGES`` and the page size's own."""
    return {**PR_CHANGES, **_variant(page_kib)[0]}


def harness_changes(page_kib: int = DEFAULT_PAGE_KIB) -> dict[str, Value]:
    """``HARNESS_CHANGES`` with the page size's local version."""
    return {**HARNESS_CHANGES, "LOCALVERSION": f'"{_variant(page_kib)[1]}"'}


def required(page_kib: int = DEFAULT_PAGE_KIB) -> dict[str, Value]:
    """``REQUIRED`` with the page size's own symbols."""
    return {**REQUIRED, **_variant(page_kib)[0]}


class ConfigError(VerifyError):
    """The derived config lost something PR or the harness needs (named, with its value)."""


# --- config text <-> values -------------------------------------------------------------------

_SET = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")


def parse_config(text: str) -> dict[str, Value]:
    """Kconfig ``.config`` text to ``{symbol: value}``; ``# CONFIG_X is not set`` gives ``"n"``."""
    values: dict[str, Value] = {}
    for line in text.splitlines():
        m = _SET.match(line)
        if m:
            values[m.group(1)] = m.group(2)
            continue
        m = _UNSET.match(line)
        if m:
            values[m.group(1)] = "n"
    return values


def render_config(values: Mapping[str, Value]) -> str:
    """``{symbol: value}`` back to ``.config`` lines, in the mapping's order."""
    lines = [
        f"# CONFIG_{sym} is not set" if val == "n" else f"CONFIG_{sym}={val}"
        for sym, val in values.items()
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Derivation:
    """The seed config for olddefconfig and every change from Debian's, grouped by why."""

    text: str
    pr: dict[str, tuple[Value | None, Value]]
    harness: dict[str, tuple[Value | None, Value]]
    trimmed_builtins: dict[str, Value]
    modules_off: int
    modules_kept: tuple[str, ...]


def derive_config(debian_text: str, page_kib: int = DEFAULT_PAGE_KIB) -> Derivation:
    """Debian's config with PR enabled, harness settings applied and the build trimmed;
    ``page_kib`` 4 also switches the base page (``PAGE_VARIANTS``).

    Pure: the same Debian config always gives the same seed. Symbols Debian does not mention
    are added (olddefconfig drops those whose dependencies are not met, and ``check_config``
    then names them).
    """
    base = parse_config(debian_text)
    values = dict(base)
    off = 0
    for sym, val in base.items():
        if val == "m" and sym not in KEEP_MODULES:
            values[sym] = "n"
            off += 1
    trimmed: dict[str, Value] = {}
    for sym in TRIM_BUILTINS:
        if base.get(sym, "n") not in ("n", "m"):  # modules are already off
            trimmed[sym] = base[sym]
            values[sym] = "n"
    pr: dict[str, tuple[Value | None, Value]] = {}
    harness: dict[str, tuple[Value | None, Value]] = {}
    for changes, log in ((pr_changes(page_kib), pr), (harness_changes(page_kib), harness)):
        for sym, val in changes.items():
            if base.get(sym) != val:
                log[sym] = (base.get(sym), val)
            values[sym] = val
    kept = tuple(sorted(sym for sym in KEEP_MODULES if values.get(sym) == "m"))
    return Derivation(render_config(values), pr, harness, trimmed, off, kept)


def check_config(final_text: str, page_kib: int = DEFAULT_PAGE_KIB) -> None:
    """Refuse a resolved config that lacks anything in ``required(page_kib)``.

    :raises ConfigError: naming every symbol whose value differs, as ``SYM=got (want)``.
    """
    final = parse_config(final_text)
    wrong = [
        f"{sym}={final.get(sym, 'n')} (want {want})"
        for sym, want in required(page_kib).items()
        if final.get(sym, "n") != want
    ]
    if wrong:
        raise ConfigError("the resolved config lost what PR needs: " + ", ".join(wrong))


def config_page_size(text: str) -> int:
    """The base page of a resolved config in bytes (the "Page size" choice's symbol set).

    :raises VerifyError: neither 4K nor 64K pages: not a build of this recipe.
    """
    values = parse_config(text)
    sizes = [size for sym, size in (("PPC_4K_PAGES", 4096), ("PPC_64K_PAGES", 65536))
             if values.get(sym) == "y"]
    if len(sizes) != 1:
        raise VerifyError("the PR kernel's config sets neither PPC_4K_PAGES nor PPC_64K_PAGES")
    return sizes[0]


def config_diff(before: str, after: str) -> dict[str, list[str]]:
    """Symbols switched on, switched off or changed between two configs (for the manifest)."""
    a, b = parse_config(before), parse_config(after)
    on = sorted(s for s in b if b[s] != "n" and a.get(s, "n") == "n")
    off = sorted(s for s in a if a[s] != "n" and b.get(s, "n") == "n")
    changed = sorted(
        f"{s}: {a[s]} -> {b[s]}" for s in a if s in b and "n" not in (a[s], b[s]) and a[s] != b[s]
    )
    return {"on": on, "off": off, "changed": changed}


# --- the manifest ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifest:
    """What was built from what, how long it took, and the files' hashes.

    ``files`` maps a path relative to the output directory to its sha256.
    """

    kernel_release: str
    source_package: str
    source_version: str
    config_package: str
    config_version: str
    toolchain: dict[str, str]
    build_tools: dict[str, str]
    make_command: list[str]
    jobs: int
    build_seconds: float
    started_utc: str
    vcpu_id_offset: int
    files: dict[str, str]
    #: user+sys seconds of make and everything it ran (getrusage of the children)
    cpu_seconds: float = 0.0
    config_changes: dict[str, Any] = field(default_factory=dict)
    #: the kernel's base page in bytes (``config_page_size``); manifests written before the
    #: 4K variant lack it, and were 64K builds (``REQUIRED`` had PPC_64K_PAGES=y)
    page_size: int = 65536

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manifest:
        """Read a manifest back; a missing or mistyped field is a one-line ``VerifyError``."""
        try:
            m = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        except TypeError as err:
            raise VerifyError(f"PR kernel manifest is incomplete: {err}") from err
        for name, kind in (("build_seconds", (int, float)), ("cpu_seconds", (int, float)),
                           ("vcpu_id_offset", int), ("files", dict), ("jobs", int),
                           ("page_size", int)):  # fmt: skip
            if not isinstance(getattr(m, name), kind):
                raise VerifyError(f"PR kernel manifest: {name} has the wrong type")
        return m


def load_manifest(out: Path) -> Manifest | None:
    """The cached build in ``out``, or None when absent or when any listed file changed."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        m = Manifest.from_json(json.loads(path.read_text()))
    except (ValueError, VerifyError):
        return None
    for rel, digest in m.files.items():
        f = out / rel
        if not f.is_file() or sha256(f) != digest:
            return None
    return m


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- process handling ---------------------------------------------------------------------------


def _run_logged(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path,
                timeout: float) -> tuple[float, float]:  # fmt: skip
    """Run ``argv`` through ``verify.process`` (own group, killed on timeout, on an
    exception and, under ``process.guard()``, on SIGINT/SIGTERM/SIGHUP), its output appended
    to ``log``. Returns wall-clock and CPU (user+sys of every reaped descendant) seconds.

    :raises subprocess.TimeoutExpired: ``timeout`` passed (the group is killed first).
    :raises VerifyError: a non-zero exit, with the log's last lines.
    """
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("ab") as sink:
        sink.write(f"$ {' '.join(argv)}\n".encode())
        sink.flush()
        proc = process.popen(argv, cwd=cwd, env=dict(env), stdout=sink,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            process.release(proc)  # kills the group unless make already ended
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise VerifyError(f"{' '.join(argv[:4])}... exited {rc}: {' | '.join(tail)}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - start, cpu


def _output(argv: Sequence[str], timeout: float = 120) -> str:
    """stdout of a short program that must succeed (one-line error otherwise)."""
    proc = process.run(argv, timeout=timeout)
    if proc.returncode != 0:
        raise VerifyError(f"{' '.join(argv[:3])} exited {proc.returncode}: "
                          f"{proc.stderr.strip()[-200:]}")  # fmt: skip
    return proc.stdout


def _deb_field(deb: Path, name: str) -> str:
    return _output(["dpkg-deb", "-f", str(deb), name]).strip()


def _unpack(deb: Path, dest: Path) -> None:
    """``dpkg-deb -x`` into a fresh ``dest`` (nothing is installed)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    _output(["dpkg-deb", "-x", str(deb), str(dest)], timeout=600)


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inputs:
    source_deb: Path
    image_deb: Path
    tool_debs: tuple[Path, ...]


def toolchain_versions() -> dict[str, str]:
    """Versions of the installed cross toolchain, or an error that says how to install it."""
    versions: dict[str, str] = {}
    for pkg in TOOLCHAIN_PACKAGES:
        proc = process.run(["dpkg-query", "-W", "-f=${Version}", pkg], timeout=60)
        if proc.returncode != 0 or not proc.stdout:
            raise AssetError(
                f"{pkg} is not installed: apt-get install --no-install-recommends "
                + " ".join(TOOLCHAIN_PACKAGES)
            )
        versions[pkg] = proc.stdout
    versions["gcc --version"] = _output([f"{CROSS_COMPILE}gcc", "--version"]).splitlines()[0]
    return versions


def _state(cache: Path, arch: str, say: Progress) -> AptState:
    """A private apt state for bookworm and ``arch`` (nothing of the host's is touched)."""
    st = AptState(cache / "apt" / f"{SUITE}-{arch}", SUITE, arch)
    if st.ready():
        st.prepare()
    else:
        say(f"apt-get update {SUITE}/{arch} (private state)")
        for problem in st.update():
            say(f"  {problem}")
    return st


def _apt_download(st: AptState, debs: Path, package: str, version: str | None) -> Path:
    """``apt-get download`` one package (pinned when ``version`` is given) unless cached."""
    debs.mkdir(parents=True, exist_ok=True)
    quoted = version.replace(":", "%3a") if version else "*"
    got = sorted(debs.glob(f"{package}_{quoted}_*.deb"))
    if got:
        return got[-1]
    spec = f"{package}={version}" if version else package
    proc = st.run(["apt-get", "download", spec], cwd=debs)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-2:]
        raise AssetError(f"apt-get download {spec}: {' | '.join(tail)}", registry=True)
    got = sorted(debs.glob(f"{package}_*.deb"))
    if not got:
        raise AssetError(f"apt-get download {spec} produced no .deb", registry=True)
    return got[-1]


def _image_package(st: AptState) -> str:
    """The real ``linux-image-6.1.0-NN-powerpc64le`` behind bookworm's meta package."""
    for dep in st.depends(KERNEL_META):
        if dep.startswith("linux-image-") and dep != KERNEL_META:
            return dep
    raise AssetError(f"cannot resolve {KERNEL_META} in {SUITE}/ppc64el", registry=True)


def fetch_inputs(cache: Path, image_package: str | None, say: Progress) -> Inputs:
    """Download the source, the config's image package and the build tools into the cache.

    The source is pinned to the image package's version, so the config and the tree match.
    Debs already in ``cache/debs`` are used as they are (no network).
    """
    debs = cache / "debs"
    found = sorted(debs.glob(f"{image_package or 'linux-image-*-powerpc64le'}_*.deb"))
    guest: AptState | None = None
    if found:
        image_deb = found[-1]
    else:
        guest = _state(cache, GUEST_ARCH, say)
        image_package = image_package or _image_package(guest)
        say(f"downloading {image_package}")
        image_deb = _apt_download(guest, debs, image_package, None)
    version = _deb_field(image_deb, "Version")
    have = sorted(debs.glob(f"{SOURCE_PACKAGE}_{version}_*.deb"))
    if have:
        source_deb = have[-1]
    else:
        guest = guest or _state(cache, GUEST_ARCH, say)
        say(f"downloading {SOURCE_PACKAGE}={version}")
        source_deb = _apt_download(guest, debs, SOURCE_PACKAGE, version)
    tools = []
    for pkg in BUILD_TOOL_PACKAGES:
        have = sorted(debs.glob(f"{pkg}_*_{HOST_ARCH}.deb"))
        tools.append(have[-1] if have else
                     _apt_download(_state(cache, HOST_ARCH, say), debs, pkg, None))
    return Inputs(source_deb, image_deb, tuple(tools))


def _unpack_all(inputs: Inputs, cache: Path, say: Progress) -> tuple[Path, Path, Path]:
    """Unpack tools, Debian's config and the source tree; return (tools root, config, tree)."""
    tools = cache / "tools"
    if not (tools / "usr" / "bin" / "bison").is_file():
        for deb in inputs.tool_debs:
            _output(["dpkg-deb", "-x", str(deb), str(tools)], timeout=600)
    image_root = cache / "image"
    configs = sorted((image_root / "boot").glob("config-*"))
    if not configs:
        _unpack(inputs.image_deb, image_root)
        configs = sorted((image_root / "boot").glob("config-*"))
    if not configs:
        raise AssetError(f"{inputs.image_deb.name} holds no /boot/config-*")
    version = _deb_field(inputs.source_deb, "Version")
    tree = cache / "src" / f"{SOURCE_PACKAGE}-{version}"
    if not (tree / "Makefile").is_file():
        say(f"unpacking {inputs.source_deb.name}")
        pkg_root = cache / "src" / "pkg"
        _unpack(inputs.source_deb, pkg_root)
        tarballs = sorted((pkg_root / "usr" / "src").glob("linux-source-*.tar.xz"))
        if not tarballs:
            raise AssetError(f"{inputs.source_deb.name} holds no linux-source tarball")
        staging = cache / "src" / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(staging, filter="tar")
        inner = next(staging.iterdir())
        shutil.rmtree(tree, ignore_errors=True)
        inner.rename(tree)
        shutil.rmtree(staging)
        shutil.rmtree(pkg_root)
    return tools, configs[-1], tree


def build_env(tools: Path, source_epoch: int) -> dict[str, str]:
    """The environment of every make: unpacked tools first on PATH, fixed build identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBUILD_", "KCONFIG_"))}
    env.update(BUILD_ENV)
    env["PATH"] = f"{tools / 'usr' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["BISON_PKGDATADIR"] = str(tools / "usr" / "share" / "bison")
    env["M4"] = str(tools / "usr" / "bin" / "m4")
    env["KBUILD_BUILD_TIMESTAMP"] = datetime.fromtimestamp(source_epoch, UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    env["SOURCE_DATE_EPOCH"] = str(source_epoch)
    return env


def make_argv(tree: Path, build: Path, jobs: int, *targets: str) -> list[str]:
    """``nice -n 19 make`` with the cross compiler, out of tree (build tools come via env)."""
    return [
        "nice", "-n", "19", "make", "-C", str(tree), f"O={build}", f"-j{jobs}",
        f"ARCH={ARCH}", f"CROSS_COMPILE={CROSS_COMPILE}", *targets,
    ]  # fmt: skip


# --- vcpu_id's offset, from a compiled probe --------------------------------------------------

_PROBE_C = """\
/* powercompat: where kvm_vcpu.vcpu_id sits, for the kprobe fetch argument +N(%r3). */
#include <linux/stddef.h>
#include <linux/kvm_host.h>
void powercompat_offsets(void);
void powercompat_offsets(void)
{
\tasm volatile("\\n.ascii \\"@@vcpu_id %0@@\\"" : : "i" (offsetof(struct kvm_vcpu, vcpu_id)));
}
"""
_PROBE_OUT = re.compile(r"@@vcpu_id \$?(\d+)@@")


def probe_vcpu_id_offset(tree: Path, build: Path, env: Mapping[str, str], log: Path) -> int:
    """Compile a two-line external module to assembly with the kernel's own flags and read
    ``offsetof(struct kvm_vcpu, vcpu_id)`` from it (the asm-offsets technique)."""
    probe = build / "powercompat-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir()
    (probe / "offsets.c").write_text(_PROBE_C)
    (probe / "Makefile").write_text("obj-m := offsets.o\n")
    _run_logged(make_argv(tree, build, 1, f"M={probe}", "offsets.s"), cwd=build,
                env=env, log=log, timeout=600)  # fmt: skip
    m = _PROBE_OUT.search((probe / "offsets.s").read_text())
    if m is None:
        raise VerifyError("the vcpu_id probe printed no offset")
    return int(m.group(1))


# --- the build ----------------------------------------------------------------------------------


def build(cache: Path, *, jobs: int = 2, image_package: str | None = None,
          timeout: float = 3 * 3600, say: Progress | None = None,
          page_kib: int = DEFAULT_PAGE_KIB) -> Manifest:  # fmt: skip
    """Fetch, derive, build and collect under ``cache``; a valid cached build is returned as is.
    ``page_kib``: the base page, 64 (Debian's) or 4; a cache holds one build, so a cached
    build of the other page size is refused (give each its own ``cache``).

    Output: ``cache/out/{vmlinux, config, modules/*.ko, manifest.json, build.log}``.

    :raises AssetError: a package could not be fetched, or the toolchain is missing.
    :raises ConfigError: the resolved config lost something PR needs (nothing compiled).
    :raises VerifyError: make failed or timed out (the log names the spot), or the cache
        folder is unusable.
    """
    cache = check_cache_dir(cache, create=True)  # a file or an unwritable path: one line, now
    try:
        return _build(cache, jobs, image_package, timeout, say or (lambda _m: None),
                      page_kib)
    except OSError as err:
        raise VerifyError(f"PR kernel cache {cache}: {err.strerror or err}") from err
    except subprocess.TimeoutExpired as err:
        raise VerifyError(f"{' '.join(map(str, err.cmd))[:80]}... did not finish within "
                          f"{err.timeout:.0f} s; the build tree is kept") from err


def _build(cache: Path, jobs: int, image_package: str | None, timeout: float,
           say: Progress, page_kib: int) -> Manifest:
    _variant(page_kib)  # an unknown page size: one line, before anything is fetched
    out = cache / "out"
    cached = load_manifest(out)
    if cached is not None and cached.page_size != page_kib << 10:
        raise VerifyError(f"{cache} holds the {cached.page_size >> 10}K-page build "
                          f"({cached.kernel_release}); give the {page_kib}K build its own "
                          "--cache")
    if cached is not None:
        say(f"PR kernel already built in {out} ({cached.build_seconds:.0f} s)")
        return cached
    toolchain = toolchain_versions()
    inputs = fetch_inputs(cache, image_package, say)
    tools_root, debian_config, tree = _unpack_all(inputs, cache, say)
    source_version = _deb_field(inputs.source_deb, "Version")
    epoch = int((tree / "Makefile").stat().st_mtime)
    env = build_env(tools_root, epoch)
    buildd = cache / "build"
    buildd.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "build.log"
    log.write_text("")

    derivation = derive_config(debian_config.read_text(), page_kib)
    (buildd / ".config").write_text(derivation.text)
    # the CLI runs this under verify.process.guard(): a signal kills make's group
    _run_logged(make_argv(tree, buildd, 1, "olddefconfig"), cwd=buildd,
                env=env, log=log, timeout=600)  # fmt: skip
    final = (buildd / ".config").read_text()
    check_config(final, page_kib)
    say("config resolved; building vmlinux and modules (nice -n 19)")
    argv = make_argv(tree, buildd, jobs, "vmlinux", "modules")
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    seconds, cpu = _run_logged(argv, cwd=buildd, env=env, log=log, timeout=timeout)
    offset = probe_vcpu_id_offset(tree, buildd, env, log)
    release = (buildd / "include" / "config" / "kernel.release").read_text().strip()

    files: dict[str, str] = {}
    for rel_src, rel_dst in (("vmlinux", "vmlinux"), (".config", "config"),
                             *((m, f"modules/{Path(m).name}") for m in KVM_MODULES)):  # fmt: skip
        src, dst = buildd / rel_src, out / rel_dst
        if not src.is_file():
            raise VerifyError(f"the build produced no {rel_src}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        files[rel_dst] = sha256(dst)
    tools = inputs.tool_debs
    manifest = Manifest(
        kernel_release=release,
        source_package=SOURCE_PACKAGE,
        source_version=source_version,
        config_package=_deb_field(inputs.image_deb, "Package"),
        config_version=_deb_field(inputs.image_deb, "Version"),
        toolchain=toolchain,
        build_tools={d.name.split("_")[0]: _deb_field(d, "Version") for d in tools},
        make_command=argv,
        jobs=jobs,
        build_seconds=round(seconds, 1),
        cpu_seconds=round(cpu, 1),
        started_utc=started,
        vcpu_id_offset=offset,
        files=files,
        page_size=config_page_size(final),
        config_changes={
            "pr": {k: list(v) for k, v in derivation.pr.items()},
            "harness": {k: list(v) for k, v in derivation.harness.items()},
            "trimmed_builtins": derivation.trimmed_builtins,
            "modules_off": derivation.modules_off,
            "modules_kept": list(derivation.modules_kept),
            "resolved_vs_debian": config_diff(debian_config.read_text(), final),
        },
    )
    (out / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest
