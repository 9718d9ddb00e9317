"""Errors of the real-QEMU harness, under the library's one root.

::

    PowerCompatError
     +-- VerifyError                 the harness could not do its job
          +-- AssetError             QEMU or a guest package could not be installed/fetched
          +-- BootError              a guest could not be started or stopped
          +-- UnknownQemuError       the QEMU found has no engine profile (never guessed)
          +-- UnknownGuestError      the guest kernel has no engine guest (never guessed)
          +-- RecordError            a recorded results file is malformed
          +-- EnvironmentProblem     a program, path or permission of this machine is missing

``qemu.qmp`` errors are caught only at the harness edge and re-raised ``from`` the cause
(STYLE.md section 3).
"""

from __future__ import annotations

from powercompat.errors import PowerCompatError


class VerifyError(PowerCompatError):
    """The harness could not boot, fetch or compare; the engine is not at fault."""


class AssetError(VerifyError):
    """QEMU or a guest package is unavailable.

    ``registry`` is true when the cause is a failed Debian download (network, mirror), the only
    case in which live tests may be skipped instead of failed.
    """

    def __init__(self, message: str, *, registry: bool = False) -> None:
        super().__init__(message)
        self.registry = registry


class BootError(VerifyError):
    """QEMU could not be launched, or a guest could not be stopped."""


class UnknownQemuError(VerifyError):
    """The QEMU version has no engine profile; comparing against a guess would prove nothing."""

    def __init__(self, version: str) -> None:
        super().__init__(f"no engine profile for QEMU {version!r}")
        self.version = version


class UnknownGuestError(VerifyError):
    """The guest kernel has no engine guest profile; comparing against a guess proves nothing."""

    def __init__(self, kernel_version: str, guest: str) -> None:
        named = f" ({guest})" if guest else ""
        super().__init__(f"no engine guest profile for kernel {kernel_version!r}{named}")
        self.kernel_version = kernel_version
        self.guest = guest


class RecordError(VerifyError):
    """A recorded results file cannot be read: its name and what is wrong, in one line."""


class EnvironmentProblem(VerifyError):
    """This machine lacks what the harness needs: a program, a writable path, a QEMU that
    answers ``--version``. Not a bug in powercompat and not a verdict on the engine."""
