"""``powercompat verify pr-kernel``: build (or report) the KVM PR kernel for nested runs."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser, ArgumentTypeError, Namespace
from pathlib import Path

from powercompat.cli.main import Command
from powercompat.verify.prkernel import DEFAULT_PAGE_KIB, PAGE_SIZES_KIB


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"'{text}' is not an integer") from None
    if not 1 <= value <= 64:
        raise ArgumentTypeError(f"must be 1..64, got {value}")
    return value


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_KIB,
                        choices=PAGE_SIZES_KIB, metavar="KIB",
                        help="The kernel's base page in KiB: 64 (Debian's 6.1 config) or 4 "
                        "(as Debian's 6.12 and 7.2; local version -powercompat-pr4k). Each "
                        "needs its own --cache (default: %(default)s).")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="Where sources, the build tree and out/ live (default: "
                        "$POWERCOMPAT_CACHE/pr, or .../pr4k for --page-size 4; "
                        "~/.cache/powercompat when $POWERCOMPAT_CACHE is unset).")
    parser.add_argument("--jobs", "-j", type=_jobs, default=2, metavar="N",
                        help="make -jN, under nice -n 19 (default: %(default)s).")
    parser.add_argument("--image-package", default=None, metavar="PKG",
                        help="linux-image-6.1.0-NN-powerpc64le whose /boot/config is the base "
                        "(default: the one bookworm's linux-image-powerpc64le depends on).")
    parser.add_argument("--timeout", type=float, default=3 * 3600.0, metavar="S",
                        help="Seconds make may take (default: %(default)s).")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the manifest as JSON.")


def run(args: Namespace) -> int:
    """Build once, then answer from the cache (the manifest and the files' hashes)."""
    from powercompat.verify import prkernel, process
    from powercompat.verify.assets import default_cache_dir

    folder = "pr" if args.page_size == DEFAULT_PAGE_KIB else f"pr{args.page_size}k"
    cache = (args.cache or default_cache_dir() / folder).expanduser().resolve()
    with process.guard():  # SIGINT/SIGTERM/SIGHUP kill make and the compilers with it
        manifest = prkernel.build(
            cache, jobs=args.jobs, image_package=args.image_package, timeout=args.timeout,
            page_kib=args.page_size,
            say=None if args.as_json else (lambda m: print(f"pr-kernel: {m}", file=sys.stderr)))
    if args.as_json:
        print(json.dumps(manifest.to_json(), indent=2))
        return 0
    print(f"{manifest.kernel_release}: built in {manifest.build_seconds:.0f} s "
          f"({manifest.cpu_seconds:.0f} s CPU) with {' '.join(manifest.make_command)}")
    print(f"{manifest.page_size >> 10}K pages; kvm_vcpu.vcpu_id at +{manifest.vcpu_id_offset}; "
          f"output in {cache / 'out'}")
    return 0


COMMAND = Command(
    "Build the ppc64le kernel with KVM PR (by hand, cached; never in CI).",
    configure=configure, run=run,
    description="Build Debian bookworm's linux-source-6.1 with CONFIG_KVM_BOOK3S_64_PR=m and "
    "Debian's cross compiler, from Debian's own ppc64el config with only what PR needs "
    "changed and big unused subsystems trimmed (issue #14). The output (vmlinux, kvm.ko, "
    "kvm-hv.ko, kvm-pr.ko, config, manifest.json with versions and the build time) is cached; "
    "a second run only checks the hashes.\n\nNeeds gcc-powerpc64le-linux-gnu and "
    "binutils-powerpc64le-linux-gnu installed; flex, bison and m4 are unpacked into the "
    "cache, not installed.")
