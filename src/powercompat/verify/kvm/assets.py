"""Everything the nested-KVM harness boots, fetched from Debian without installing anything.

What: per L1 kernel (bookworm 6.1, trixie 6.12, sid 7.2) the vmlinux and its ``kvm.ko`` and
``kvm-hv.ko``; the ppc64el ``qemu-system-ppc64`` of bookworm (7.2), trixie (10.0) and sid
(11.1) with the libraries their ELF ``DT_NEEDED`` entries reach (closure.py); busybox-static;
an L2 kernel;
and the amd64 QEMU of trixie as the L0 for Power11 (the host's 7.2 has no Power11).
Why each suite in its own folder run through its own loader: releases.md. A library deb the
mirror cannot serve is taken from a newer suite that has the same soname (newer glibc and
libraries run older binaries); each borrowing is recorded.
"""

from __future__ import annotations

import json
import lzma
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from powercompat.verify.errors import AssetError
from powercompat.verify.kvm.apt import AptState
from powercompat.verify.kvm.closure import LOADERS, find_lib, library_closure, needed, unpack

Progress = Callable[[str], None]

#: L1 QEMU releases: label -> Debian suite (ppc64el)
L1_QEMU_SUITES: dict[str, str] = {"7.2": "bookworm", "10.0": "trixie", "11.1": "sid"}
#: L1 kernels: label -> (suite, exact package or the meta package to resolve)
L1_KERNELS: dict[str, tuple[str, str]] = {
    "6.1": ("bookworm", "linux-image-powerpc64le"),
    # trixie's index lists 6.12.117 whose .deb the mirror did not serve (releases.md)
    "6.12": ("trixie", "linux-image-6.12.107+deb13-powerpc64le"),
    # sid's split packaging (linux-binary/-modules/-base); 7.2.13-1 when recorded
    "7.2": ("sid", "linux-image-powerpc64le"),
}
L2_KERNEL = "6.12"
#: where a library missing from a suite's closure may come from, in order
FALLBACK_SUITES = ("sid",)
#: L0 QEMU (amd64) for host CPUs the host's own QEMU lacks
L0_SUITES: dict[str, str] = {"10.0": "trixie"}
MANIFEST = "kvm-assets.json"


@dataclass(frozen=True, slots=True)
class L1Kernel:
    label: str
    package: str
    version: str
    release: str  # uname -r
    vmlinux: Path
    modules: tuple[Path, ...]  # decompressed, in insmod order
    page_size: int  # 4096 or 65536 (CONFIG_PPC_64K_PAGES)


@dataclass(frozen=True, slots=True)
class L1Qemu:
    label: str
    suite: str
    package_version: str
    folder: Path  # bin/qemu-system-ppc64, lib/*.so* (ld64.so.2 among them), share/*.bin
    borrowed: tuple[str, ...]  # "libc.so.6 from sid" etc.


@dataclass(frozen=True, slots=True)
class L0Qemu:
    label: str
    version: str
    argv0: tuple[str, ...]  # the command prefix that runs it (loader + binary, or binary)
    datadir: Path | None


@dataclass(frozen=True, slots=True)
class KvmAssets:
    cache: Path
    kernels: dict[str, L1Kernel]
    qemus: dict[str, L1Qemu]
    l0: dict[str, L0Qemu]
    busybox: Path
    busybox_version: str
    l2_kernel: str  # label of the L1 kernel whose vmlinux boots L2
    fetched: tuple[str, ...] = field(default_factory=tuple)

    def versions(self) -> dict[str, object]:
        return {
            "l1_kernels": {k: {"package": v.package, "version": v.version,
                               "release": v.release, "page_size": v.page_size}
                           for k, v in self.kernels.items()},
            "l1_qemus": {k: {"suite": v.suite, "package_version": v.package_version,
                             "borrowed": list(v.borrowed)} for k, v in self.qemus.items()},
            "l0_qemus": {k: v.version for k, v in self.l0.items()},
            "l2_kernel": {"label": self.l2_kernel,
                          "version": self.kernels[self.l2_kernel].version},
            "busybox": self.busybox_version,
        }


def _state(cache: Path, suite: str, arch: str, say: Progress) -> AptState:
    st = AptState(cache / "apt" / f"{suite}-{arch}", suite, arch)
    if not st.ready():
        say(f"apt-get update {suite}/{arch}")
        for problem in st.update():
            say(f"  {problem}")
    else:
        st.prepare()
    return st


def _deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                          text=True, timeout=60, check=True).stdout.strip()


#: sid splits a kernel (releases.md): ``linux-image-VER`` is an empty dependency package;
#: the image is ``/usr/lib/modules/VER/vmlinuz`` (an ELF vmlinux) in ``linux-binary-VER``,
#: the modules are in ``linux-modules-VER`` and the config in ``linux-base-VER``
_SPLIT_PARTS = ("linux-binary-", "linux-modules-", "linux-base-")


def _download(st: AptState, package: str, say: Progress) -> Path:
    archives = st.root / "cache" / "archives"
    debs = sorted(archives.glob(f"{package}_*.deb"))
    if not debs:
        say(f"downloading {package} ({st.suite})")
        st.run(["apt-get", "download", package], cwd=archives)
        debs = sorted(archives.glob(f"{package}_*.deb"))
        if not debs:
            raise AssetError(f"{package} could not be downloaded from {st.suite}",
                             registry=True)
    return debs[-1]


def _first(root: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        found = sorted(root.glob(pattern))
        if found:
            return found[-1]
    return None


#: where an unpacked kernel keeps its image and config: bookworm/trixie, then sid's split
_IMAGES = ("boot/vmlinux-*", "usr/lib/modules/*/vmlinuz")
_CONFIGS = ("boot/config-*", "usr/lib/modules/*/config")


def kernel_files(root: Path) -> tuple[Path, Path, str] | None:
    """(image, config, ``uname -r``) of an unpacked kernel in either packaging; None when
    ``root`` holds no image and config."""
    vmlinux, config = _first(root, _IMAGES), _first(root, _CONFIGS)
    if vmlinux is None or config is None:
        return None
    release = (vmlinux.name.removeprefix("vmlinux-") if vmlinux.name.startswith("vmlinux-")
               else vmlinux.parent.name)
    return vmlinux, config, release


def _kernel(cache: Path, label: str, say: Progress) -> L1Kernel:
    suite, package = L1_KERNELS[label]
    st = _state(cache, suite, "ppc64el", say)
    if package == "linux-image-powerpc64le":
        deps = [d for d in st.depends(package) if d.startswith("linux-image-")]
        if not deps:
            raise AssetError(f"cannot resolve {package} in {suite}")
        package = deps[0]
    image = _download(st, package, say)
    # the split packaging: the image package's own dependencies carry the files
    parts = [d for d in st.depends(package) if d.startswith(_SPLIT_PARTS)]
    debs = [image, *(_download(st, d, say) for d in parts)]
    root = cache / "kernels" / label
    if kernel_files(root) is None:
        say(f"unpacking {', '.join(d.name for d in debs)}")
        unpack(debs, root)
    files = kernel_files(root)
    if files is None:
        raise AssetError(f"{package} ({', '.join(d.name for d in debs)}) has no kernel "
                         "image or config")
    vmlinux, config, release = files
    page = 65536 if "CONFIG_PPC_64K_PAGES=y" in config.read_text() else 4096
    mods = []
    for name in ("kvm", "kvm-hv"):
        found = sorted(root.glob(f"**/kernel/arch/powerpc/kvm/{name}.ko*"))
        if not found:
            raise AssetError(f"{package} has no {name}.ko")
        src = found[0]
        dest = cache / "kernels" / f"{label}-{name}.ko"
        if not dest.exists():
            data = src.read_bytes()
            dest.write_bytes(lzma.decompress(data) if src.name.endswith(".xz") else data)
        mods.append(dest)
    return L1Kernel(label, package, _deb_version(image), release, vmlinux, tuple(mods), page)


def _unpacked_closure(cache: Path, suite: str, arch: str, packages: list[str],
                      say: Progress) -> tuple[Path, str, list[str]]:
    """Download and unpack a closure; return its root, the first package's version and the
    debs the mirror did not serve."""
    st = _state(cache, suite, arch, say)
    root = cache / "roots" / f"{suite}-{arch}"
    stamp = root / ".powercompat-closure.json"
    if stamp.exists():
        d = json.loads(stamp.read_text())
        return root, str(d["version"]), list(d["absent"])
    say(f"downloading the {' '.join(packages)} closure ({suite}/{arch})")
    debs, absent = st.fetch_closure(packages)
    say(f"unpacking {len(debs)} debs ({suite}/{arch})" +
        (f"; the mirror did not serve {', '.join(absent)}" if absent else ""))
    unpack(debs, root)
    first = [d for d in debs if d.name.startswith(packages[0] + "_")]
    version = _deb_version(first[0]) if first else "unknown"
    stamp.write_text(json.dumps({"version": version, "absent": absent}))
    return root, version, absent


def _l1_qemu(cache: Path, label: str, say: Progress) -> L1Qemu:
    suite = L1_QEMU_SUITES[label]
    folder = cache / "l1qemu" / label
    stamp = folder / "qemu.json"
    if stamp.exists():
        d = json.loads(stamp.read_text())
        return L1Qemu(label, suite, d["version"], folder, tuple(d["borrowed"]))
    root, version, _absent = _unpacked_closure(
        cache, suite, "ppc64el", ["qemu-system-ppc", "qemu-system-data"], say)
    binary = "usr/bin/qemu-system-ppc64"
    if not (root / binary).exists():
        raise AssetError(f"{suite} qemu-system-ppc has no {binary}")
    clo = library_closure(root, binary, "ppc64el")
    libs = {Path(p).name: root / p for p in clo.libraries}
    if clo.loader:
        libs[LOADERS["ppc64el"]] = root / clo.loader
    borrowed = []
    todo = list(clo.missing)
    while todo:
        name = todo.pop()
        if name in libs:
            continue
        for other in FALLBACK_SUITES:
            if other == suite:
                continue
            oroot, _v, _a = _unpacked_closure(
                cache, other, "ppc64el", ["qemu-system-ppc", "qemu-system-data"], say)
            lib = find_lib(oroot, name, "ppc64el")
            if lib is not None:
                libs[name] = lib
                borrowed.append(f"{name} from {other}")
                todo.extend(n for n in needed(lib.resolve()) if n not in libs)
                break
        else:
            raise AssetError(f"{suite} QEMU needs {name}, which no suite could supply")
    if folder.exists():
        shutil.rmtree(folder)
    for sub in ("bin", "lib", "share"):
        (folder / sub).mkdir(parents=True)
    shutil.copy2(root / binary, folder / "bin" / "qemu-system-ppc64")
    for name, path in libs.items():
        shutil.copyfile(path.resolve(), folder / "lib" / name)
    (folder / "lib" / LOADERS["ppc64el"]).chmod(0o755)
    for blob in ("vof.bin", "slof.bin"):
        src = root / "usr/share/qemu" / blob
        if src.exists():
            shutil.copyfile(src, folder / "share" / blob)
    stamp.write_text(json.dumps({"version": version, "borrowed": sorted(borrowed)}))
    return L1Qemu(label, suite, version, folder, tuple(sorted(borrowed)))


def _run_version(argv0: list[str]) -> str:
    proc = subprocess.run([*argv0, "--version"], capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        raise AssetError(f"{argv0[-1]} --version failed: {proc.stderr.strip()[-200:]}")
    return proc.stdout.splitlines()[0].strip()


def _l0(cache: Path, label: str, say: Progress) -> L0Qemu:
    if label == "7.2":
        host = shutil.which("qemu-system-ppc64")
        if host is None:
            raise AssetError("qemu-system-ppc64 (Debian's 7.2) is not installed; run "
                             "'powercompat verify setup' first")
        return L0Qemu(label, _run_version([host]), (host,), None)
    suite = L0_SUITES[label]
    root, _v, absent = _unpacked_closure(
        cache, suite, "amd64", ["qemu-system-ppc", "qemu-system-data"], say)
    clo = library_closure(root, "usr/bin/qemu-system-ppc64", "amd64")
    if clo.missing:
        raise AssetError(f"{suite} amd64 QEMU lacks {', '.join(clo.missing)} "
                         f"(not served: {', '.join(absent)})", registry=True)
    libpath = f"{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu"
    argv0 = [str(root / clo.loader), "--library-path", libpath,
             str(root / "usr/bin/qemu-system-ppc64")]
    return L0Qemu(label, _run_version(argv0), tuple(argv0), root / "usr/share/qemu")


def _busybox(cache: Path, say: Progress) -> tuple[Path, str]:
    st = _state(cache, "bookworm", "ppc64el", say)
    archives = st.root / "cache" / "archives"
    debs = sorted(archives.glob("busybox-static_*.deb"))
    if not debs:
        st.run(["apt-get", "download", "busybox-static"], cwd=archives)
        debs = sorted(archives.glob("busybox-static_*.deb"))
        if not debs:
            raise AssetError("busybox-static could not be downloaded", registry=True)
    root = cache / "busybox"
    if not (root / "bin" / "busybox").exists():
        unpack([debs[-1]], root)
    return root / "bin" / "busybox", _deb_version(debs[-1])


def ensure_kvm_assets(cache: Path, l0_labels: tuple[str, ...] = ("7.2", "10.0"),
                      progress: Progress | None = None,
                      kernel_labels: tuple[str, ...] | None = None) -> KvmAssets:
    """Fetch and prepare what is missing under ``cache``; idempotent. ``kernel_labels``:
    the L1 kernels a run needs (default: all); the L2 kernel's is always fetched.

    :raises AssetError: a package could not be fetched (``registry`` set for mirror trouble).
    """
    say: Progress = progress or (lambda _m: None)
    cache.mkdir(parents=True, exist_ok=True)
    wanted = set(L1_KERNELS if kernel_labels is None else kernel_labels) | {L2_KERNEL}
    kernels = {label: _kernel(cache, label, say) for label in L1_KERNELS if label in wanted}
    qemus = {label: _l1_qemu(cache, label, say) for label in L1_QEMU_SUITES}
    l0 = {label: _l0(cache, label, say) for label in l0_labels}
    busybox, bb_version = _busybox(cache, say)
    assets = KvmAssets(cache, kernels, qemus, l0, busybox, bb_version, L2_KERNEL)
    manifest = assets.versions()
    try:  # kernels fetched by an earlier run with other labels stay listed
        before = json.loads((cache / MANIFEST).read_text()).get("l1_kernels", {})
        manifest["l1_kernels"] = {**before, **manifest["l1_kernels"]}  # type: ignore[dict-item]
    except (OSError, ValueError, AttributeError):
        pass
    (cache / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return assets

