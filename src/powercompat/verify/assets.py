"""QEMU and a ppc64le Linux guest of each Debian suite, fetched without installing anything.

Why private apt states: ``dpkg --add-architecture ppc64el`` on the host can leave every later
``apt-get update`` failing while a ppc64el index is mid-sync (oracle.md), and another suite's
QEMU must never replace the host's. So each suite and architecture gets its own lists, cache,
empty status and sources under the cache folder; packages are only downloaded and unpacked
with ``dpkg-deb -x``. Another suite's amd64 QEMU runs from its extracted package closure
through that closure's own dynamic loader (releases.md, :mod:`powercompat.verify.qemu`).

Only :func:`ensure_assets` (``verify setup``) fetches; :func:`load_assets` (``verify run``)
never touches the network and never installs: it says which ``setup`` to run.

Cache layout (documented in the team note ``verify-process.md``)::

    CACHE/<suite>/apt-amd64/     private apt state for the suite's QEMU
    CACHE/<suite>/apt-ppc64el/   private apt state for its guest kernel and busybox
    CACHE/<suite>/qemu-root/     the extracted amd64 closure of qemu-system-ppc + -data
    CACHE/<suite>/qemu.json      how to run that QEMU, its --version, the debs used
    CACHE/<suite>/guest/         kernel/ and busybox/ unpacked, initrd.gz
    CACHE/<suite>/guest.json     the guest name (linux-X.Y), package versions, paths
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from powercompat.verify import process
from powercompat.verify.errors import AssetError, EnvironmentProblem
from powercompat.verify.initramfs import build_initramfs
from powercompat.verify.qemu import PROGRAM, QemuBinary, QemuVersion, query_version
from powercompat.verify.suites import (
    HOST_SUITE,
    SUITES,
    Suite,
    guest_name,
    parse_suite,
    suite_by_name,
    suite_for_guest,
)

QEMU_BINARY = PROGRAM
HOST_PACKAGES = ("qemu-system-ppc", "qemu-system-data")
KERNEL_META = "linux-image-powerpc64le"
BUSYBOX_PACKAGE = "busybox-static"
GUEST_ARCH = "ppc64el"
HOST_ARCH = "amd64"
QEMU_MANIFEST = "qemu.json"
GUEST_MANIFEST = "guest.json"
#: seconds: a whole index update or closure download; one apt-cache query; one dpkg-deb
APT_TIMEOUT = 900.0
QUERY_TIMEOUT = 120.0
DPKG_TIMEOUT = 300.0
#: how many listed kernel versions to try when the newest .deb is not downloadable
KERNEL_TRIES = 5

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


# --- what a run uses ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QemuAssets:
    """One suite's QEMU, ready to run."""

    suite: str
    source: str  # "installed" (the host's own binary), "extracted" or "given" (--qemu-binary)
    binary: QemuBinary
    version: QemuVersion
    packages: tuple[str, ...] = ()  # the .debs extracted, for provenance

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "source": self.source, "qemu": self.binary.to_json(),
                "version": self.version.to_json(), "packages": list(self.packages)}


@dataclass(frozen=True, slots=True)
class GuestAssets:
    """One suite's guest: kernel image, busybox and the initramfs built from it."""

    suite: str
    guest: str  # linux-X.Y, from the kernel package version
    kernel_package: str
    kernel_version: str
    busybox_version: str
    vmlinux: Path
    busybox: Path
    initrd: Path
    notes: tuple[str, ...] = ()  # fallbacks taken (an older kernel than the newest listed)

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "guest": self.guest, "kernel_package": self.kernel_package,
                "kernel_version": self.kernel_version, "busybox_version": self.busybox_version,
                "vmlinux": str(self.vmlinux), "busybox": str(self.busybox),
                "initrd": str(self.initrd), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GuestAssets:
        return cls(suite=d["suite"], guest=d["guest"], kernel_package=d["kernel_package"],
                   kernel_version=d["kernel_version"], busybox_version=d["busybox_version"],
                   vmlinux=Path(d["vmlinux"]), busybox=Path(d["busybox"]),
                   initrd=Path(d["initrd"]), notes=tuple(d.get("notes", ())))


@dataclass(frozen=True, slots=True)
class Assets:
    """Everything a boot needs, with the versions that go into every recorded observation."""

    qemu: QemuBinary
    qemu_version: str  # the first --version line, word for word
    kernel_package: str
    kernel_version: str
    busybox_version: str
    vmlinux: Path
    initrd: Path
    fetched: tuple[str, ...] = ()
    qemu_release: str = ""
    qemu_debian_version: str | None = None
    qemu_suite: str | None = None
    qemu_source: str = "installed"
    guest: str = ""
    guest_suite: str | None = None
    busybox_path: Path | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def busybox(self) -> Path:
        """The unpacked static busybox, for initramfs variants."""
        if self.busybox_path is not None:
            return self.busybox_path
        return self.initrd.parent / "busybox" / "bin" / "busybox"

    def to_json(self) -> dict[str, Any]:
        return {
            "qemu": self.qemu.to_json(), "qemu_version": self.qemu_version,
            "qemu_release": self.qemu_release, "qemu_debian_version": self.qemu_debian_version,
            "qemu_suite": self.qemu_suite, "qemu_source": self.qemu_source,
            "guest": self.guest, "guest_suite": self.guest_suite,
            "kernel_package": self.kernel_package, "kernel_version": self.kernel_version,
            "busybox_version": self.busybox_version, "vmlinux": str(self.vmlinux),
            "initrd": str(self.initrd), "fetched": list(self.fetched), "notes": list(self.notes),
        }

    def header(self) -> dict[str, Any]:
        """The provenance keys every recorded file starts with."""
        return {
            "qemu_version": self.qemu_version,
            "qemu_release": self.qemu_release,
            "qemu_debian_version": self.qemu_debian_version,
            "qemu_suite": self.qemu_suite,
            "guest": self.guest,
            "guest_suite": self.guest_suite,
            "kernel_package": self.kernel_package,
            "kernel_version": self.kernel_version,
            "busybox_version": self.busybox_version,
        }


def combine(qemu: QemuAssets, guest: GuestAssets, fetched: Sequence[str] = ()) -> Assets:
    """A run's assets: one suite's QEMU with one suite's guest."""
    return Assets(
        qemu=qemu.binary, qemu_version=qemu.version.line, kernel_package=guest.kernel_package,
        kernel_version=guest.kernel_version, busybox_version=guest.busybox_version,
        vmlinux=guest.vmlinux, initrd=guest.initrd, fetched=tuple(fetched),
        qemu_release=qemu.version.release, qemu_debian_version=qemu.version.debian_version,
        qemu_suite=qemu.suite, qemu_source=qemu.source, guest=guest.guest,
        guest_suite=guest.suite, busybox_path=guest.busybox, notes=guest.notes,
    )  # fmt: skip


def default_cache_dir() -> Path:
    """``$POWERCOMPAT_CACHE`` or ``~/.cache/powercompat``."""
    env = os.environ.get("POWERCOMPAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "powercompat"


def check_cache_dir(cache_dir: Path, *, create: bool) -> Path:
    """The absolute cache folder; made when ``create``.

    :raises EnvironmentProblem: it is a file, or it cannot be made or written.
    """
    path = cache_dir.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise EnvironmentProblem(f"cache {path} is not a folder")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise EnvironmentProblem(f"cannot create cache {path}: {err.strerror}") from err
        if not os.access(path, os.W_OK | os.X_OK):
            raise EnvironmentProblem(f"cache {path} is not writable")
    return path


# --- programs -------------------------------------------------------------------------------


def _run(
    argv: Sequence[str], *, cwd: Path | None = None, registry: bool = False,
    timeout: float = QUERY_TIMEOUT,
) -> str:
    """Run a program; its stdout.

    :raises AssetError: it failed (``registry`` when the cause would be Debian's mirror).
    :raises EnvironmentProblem: it is missing or timed out.
    """
    proc = process.run(argv, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise AssetError(
            f"{' '.join(argv[:1])} {' '.join(a for a in argv[1:] if not a.startswith('-'))[:80]}"
            f" exited {proc.returncode}: {' | '.join(tail)}",
            registry=registry,
        )
    return proc.stdout


# --- private apt state per suite and architecture ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Archive:
    """A Debian archive the host's sources point at."""

    uri: str
    security: bool
    signed_by: str | None


def _host_archives(etc: Path = Path("/etc/apt")) -> list[_Archive]:
    """The host's Debian archives (main and security), from deb822 and one-line sources.

    Only stanzas pointing at a ``debian.org`` mirror are kept: other repositories (cloud SDKs,
    nodesource) carry no Debian suites.
    """
    found: list[_Archive] = []

    def add(uri: str, suites: Sequence[str], signed_by: str | None) -> None:
        if "debian.org" not in uri:
            return
        archive = _Archive(uri, any(s.endswith("-security") for s in suites), signed_by)
        if all((a.uri, a.security) != (archive.uri, archive.security) for a in found):
            found.append(archive)

    parts = etc / "sources.list.d"
    for f in sorted(parts.glob("*.sources")) if parts.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", f.read_text()):
            keys: dict[str, str] = {}
            for ln in stanza.splitlines():
                key, sep, value = ln.partition(":")
                if sep and not ln.startswith((" ", "#")):
                    keys[key.strip()] = value.strip()
            for uri in keys.get("URIs", "").split():
                add(uri, keys.get("Suites", "").split(), keys.get("Signed-By"))
    one_line = [etc / "sources.list", *(sorted(parts.glob("*.list")) if parts.is_dir() else [])]
    for f in one_line:
        if not f.is_file():
            continue
        for ln in f.read_text().splitlines():
            m = re.match(r"^deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", ln.strip())
            if m:
                opts = re.search(r"signed-by=(\S+?)[\s\]]", m.group(1) or "")
                add(m.group(2), [m.group(3)], opts.group(1) if opts else None)
    if not any(not a.security for a in found):
        raise AssetError("no Debian sources found under /etc/apt to fetch packages from")
    return found


def _debian_sources(suite: Suite, arch: str, etc: Path = Path("/etc/apt")) -> str:
    """deb822 sources for ``suite`` only (main, its -updates and -security), one architecture.

    :raises AssetError: the host has no Debian archive to take the mirror from.
    """
    stanzas = []
    for archive in _host_archives(etc):
        if archive.security:
            if suite.security_suite is None:
                continue
            suites = [suite.security_suite]
        else:
            suites = [suite.release, *suite.extra_suites]
        lines = [
            "Types: deb", f"URIs: {archive.uri}", f"Suites: {' '.join(suites)}",
            "Components: main", f"Architectures: {arch}",
        ]  # fmt: skip
        if archive.signed_by:
            lines.append(f"Signed-By: {archive.signed_by}")
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def _apt_options(apt_dir: Path, arch: str = GUEST_ARCH) -> list[str]:
    """``-o`` options that give apt a private world of one architecture under ``apt_dir``."""
    return [
        "-o", f"APT::Architecture={arch}",
        "-o", f"APT::Architectures={arch}",
        "-o", f"Dir::State::Lists={apt_dir / 'lists'}",
        "-o", f"Dir::State::Status={apt_dir / 'status'}",
        "-o", f"Dir::Cache={apt_dir / 'cache'}",
        "-o", "Dir::Cache::pkgcache=pkgcache.bin",
        "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
        "-o", f"Dir::Etc::SourceList={apt_dir / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={apt_dir / 'sources.list.d'}",
        "-o", f"Dir::Etc::Preferences={apt_dir / 'preferences'}",
        "-o", f"Dir::Etc::PreferencesParts={apt_dir / 'preferences.d'}",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
        "-o", "Acquire::Languages=none",
        "-o", "APT::Install-Recommends=false",
    ]  # fmt: skip


def _require_tools() -> None:
    """apt-get, apt-cache and dpkg-deb must be there before anything is fetched or made.

    :raises EnvironmentProblem: one is missing from PATH.
    """
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise EnvironmentProblem(f"cannot run {tool}: not found (verify setup needs "
                                     f"Debian's apt and dpkg)")


def _prepare_apt(apt_dir: Path, suite: Suite, arch: str) -> None:
    for sub in ("lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"):
        (apt_dir / sub).mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text("")
    (apt_dir / "sources.list.d" / "debian.sources").write_text(_debian_sources(suite, arch))
    (apt_dir / "status").write_text("")  # empty: nothing counts as installed
    # a backports suite is NotAutomatic-like (priority 100): pin it above its base release so
    # that its QEMU and kernel are the ones chosen, their dependencies from wherever they are
    pin = (f"Package: *\nPin: release n={suite.name}\nPin-Priority: 990\n" if suite.base
           else "")
    (apt_dir / "preferences").write_text(pin)


def _update_lists(apt_dir: Path, suite: Suite, arch: str) -> list[str]:
    """``apt-get update`` in the private state; tolerate secondary indexes that fail.

    A mirror can serve an index mid-sync ("File has unexpected size ... Mirror sync in
    progress?"), most often a security suite. The main suite is enough; a partial update is
    reported, not hidden.

    :return: the ``E:``/``W:`` lines of a partial update (empty when it fully succeeded).
    :raises AssetError: the main suite's index could not be had (``registry`` set).
    """
    argv = ["apt-get", *_apt_options(apt_dir, arch), "update"]
    proc = process.run(argv, timeout=APT_TIMEOUT)
    main_index = f"_dists_{suite.name}_main_binary-{arch}_Packages"
    have_main = any(main_index in p.name for p in (apt_dir / "lists").iterdir())
    problems = [ln for ln in proc.stderr.splitlines() if ln.startswith(("E:", "W:"))]
    if not have_main:
        archs = _release_architectures(apt_dir / "lists", suite.name)
        if archs is not None and arch not in archs:
            # bullseye (LTS) dropped ppc64el from its index: nothing to fetch, not a hiccup
            raise AssetError(f"the {suite.name} index no longer lists {arch} (Architectures: "
                             f"{' '.join(archs)})", registry=True)
        raise AssetError(
            f"apt-get update ({suite.name} {arch}) got no main index: {' | '.join(problems)}",
            registry=True,
        )
    return problems


def _release_architectures(lists: Path, suite: str) -> list[str] | None:
    """The ``Architectures:`` field of the suite's downloaded ``InRelease``, if there is one."""
    for path in lists.glob(f"*_dists_{suite}_InRelease"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("Architectures:"):
                return line.split(":", 1)[1].split()
    return None


def _madison(apt_dir: Path, arch: str, package: str) -> list[str]:
    """Every version of ``package`` the private lists name, newest first (apt's order)."""
    out = _run(["apt-cache", *_apt_options(apt_dir, arch), "madison", package])
    versions: list[str] = []
    for ln in out.splitlines():
        cols = [c.strip() for c in ln.split("|")]
        if len(cols) >= 3 and cols[0] == package and cols[1] not in versions:
            versions.append(cols[1])
    return versions


def _deb_name(package: str, version: str, arch: str) -> str:
    """The file name apt gives a downloaded .deb (an epoch's colon is written ``%3a``)."""
    return f"{package}_{version.replace(':', '%3a')}_{arch}.deb"


def _download(apt_dir: Path, arch: str, debs: Path, package: str, version: str) -> Path:
    """``apt-get download package=version`` into ``debs`` unless already there.

    :raises AssetError: the download failed (``registry`` set: a mirror 404 is the usual cause).
    """
    debs.mkdir(parents=True, exist_ok=True)
    have = sorted(debs.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"))
    if have:
        return have[0]
    _run(["apt-get", *_apt_options(apt_dir, arch), "download", f"{package}={version}"],
         cwd=debs, registry=True, timeout=APT_TIMEOUT)
    got = sorted(debs.glob(f"{package}_{version.replace(':', '%3a')}_*.deb"))
    if not got:
        raise AssetError(f"apt-get download {package}={version} produced no .deb", registry=True)
    return got[0]


def _download_newest(
    apt_dir: Path, arch: str, debs: Path, package: str, say: Progress
) -> tuple[Path, str]:
    """The newest downloadable version of ``package``: an older listed one when the newest
    .deb is not on the mirror yet (releases.md, "Mirror lag is normal").

    :raises AssetError: no listed version could be downloaded.
    """
    versions = _madison(apt_dir, arch, package)
    if not versions:
        raise AssetError(f"{package} is not in the {arch} lists", registry=True)
    errors = []
    for version in versions[:KERNEL_TRIES]:
        try:
            return _download(apt_dir, arch, debs, package, version), version
        except AssetError as err:
            errors.append(str(err))
            say(f"{package} {version} could not be downloaded; trying an older listed version")
    raise AssetError(f"no version of {package} could be downloaded: {errors[-1]}", registry=True)


def _deb_field(deb: Path, name: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), name], timeout=DPKG_TIMEOUT).strip()


def _extract(debs: Sequence[Path], dest: Path) -> None:
    """``dpkg-deb -x`` every .deb into ``dest`` (two at a time: this machine has 2 cores)."""
    dest.mkdir(parents=True, exist_ok=True)

    def one(deb: Path) -> None:
        _run(["dpkg-deb", "-x", str(deb), str(dest)], timeout=DPKG_TIMEOUT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in pool.map(one, debs):
            pass


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --- QEMU of a suite ------------------------------------------------------------------------

# apt-get -s: "Inst NAME (VERSION ORIGINS [ARCH])"
_INST = re.compile(r"^Inst (\S+) (?:\[[^]]*\] )?\((\S+) .*\[(\S+)\]\)")
_FAILED = re.compile(r"Failed to fetch \S+/([^/\s]+)_([^_/\s]+)_([^_/\s]+)\.deb")


def _closure(apt_dir: Path) -> dict[str, tuple[str, str]]:
    """What ``apt-get install qemu-system-ppc qemu-system-data`` would unpack with an empty
    status: package -> (version, architecture)."""
    out = _run(["apt-get", *_apt_options(apt_dir, HOST_ARCH), "-s", "-y", "install",
                *HOST_PACKAGES])
    closure = {}
    for ln in out.splitlines():
        m = _INST.match(ln)
        if m:
            closure[m.group(1)] = (m.group(2).replace("%3a", ":"), m.group(3))
    if not closure:
        raise AssetError(f"apt-get -s install {' '.join(HOST_PACKAGES)} listed nothing")
    return closure


def _download_closure(apt_dir: Path, say: Progress) -> list[Path]:
    """Download the closure (``apt-get -d install``); a .deb that 404s is replaced by an older
    version the lists name."""
    closure = _closure(apt_dir)
    archives = apt_dir / "cache" / "archives"
    argv = ["apt-get", *_apt_options(apt_dir, HOST_ARCH), "-d", "-y", "--fix-missing",
            "install", *HOST_PACKAGES]
    proc = process.run(argv, timeout=APT_TIMEOUT)
    for m in _FAILED.finditer(proc.stderr + proc.stdout):
        package = m.group(1)
        if package not in closure:
            continue
        failed = closure[package][0]
        for version in _madison(apt_dir, HOST_ARCH, package):
            if version == failed:
                continue
            say(f"{package} {failed} is not on the mirror; using {version}")
            _download(apt_dir, HOST_ARCH, archives, package, version)
            closure[package] = (version, closure[package][1])
            break
    debs: list[Path] = []
    missing: list[Path] = []
    for package, (version, arch) in sorted(closure.items()):
        deb = archives / _deb_name(package, version, arch)
        (debs if deb.is_file() else missing).append(deb)
    if missing:
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        raise AssetError(
            f"{len(missing)} package(s) of the QEMU closure could not be downloaded "
            f"({', '.join(d.name for d in missing[:3])}): {tail}",
            registry=True,
        )
    return debs


def _installed_qemu(suite: Suite) -> QemuAssets | None:
    """The host's own QEMU, when it is this suite's release (bookworm on this host)."""
    found = shutil.which(QEMU_BINARY)
    if suite.name != HOST_SUITE or found is None:
        return None
    version = query_version(found)
    if version.release != suite.qemu_release:
        return None
    return QemuAssets(suite.name, "installed", QemuBinary(Path(found)), version)


def load_qemu(cache_dir: Path, suite: Suite) -> QemuAssets | None:
    """The suite's QEMU as set up earlier (asks the binary its version again), else None."""
    path = cache_dir / suite.name / QEMU_MANIFEST
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        binary = QemuBinary.from_json(d["qemu"])
        packages = tuple(d.get("packages", ()))
        source = d["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not Path(binary.binary).is_file() and shutil.which(str(binary.binary)) is None:
        return None
    return QemuAssets(suite.name, source, binary, query_version(binary), packages)


def setup_qemu(
    cache_dir: Path, suite: Suite, say: Progress = _quiet, *, extract: bool = False
) -> tuple[QemuAssets, list[str]]:
    """The suite's QEMU: cached, the host's own (bookworm, unless ``extract``), or extracted
    from the suite's amd64 package closure now.

    :return: the QEMU and the .debs fetched for it now.
    :raises AssetError: a download failed (``registry`` set when the mirror was the cause).
    """
    cached = load_qemu(cache_dir, suite)
    if cached is not None and (cached.source == "extracted" or not extract):
        say(f"QEMU of {suite.name} already set up ({cached.version.line})")
        return cached, []
    host = None if extract else _installed_qemu(suite)
    if host is not None:
        say(f"using the installed {host.binary.name} ({host.version.line})")
        _write_manifest(cache_dir / suite.name / QEMU_MANIFEST, host.to_json())
        return host, []
    _require_tools()
    apt_dir = cache_dir / suite.name / f"apt-{HOST_ARCH}"
    _prepare_apt(apt_dir, suite, HOST_ARCH)
    say(f"updating the private {suite.name} {HOST_ARCH} package lists")
    for problem in _update_lists(apt_dir, suite, HOST_ARCH):
        say(f"apt-get update ({suite.name} {HOST_ARCH}): {problem}")
    say(f"downloading the {HOST_ARCH} closure of {' '.join(HOST_PACKAGES)} ({suite.name})")
    debs = _download_closure(apt_dir, say)
    root = _fresh(cache_dir / suite.name / "qemu-root")
    say(f"extracting {len(debs)} packages into {root}")
    _extract(debs, root)
    binary = QemuBinary.from_root(root)
    version = query_version(binary)
    if version.release != suite.qemu_release:
        say(f"note: {suite.name} now ships QEMU {version.release} (table: {suite.qemu_release})")
    qemu = QemuAssets(suite.name, "extracted", binary, version, tuple(d.name for d in debs))
    _write_manifest(cache_dir / suite.name / QEMU_MANIFEST, qemu.to_json())
    return qemu, [d.name for d in debs]


def _write_manifest(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# --- guest of a suite -----------------------------------------------------------------------

_IMAGE = re.compile(r"\blinux-image-[0-9][^\s,()|]*-powerpc64le\b")
_BINARY = re.compile(r"\blinux-binary-[0-9][^\s,()|]*\b")
_ELF = b"\x7fELF"


def _kernel_candidates(apt_dir: Path) -> list[tuple[str, str]]:
    """(image package, version) to try, newest first: what the meta package points at in each
    listed version, then every other listed ``linux-image-X-powerpc64le``."""
    opts = _apt_options(apt_dir, GUEST_ARCH)
    names: list[str] = []
    for meta_version in _madison(apt_dir, GUEST_ARCH, KERNEL_META):
        shown = _run(["apt-cache", *opts, "show", f"{KERNEL_META}={meta_version}"])
        for ln in shown.splitlines():
            if ln.startswith(("Depends:", "Pre-Depends:")):
                names += [n for n in _IMAGE.findall(ln) if n not in names]
    listed = _run(["apt-cache", *opts, "pkgnames", "linux-image-"]).split()

    def newest_first(name: str) -> list[int]:
        return [-int(x) for x in re.findall(r"\d+", name)]

    others = sorted((n for n in listed if _IMAGE.fullmatch(n) and n not in names),
                    key=newest_first)
    out: list[tuple[str, str]] = []
    for name in [*names, *others]:
        out += [(name, v) for v in _madison(apt_dir, GUEST_ARCH, name)]
    return out


def _find_vmlinux(root: Path) -> Path | None:
    """The ELF kernel image in an unpacked kernel package: ``/boot/vmlinux-VER`` (bookworm,
    trixie) or ``/usr/lib/modules/VER/vmlinuz`` (sid's linux-binary, an ELF despite its name)."""
    patterns = ("boot/vmlinux-*", "usr/lib/modules/*/vmlinuz", "usr/lib/modules/*/vmlinux",
                "boot/vmlinuz-*", "lib/modules/*/vmlinuz")
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                with path.open("rb") as fh:
                    if fh.read(4) == _ELF:
                        return path
    return None


def load_guest(cache_dir: Path, suite: Suite) -> GuestAssets | None:
    """The suite's guest as set up earlier, else None."""
    path = cache_dir / suite.name / GUEST_MANIFEST
    if not path.is_file():
        return None
    try:
        guest = GuestAssets.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = all(p.is_file() for p in (guest.vmlinux, guest.busybox, guest.initrd))
    return guest if ok else None


def setup_guest(
    cache_dir: Path, suite: Suite, say: Progress = _quiet
) -> tuple[GuestAssets, list[str]]:
    """The suite's ppc64el kernel and busybox, and the initramfs; cached when already there.

    :raises AssetError: no kernel or busybox could be downloaded (``registry`` set).
    """
    cached = load_guest(cache_dir, suite)
    if cached is not None:
        say(f"guest of {suite.name} already set up ({cached.guest}, {cached.kernel_package})")
        return cached, []
    _require_tools()
    apt_dir = cache_dir / suite.name / f"apt-{GUEST_ARCH}"
    debs = cache_dir / suite.name / f"debs-{GUEST_ARCH}"
    _prepare_apt(apt_dir, suite, GUEST_ARCH)
    say(f"updating the private {suite.name} {GUEST_ARCH} package lists")
    for problem in _update_lists(apt_dir, suite, GUEST_ARCH):
        say(f"apt-get update ({suite.name} {GUEST_ARCH}): {problem}")
    notes: list[str] = []
    candidates = _kernel_candidates(apt_dir)
    if not candidates:
        raise AssetError(f"no {KERNEL_META} kernel listed for {suite.name}", registry=True)
    kernel_deb, kernel_pkg, kernel_version = None, "", ""
    last_error: AssetError | None = None
    for name, version in candidates[:KERNEL_TRIES]:
        say(f"downloading {name} {version} ({GUEST_ARCH})")
        try:
            kernel_deb = _download(apt_dir, GUEST_ARCH, debs, name, version)
        except AssetError as err:
            last_error = err
            notes.append(f"{name} {version} listed but not downloadable")
            say(f"{name} {version} could not be downloaded; trying an older listed kernel")
            continue
        kernel_pkg, kernel_version = name, version
        break
    if kernel_deb is None:
        raise AssetError(f"no listed {suite.name} kernel could be downloaded: {last_error}",
                         registry=True)
    guest_dir = cache_dir / suite.name / "guest"
    kernel_root = _fresh(guest_dir / "kernel")
    _extract([kernel_deb], kernel_root)
    vmlinux = _find_vmlinux(kernel_root)
    fetched = [kernel_deb.name]
    if vmlinux is None:
        # sid: linux-image-VER is empty and depends on linux-binary-VER, which holds the image
        depends = _deb_field(kernel_deb, "Depends")
        binaries = _BINARY.findall(depends)
        if not binaries:
            raise AssetError(f"{kernel_deb.name} holds no kernel image and names no "
                             f"linux-binary package (Depends: {depends})")
        say(f"downloading {binaries[0]} ({GUEST_ARCH}): the image itself")
        binary_deb, _v = _download_newest(apt_dir, GUEST_ARCH, debs, binaries[0], say)
        _extract([binary_deb], kernel_root)
        fetched.append(binary_deb.name)
        vmlinux = _find_vmlinux(kernel_root)
        if vmlinux is None:
            raise AssetError(f"{binary_deb.name} holds no ELF kernel image")
    say(f"downloading {BUSYBOX_PACKAGE} ({GUEST_ARCH})")
    busybox_deb, busybox_version = _download_newest(apt_dir, GUEST_ARCH, debs, BUSYBOX_PACKAGE,
                                                    say)
    fetched.append(busybox_deb.name)
    busybox_root = _fresh(guest_dir / "busybox")
    _extract([busybox_deb], busybox_root)
    # /bin/busybox until the usr merge, /usr/bin/busybox after it (sid)
    busybox = next((p for p in (busybox_root / "bin" / "busybox",
                                busybox_root / "usr" / "bin" / "busybox") if p.is_file()), None)
    if busybox is None:
        raise AssetError(f"{busybox_deb.name} holds no /bin/busybox or /usr/bin/busybox")
    say("writing the initramfs")
    initrd = build_initramfs(busybox, guest_dir / "initrd.gz")
    guest = GuestAssets(
        suite=suite.name, guest=guest_name(kernel_version), kernel_package=kernel_pkg,
        kernel_version=kernel_version, busybox_version=busybox_version, vmlinux=vmlinux,
        busybox=busybox, initrd=initrd, notes=tuple(notes),
    )  # fmt: skip
    _write_manifest(cache_dir / suite.name / GUEST_MANIFEST, guest.to_json())
    return guest, fetched


# --- the entry points -----------------------------------------------------------------------


def ensure_assets(
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    *,
    release: str | None = None,
    guest: str | None = None,
    extract: bool = False,
) -> Assets:
    """Set up (fetch what is missing) one release's QEMU and a guest; what ``verify setup``
    does. Never installs into the host.

    ``release`` is a suite or QEMU release (default: the host's suite); ``guest`` a
    ``linux-X.Y`` name (default: the release's own suite's kernel). When the release's own
    kernel cannot be had (bullseye's ppc64el index is unreliable), the host suite's guest is
    used and the note says so.

    :raises AssetError: a download failed (``registry`` set when the mirror was the cause).
    :raises EnvironmentProblem: a program or the cache folder is missing or unusable.
    """
    say = progress or _quiet
    cache = check_cache_dir(cache_dir or default_cache_dir(), create=True)
    suite = parse_suite(release or HOST_SUITE)
    qemu, fetched = setup_qemu(cache, suite, say, extract=extract)
    guest_suite = suite_for_guest(guest) if guest else suite
    notes: list[str] = []
    try:
        got, more = setup_guest(cache, guest_suite, say)
    except AssetError as err:
        if guest or not err.registry or guest_suite.name == HOST_SUITE:
            raise
        host = parse_suite(HOST_SUITE)
        notes.append(f"{guest_suite.name}'s guest kernel could not be had ({err}); "
                     f"using {host.name}'s")
        say(notes[-1])
        got, more = setup_guest(cache, host, say)
    if guest and got.guest != guest:
        raise AssetError(f"{guest_suite.name} now gives {got.guest}, not {guest}")
    assets = combine(qemu, got, [*fetched, *more])
    return replace(assets, notes=(*assets.notes, *notes)) if notes else assets


def setup_hint(suite: Suite) -> str:
    return f"run: powercompat verify setup --release {suite.name}"


def load_assets(
    cache_dir: Path | None = None,
    *,
    release: str | None = None,
    guest: str | None = None,
    qemu_binary: Path | None = None,
) -> Assets:
    """What ``verify run`` uses: assets already set up. Never downloads, never installs.

    :raises AssetError: what is asked for is not set up; the message names the ``setup``
        command to run.
    :raises EnvironmentProblem: the cache or the given QEMU binary is unusable.
    """
    cache = check_cache_dir(cache_dir or default_cache_dir(), create=False)
    qemu, suite = find_qemu(cache, release=release, qemu_binary=qemu_binary)
    return combine(qemu, _load_guest_for(cache, suite, guest))


def find_qemu(
    cache: Path, *, release: str | None = None, qemu_binary: Path | None = None
) -> tuple[QemuAssets, Suite]:
    """A QEMU that is already there: one's own binary, or a set-up release (the host's own
    binary for bookworm). Never downloads.

    :return: the QEMU and the suite whose guest goes with it by default.
    :raises AssetError: the release is not set up (the message names the ``setup`` to run).
    :raises EnvironmentProblem: the binary cannot tell its version.
    """
    if qemu_binary is not None:
        binary = QemuBinary(qemu_binary.expanduser().absolute())
        version = query_version(binary)
        own = next((s for s in SUITES if s.qemu_release == version.release), None)
        return QemuAssets("", "given", binary, version), own or parse_suite(HOST_SUITE)
    suite = parse_suite(release or HOST_SUITE)
    found = load_qemu(cache, suite) if cache.is_dir() else None
    found = found or _installed_qemu(suite)
    if found is None:
        raise AssetError(f"QEMU {suite.qemu_release} ({suite.name}) is not set up in "
                         f"{cache}; {setup_hint(suite)}")
    return found, suite


def _load_guest_for(cache: Path, suite: Suite, guest: str | None) -> GuestAssets:
    """The named guest wherever it was set up, else the suite's own, else the host suite's."""
    set_up = [g for s in SUITES if cache.is_dir() and (g := load_guest(cache, s)) is not None]
    if guest is not None:
        for g in set_up:
            if g.guest == guest:
                return g
        wanted = suite_for_guest(guest)
        raise AssetError(f"guest {guest} is not set up in {cache}; {setup_hint(wanted)}")
    for name in (suite.name, HOST_SUITE):
        for g in set_up:
            if g.suite == name:
                return g
    raise AssetError(f"no guest kernel is set up in {cache}; {setup_hint(suite)}")


def installed_suites(cache_dir: Path) -> dict[str, dict[str, str]]:
    """What the cache holds per suite (for ``verify setup --list`` and reports)."""
    out: dict[str, dict[str, str]] = {}
    for suite in SUITES:
        entry = {}
        q = cache_dir / suite.name / QEMU_MANIFEST
        g = load_guest(cache_dir, suite)
        if q.is_file():
            entry["qemu"] = json.loads(q.read_text()).get("version", {}).get("line", "?")
        if g is not None:
            entry["guest"] = f"{g.guest} ({g.kernel_package} {g.kernel_version})"
        if entry:
            out[suite.name] = entry
    return out


__all__ = [
    "Assets",
    "GuestAssets",
    "QemuAssets",
    "combine",
    "default_cache_dir",
    "ensure_assets",
    "find_qemu",
    "load_assets",
    "setup_guest",
    "setup_qemu",
    "suite_by_name",
]
