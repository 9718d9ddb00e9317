"""libvirt's ppc64 compat-mode facts.

Source: libvirt src/cpu/cpu_ppc64.c ppc64CheckCompatibilityMode() (~2023+: 6..10; the 2017
version accepted 6..8), virCPUppc64Compare() messages, and src/qemu's command line for
``<cpu mode='host-model'><model>powerN</model></cpu>``: ``-machine pseries,max-cpu-compat=
powerN -cpu host`` (tests/qemuxmlconfdata/pseries-cpu-compat*.args). Whether current libvirt
accepts power11 is not verified; the newest source read says 6..10.
"""

from __future__ import annotations

from typing import Final

#: inclusive range of N in "POWERN" (host) and "powerN" (compat) that libvirt accepts
LIBVIRT_COMPAT_RANGE: Final = (6, 10)
LIBVIRT_COMPAT_RANGE_2017: Final = (6, 8)

HOST_NO_COMPAT: Final = "Host CPU does not support compatibility modes"
UNKNOWN_COMPAT: Final = "Unknown compatibility mode {}"
CPU_INCOMPATIBLE: Final = "the CPU is incompatible with host CPU"
