"""KVM PR in the nested harness (issue #14): the rebuilt L1 kernel and what goes with it.

Why a separate L1: Debian builds no KVM PR (kvm-nested.md), so L1 runs the kernel that
``powercompat verify pr-kernel`` built (verify/prkernel.py) with ``kvm.ko`` + ``kvm-pr.ko``,
in a hash-MMU pseries L1 (``Host`` ``pseries-power8``), and L2 QEMU is started with
``kvm-type=PR`` (and SLOF, FWNMI off: matrix.PR_CAPS).
"""

from __future__ import annotations

from pathlib import Path

from powercompat.verify.errors import AssetError
from powercompat.verify.kvm.assets import L1Kernel
from powercompat.verify.kvm.guest import kprobes_for
from powercompat.verify.prkernel import load_manifest

HOST = "pseries-power8"
KERNEL_LABEL = "6.1-pr"
KVM_TYPE = "PR"
FLAVOUR = "pr"
#: the module is kvm-pr.ko; kprobes name modules with '_' (kernel/module: '-' becomes '_')
KPROBES = kprobes_for("kvm_pr", FLAVOUR)
#: insmod order: kvm-pr needs kvm's symbols (kvmppc_pr_ops is exported by kvm.ko)
MODULES = ("kvm.ko", "kvm-pr.ko")
PAGE_SIZE = 65536  # the build keeps Debian's CONFIG_PPC_64K_PAGES (prkernel.REQUIRED)


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
    return L1Kernel(KERNEL_LABEL, f"{manifest.source_package} (rebuilt with KVM PR)",
                    manifest.source_version, manifest.kernel_release, out / "vmlinux",
                    modules, PAGE_SIZE)
