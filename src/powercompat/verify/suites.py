"""The Debian suites whose QEMU and guest kernels the harness runs (releases.md).

Why a table: a release is data, not a code path (issue #9). Each suite names the QEMU release
it ships and the extra indexes beside it; the guest it gives is named after the kernel that was
actually fetched (``linux-6.12``), never after the suite, since a suite's kernel moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from powercompat.errors import InvalidValueError


@dataclass(frozen=True, slots=True)
class Suite:
    """One Debian suite as the harness uses it."""

    name: str
    qemu_release: str  # the QEMU release its qemu-system-ppc ships (major.minor)
    guest: str  # the guest its ppc64el kernel gave when this table was written
    updates: bool = True  # has NAME-updates and NAME-security indexes
    firmware: str = "vof"  # default firmware for its QEMU (VOF arrived in QEMU 6.1)
    #: the release a backports suite sits on: its indexes are listed too, the backports
    #: pinned above them (a backport's dependencies come from the base release)
    base: str | None = None

    @property
    def release(self) -> str:
        """The Debian release whose main, -updates and -security indexes are listed."""
        return self.base or self.name

    @property
    def extra_suites(self) -> tuple[str, ...]:
        """The suites listed next to the release itself: its -updates (none for sid and
        forky), and the backports suite itself."""
        updates = (f"{self.release}-updates",) if self.updates else ()
        return (*updates, self.name) if self.base else updates

    @property
    def security_suite(self) -> str | None:
        return f"{self.release}-security" if self.updates else None


SUITES: Final[tuple[Suite, ...]] = (
    Suite("bullseye", "5.2", "linux-5.10", firmware="slof"),
    Suite("bookworm", "7.2", "linux-6.1"),
    Suite("trixie", "10.0", "linux-6.12"),
    Suite("sid", "11.1", "linux-7.2", updates=False),
    # the other QEMU builds Debian ships (seen 2026-11-30): bookworm-backports has 10.0.2
    # (trixie: 10.0.13) with a 6.12 backported kernel, forky (testing) 11.1.2 (sid: 11.1.3).
    # A release number names the first suite above that ships it.
    Suite("bookworm-backports", "10.0", "linux-6.12", base="bookworm"),
    Suite("forky", "11.1", "linux-7.2", updates=False),
)
#: the host's own suite: its installed QEMU may be used when its version matches
HOST_SUITE: Final = "bookworm"
#: the guest used for a release whose own suite's kernel cannot be fetched
FALLBACK_GUEST: Final = "linux-6.1"

_GUEST = re.compile(r"^(\d+)\.(\d+)")


def suite_by_name(name: str) -> Suite | None:
    for suite in SUITES:
        if suite.name == name:
            return suite
    return None


def parse_suite(text: str) -> Suite:
    """A suite name (``trixie``) or the QEMU release it ships (``10.0``).

    :raises InvalidValueError: neither.
    """
    for suite in SUITES:
        if text in (suite.name, suite.qemu_release):
            return suite
    names = ", ".join(f"{s.name} ({s.qemu_release})" for s in SUITES)
    raise InvalidValueError(f"unknown release '{text}'; known: {names}")


def names_release(suite: Suite) -> bool:
    """Is ``suite`` the one its QEMU release number names (the first that ships it)? Another
    build of that release (bookworm-backports' 10.0.2) goes by its exact version instead."""
    return parse_suite(suite.qemu_release).name == suite.name


def build_label(release: str, suite: str | None, version: str) -> str:
    """How recordings name a QEMU build: ``release`` when ``suite`` (None: not recorded) is
    the one the release names, else the build's exact ``version`` (``10.0.2``)."""
    return release if suite is None or names_release(parse_suite(suite)) else version


def suite_for_guest(guest: str) -> Suite:
    """The suite whose kernel is the guest ``linux-X.Y`` (by this table).

    :raises InvalidValueError: no suite gives that guest.
    """
    for suite in SUITES:
        if suite.guest == guest:
            return suite
    names = ", ".join(s.guest for s in SUITES)
    raise InvalidValueError(f"unknown guest '{guest}'; known: {names}")


def guest_name(kernel_version: str) -> str:
    """``linux-X.Y`` for a Debian kernel package version (``6.12.57-1`` -> ``linux-6.12``).

    :raises InvalidValueError: the version does not start with X.Y.
    """
    m = _GUEST.match(kernel_version)
    if m is None:
        raise InvalidValueError(f"not a kernel version: '{kernel_version}'")
    return f"linux-{int(m.group(1))}.{int(m.group(2))}"
