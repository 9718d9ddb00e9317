"""Get QEMU and a ppc64le Linux guest (kernel + busybox initramfs) ready to boot.

Why a private apt state: ``dpkg --add-architecture ppc64el`` on the host can leave every later
``apt-get update`` failing while a ppc64el index is mid-sync (oracle.md, "Packages that
worked"). Guest packages are therefore downloaded with their own lists, cache, status and
sources under the cache directory, and unpacked with ``dpkg-deb -x``; nothing is installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from powercompat.verify.errors import AssetError
from powercompat.verify.initramfs import build_initramfs

QEMU_BINARY = "qemu-system-ppc64"
HOST_PACKAGES = ("qemu-system-ppc", "qemu-system-data")
KERNEL_META = "linux-image-powerpc64le"
BUSYBOX_PACKAGE = "busybox-static"
GUEST_ARCH = "ppc64el"
MANIFEST = "assets.json"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Assets:
    """Everything a boot needs, with the versions that go into every recorded observation."""

    qemu: str
    qemu_version: str
    kernel_package: str
    kernel_version: str
    busybox_version: str
    vmlinux: Path
    initrd: Path
    fetched: tuple[str, ...] = ()

    @property
    def busybox(self) -> Path:
        """The unpacked static busybox, for initramfs variants (it lies beside initrd.gz)."""
        return self.initrd.parent / "root" / "busybox" / "bin" / "busybox"

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["vmlinux"], d["initrd"] = str(self.vmlinux), str(self.initrd)
        d["fetched"] = list(self.fetched)
        return d


def default_cache_dir() -> Path:
    """``$POWERCOMPAT_CACHE`` or ``~/.cache/powercompat``."""
    env = os.environ.get("POWERCOMPAT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "powercompat"


def _run(argv: Sequence[str], *, cwd: Path | None = None, registry: bool = False) -> str:
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise AssetError(
            f"{' '.join(argv[:3])}... exited {proc.returncode}: {' | '.join(tail)}",
            registry=registry,
        )
    return proc.stdout


def qemu_version(qemu: str = QEMU_BINARY) -> str:
    """First line of ``qemu-system-ppc64 --version`` (``QEMU emulator version 7.2.22 (...)``)."""
    return _run([qemu, "--version"]).splitlines()[0].strip()


def ensure_qemu(progress: Progress) -> tuple[str, bool]:
    """Install Debian's QEMU if missing; return its path and whether it was installed now."""
    found = shutil.which(QEMU_BINARY)
    if found:
        return found, False
    install = ["apt-get", "install", "-y", "--no-install-recommends", *HOST_PACKAGES]
    progress(f"installing {' '.join(HOST_PACKAGES)}")
    try:
        _run(install, registry=True)
    except AssetError:
        # Empty or stale package lists are the usual cause on a fresh container.
        progress("apt-get install failed; running apt-get update first")
        _run(["apt-get", "update"], registry=True)
        _run(install, registry=True)
    found = shutil.which(QEMU_BINARY)
    if not found:
        raise AssetError(f"{QEMU_BINARY} still missing after installing {HOST_PACKAGES}")
    return found, True


# --- private ppc64el apt state -------------------------------------------------------------


def _debian_sources(etc: Path = Path("/etc/apt")) -> str:
    """The host's Debian sources as one deb822 text, restricted to ``ppc64el``.

    Only stanzas pointing at a ``debian.org`` mirror are kept: other repositories (cloud SDKs,
    nodesource) do not carry ppc64el and are not reachable here.
    """
    stanzas: list[str] = []
    files = sorted((etc / "sources.list.d").glob("*.sources"))
    for f in files:
        for stanza in re.split(r"\n\s*\n", f.read_text()):
            lines = [ln for ln in stanza.splitlines() if ln.strip() and not ln.startswith("#")]
            if not any(ln.startswith("URIs:") and "debian.org" in ln for ln in lines):
                continue
            lines = [ln for ln in lines if not ln.startswith("Architectures:")]
            stanzas.append("\n".join([*lines, f"Architectures: {GUEST_ARCH}"]))
    one_line = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for f in one_line:
        if not f.exists():
            continue
        for ln in f.read_text().splitlines():
            m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", ln.strip())
            if m and "debian.org" in m.group(1):
                uri, suite, comps = m.groups()
                stanzas.append(
                    f"Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: {comps}\n"
                    f"Architectures: {GUEST_ARCH}"
                )
    if not stanzas:
        raise AssetError("no Debian sources found under /etc/apt to fetch ppc64el packages")
    return "\n\n".join(stanzas) + "\n"


def _apt_options(apt_dir: Path) -> list[str]:
    """``-o`` options that give apt a private ppc64el world under ``apt_dir``."""
    return [
        "-o", f"APT::Architecture={GUEST_ARCH}",
        "-o", f"APT::Architectures={GUEST_ARCH}",
        "-o", f"Dir::State::Lists={apt_dir / 'lists'}",
        "-o", f"Dir::State::Status={apt_dir / 'status'}",
        "-o", f"Dir::Cache={apt_dir / 'cache'}",
        "-o", f"Dir::Etc::SourceList={apt_dir / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={apt_dir / 'sources.list.d'}",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip


def _prepare_apt(apt_dir: Path) -> None:
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text("")
    (apt_dir / "sources.list.d" / "debian.sources").write_text(_debian_sources())
    status = apt_dir / "status"
    if not status.exists():
        status.write_text("")


def _update_lists(apt_dir: Path) -> list[str]:
    """``apt-get update`` in the private state; tolerate indexes that fail to download.

    A Debian mirror can serve one suite's index mid-sync ("File has unexpected size ... Mirror
    sync in progress?", seen here on bookworm-security ppc64el). The kernel and busybox are also
    in the main suite, so a partial update is enough; it is reported, not hidden.

    :return: the ``E:`` lines of a partial update (empty when it fully succeeded).
    """
    argv = ["apt-get", *_apt_options(apt_dir), "update"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return []
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("E:")]
    if not any((apt_dir / "lists").glob("*_binary-ppc64el_Packages*")):
        raise AssetError(f"apt-get update (ppc64el) failed: {' | '.join(errors)}", registry=True)
    return errors


def resolve_kernel_package(apt_dir: Path) -> str:
    """Turn the meta package into the real ``linux-image-6.1.0-NN-powerpc64le`` name."""
    out = _run(["apt-cache", *_apt_options(apt_dir), "depends", KERNEL_META])
    for ln in out.splitlines():
        m = re.match(r"^\s*Depends:\s*(linux-image-\S+-powerpc64le)\s*$", ln)
        if m and m.group(1) != KERNEL_META:
            return m.group(1)
    raise AssetError(f"cannot resolve {KERNEL_META} in the ppc64el lists: {out.strip()!r}")


def _download(apt_dir: Path, debs: Path, package: str) -> Path:
    debs.mkdir(parents=True, exist_ok=True)
    before = set(debs.glob(f"{package}_*.deb"))
    if before:
        return sorted(before)[-1]
    _run(["apt-get", *_apt_options(apt_dir), "download", package], cwd=debs, registry=True)
    got = sorted(debs.glob(f"{package}_*.deb"))
    if not got:
        raise AssetError(f"apt-get download {package} produced no .deb", registry=True)
    return got[-1]


def _deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field]).strip()


def _unpack(deb: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(dest)])


# --- the entry point ------------------------------------------------------------------------


def _load_manifest(cache_dir: Path, qemu: str) -> Assets | None:
    path = cache_dir / MANIFEST
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    vmlinux, initrd = Path(d["vmlinux"]), Path(d["initrd"])
    if not (vmlinux.is_file() and initrd.is_file()):
        return None
    return Assets(
        qemu=qemu,
        qemu_version=qemu_version(qemu),
        kernel_package=d["kernel_package"],
        kernel_version=d["kernel_version"],
        busybox_version=d["busybox_version"],
        vmlinux=vmlinux,
        initrd=initrd,
    )


def ensure_assets(cache_dir: Path | None = None, progress: Progress | None = None) -> Assets:
    """Make sure QEMU, the guest vmlinux and the initramfs exist; fetch only what is missing.

    Idempotent: when the cache already holds the unpacked vmlinux and the initramfs (recorded in
    ``assets.json``), nothing is downloaded.

    :raises AssetError: when a package cannot be installed or downloaded (``registry`` set when
        Debian's mirror was the cause).
    """
    say: Progress = progress or (lambda _msg: None)
    cache_dir = (cache_dir or default_cache_dir()).expanduser().resolve()
    qemu, installed = ensure_qemu(say)
    fetched = [*HOST_PACKAGES] if installed else []
    cached = _load_manifest(cache_dir, qemu)
    if cached is not None:
        say(f"guest assets already in {cache_dir}")
        return dataclasses.replace(cached, fetched=tuple(fetched))

    apt_dir, debs = cache_dir / "apt", cache_dir / "debs"
    _prepare_apt(apt_dir)
    say("updating the private ppc64el package lists")
    warnings = _update_lists(apt_dir)
    for w in warnings:
        say(f"apt-get update (ppc64el): {w}")
    kernel_pkg = resolve_kernel_package(apt_dir)
    packages = (kernel_pkg, BUSYBOX_PACKAGE)
    for pkg in packages:
        say(f"downloading {pkg} ({GUEST_ARCH})")
    kernel_deb = _download(apt_dir, debs, kernel_pkg)
    busybox_deb = _download(apt_dir, debs, BUSYBOX_PACKAGE)
    fetched += [kernel_deb.name, busybox_deb.name]

    say("unpacking")
    _unpack(kernel_deb, cache_dir / "root" / "kernel")
    _unpack(busybox_deb, cache_dir / "root" / "busybox")
    vmlinuxes = sorted((cache_dir / "root" / "kernel" / "boot").glob("vmlinux-*"))
    if not vmlinuxes:
        raise AssetError(f"{kernel_deb.name} holds no /boot/vmlinux-*")
    busybox = cache_dir / "root" / "busybox" / "bin" / "busybox"
    if not busybox.is_file():
        raise AssetError(f"{busybox_deb.name} holds no /bin/busybox")
    say("writing the initramfs")
    initrd = build_initramfs(busybox, cache_dir / "initrd.gz")

    assets = Assets(
        qemu=qemu,
        qemu_version=qemu_version(qemu),
        kernel_package=kernel_pkg,
        kernel_version=_deb_field(kernel_deb, "Version"),
        busybox_version=_deb_field(busybox_deb, "Version"),
        vmlinux=vmlinuxes[-1],
        initrd=initrd,
        fetched=tuple(fetched),
    )
    manifest = {k: v for k, v in assets.to_json().items() if k not in ("qemu", "fetched")}
    (cache_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return assets
