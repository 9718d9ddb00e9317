"""KVM PR in the nested harness (issue #14): the rebuilt L1 kernel and what goes with it.

Why a separate L1: Debian builds no KVM PR (kvm-nested.md), so L1 runs the kernel that
``powercompat verify pr-kernel`` built (verify/prkernel.py) with ``kvm.ko`` + ``kvm-pr.ko``,
in a hash-MMU pseries L1 (``Host`` ``pseries-power8``), and L2 QEMU is started with
``kvm-type=PR`` (and SLOF, FWNMI off: matrix.PR_CAPS). The L1 kernel's label and base page
come from the build (``6.1-pr``: Debian's 64K pages; ``6.1-pr4k``: ``--page-size 4``).
"""

from __future__ import annotations

from pathlib import Path

from powercompat.verify.errors import AssetError
from powercompat.verify.kvm.assets import L1Kernel
from powercompat.verify.kvm.guest import kprobes_for
from powercompat.verify.prkernel import config_page_size, load_manifest

HOST = "pseries-power8"
KVM_TYPE = "PR"
FLAVOUR = "pr"
#: the module is kvm-pr.ko; kprobes name modules with '_' (kernel/module: '-' becomes '_')
KPROBES = kprobes_for("kvm_pr", FLAVOUR)
#: insmod order: kvm-pr needs kvm's symbols (kvmppc_pr_ops is exported by kvm.ko)
MODULES = ("kvm.ko", "kvm-pr.ko")
#: what a build's release carries before its local version's own part (prkernel.PAGE_VARIANTS)
_LOCAL_PREFIX = "-powercompat-"


def kernel_label(release: str) -> str:
    """The L1 kernel's label from the build's ``uname -r``: upstream major.minor and what
    follows ``-powercompat-`` (``6.1.176-powercompat-pr4k`` -> ``6.1-pr4k``).

    :raises AssetError: a release this recipe does not name so.
    """
    version, sep, local = release.partition(_LOCAL_PREFIX)
    if not sep or not local or version.count(".") < 1:
        raise AssetError(f"PR kernel release '{release}' is not <version>{_LOCAL_PREFIX}<name>")
    return f"{'.'.join(version.split('.')[:2])}-{local}"


def pr_l1_kernel(pr_cache: Path) -> L1Kernel:
    """The cached PR build as an L1 kernel; its hashes are checked by ``load_manifest``.

    :raises AssetError: nothing (valid) is built there yet.
    """
    out = pr_cache / "out"
    manifest = load_manifest(out)
    if manifest is None:
        raise AssetError(f"no KVM PR kernel built in {pr_cache}: run 'powercompat verify "
                         f"pr-kernel --cache {pr_cache}' first")
    modules = tuple(out / "modules" / m for m in MODULES)
    # the base page from the built config (hash-checked above); the manifest says it too
    page_size = config_page_size((out / "config").read_text())
    if page_size != manifest.page_size:
        raise AssetError(f"{out}: the manifest says {manifest.page_size}-byte pages, the "
                         f"config {page_size}")
    return L1Kernel(kernel_label(manifest.kernel_release),
                    f"{manifest.source_package} (rebuilt with KVM PR)",
                    manifest.source_version, manifest.kernel_release, out / "vmlinux",
                    modules, page_size)
