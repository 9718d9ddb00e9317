"""A private apt world per Debian suite and architecture: lists, cache, empty status.

Why not the host's apt: ``dpkg --add-architecture`` can leave every later ``apt-get update``
failing while an index is mid-sync (oracle.md), and nothing may be installed on the host.
With an empty ``status`` file, ``apt-get -d install`` downloads a package's whole dependency
closure, which is what running another suite's QEMU through its own loader needs
(releases.md). Every command has a timeout.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from powercompat.verify.errors import AssetError

MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
#: apt-get update / download limits (seconds); a mirror can be slow, never endless.
UPDATE_TIMEOUT = 900.0
DOWNLOAD_TIMEOUT = 1800.0


def _suites(suite: str) -> list[tuple[str, str]]:
    """(URI, suite) pairs: the suite, its -updates and its security suite (sid has neither)."""
    if suite in ("sid", "unstable"):
        return [(MIRROR, suite)]
    return [(MIRROR, suite), (MIRROR, f"{suite}-updates"), (SECURITY, f"{suite}-security")]


@dataclass(frozen=True, slots=True)
class AptState:
    """``root`` holds lists/, cache/, status and sources.list for one (suite, arch)."""

    root: Path
    suite: str
    arch: str
    sources: bool = False  # add deb-src lines (for ``apt-get source``)

    def options(self) -> list[str]:
        r = self.root
        return [
            "-o", f"APT::Architecture={self.arch}",
            "-o", f"APT::Architectures={self.arch}",
            "-o", f"Dir::State={r}",
            "-o", f"Dir::State::Lists={r / 'lists'}",
            "-o", f"Dir::State::Status={r / 'status'}",
            "-o", f"Dir::Cache={r / 'cache'}",
            "-o", f"Dir::Etc::SourceList={r / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::Etc::Preferences=/dev/null",
            "-o", "Dir::Etc::PreferencesParts=/dev/null",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=root",
            "-o", "APT::Install-Recommends=0",
            "-o", "Acquire::Retries=3",
        ]  # fmt: skip

    def prepare(self) -> None:
        """Create the folders and ``sources.list``; keep an existing status (it stays empty)."""
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        lines = []
        for uri, suite in _suites(self.suite):
            lines.append(f"deb [signed-by={KEYRING}] {uri} {suite} main")
            if self.sources and uri == MIRROR and not suite.endswith("-updates"):
                lines.append(f"deb-src [signed-by={KEYRING}] {uri} {suite} main")
        (self.root / "sources.list").write_text("\n".join(lines) + "\n")
        status = self.root / "status"
        if not status.exists():
            status.write_text("")

    def run(self, args: list[str], *, cwd: Path | None = None,
            timeout: float = DOWNLOAD_TIMEOUT) -> subprocess.CompletedProcess[str]:
        argv = [args[0], *self.options(), *args[1:]]
        try:
            return subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise AssetError(f"{' '.join(args[:3])} ({self.suite}/{self.arch}) timed out "
                             f"after {timeout:.0f} s", registry=True) from err

    def update(self) -> list[str]:
        """``apt-get update``; a failed secondary index (security, updates) is tolerated.

        :return: the ``E:``/``W:`` lines of a partial update.
        :raises AssetError: when the suite's main index did not load.
        """
        self.prepare()
        proc = self.run(["apt-get", "update"], timeout=UPDATE_TIMEOUT)
        problems = [ln for ln in proc.stderr.splitlines() if ln.startswith(("E:", "W:"))]
        main = f"_dists_{self.suite}_main_binary-{self.arch}_Packages"
        if not any(main in p.name for p in (self.root / "lists").iterdir()):
            raise AssetError(f"apt-get update {self.suite}/{self.arch} failed: "
                             f"{' | '.join(problems[-3:])}", registry=True)
        return problems

    def ready(self) -> bool:
        main = f"_dists_{self.suite}_main_binary-{self.arch}_Packages"
        lists = self.root / "lists"
        return lists.is_dir() and any(main in p.name for p in lists.iterdir())

    def depends(self, package: str) -> list[str]:
        proc = self.run(["apt-cache", "depends", package], timeout=120)
        return re.findall(r"^\s*Depends:\s*(\S+)", proc.stdout, re.M)

    def fetch_closure(self, packages: list[str]) -> tuple[list[Path], list[str]]:
        """Download ``packages`` and everything they depend on (empty status: nothing is
        installed) into ``cache/archives``, skipping debs the mirror cannot serve (``-m``).

        :return: the .deb files of the closure that arrived, and the names that did not.
        :raises AssetError: apt could not resolve the closure at all.
        """
        want = self.closure(packages)
        if not want:
            raise AssetError(f"apt cannot resolve {' '.join(packages)} in {self.suite}/"
                             f"{self.arch}", registry=True)
        self.run(["apt-get", "-y", "-d", "-m", "install", *packages])
        archives = self.root / "cache" / "archives"
        debs, absent = [], []
        for name, version in sorted(want.items()):
            quoted = version.replace(":", "%3a")
            found = sorted(archives.glob(f"{name}_{quoted}_*.deb"))
            if found:
                debs.append(found[-1])
            else:
                absent.append(f"{name}={version}")
        return debs, absent

    def closure(self, packages: list[str]) -> dict[str, str]:
        """name -> version of what apt would install into an empty system for ``packages``."""
        proc = self.run(["apt-get", "-s", "-y", "install", *packages], timeout=300)
        return dict(re.findall(r"^Inst (\S+) \((\S+)", proc.stdout, re.M))
