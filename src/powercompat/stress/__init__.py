"""Random machine lifecycles checked against an independent model of QEMU's behaviour.

``run_stress`` drives ``powercompat stress``; ``Harness`` and the invariant checks are shared
with the stateful property tests.
"""

from powercompat.stress.generator import run_lifecycle
from powercompat.stress.harness import Harness, Pair
from powercompat.stress.runner import StressReport, run_stress

__all__ = ["Harness", "Pair", "StressReport", "run_lifecycle", "run_stress"]
