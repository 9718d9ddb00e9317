"""Run many random lifecycles and summarise: throughput and invariant violations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from powercompat.stress.generator import LifecycleResult, lifecycle_seed, run_lifecycle


@dataclass
class StressReport:
    """What ``powercompat stress`` prints; ``failures`` keeps the first few reproducers."""

    lifecycles: int = 0
    steps: int = 0
    violations: int = 0
    seconds: float = 0.0
    failures: list[LifecycleResult] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "lifecycles": self.lifecycles,
            "steps": self.steps,
            "violations": self.violations,
            "seconds": round(self.seconds, 3),
            "lifecycles_per_second": round(self.rate, 1),
            "failures": [
                {"seed": f.seed, "options": repr(f.options), "events": f.events,
                 "violations": f.violations[:5]}
                for f in self.failures
            ],
        }


def run_stress(lifecycles: int, seed: int, profile: str | None = None,
               accel: str | None = None, keep: int = 5,
               progress: Callable[[int], None] | None = None) -> StressReport:
    """Run ``lifecycles`` lifecycles seeded from ``seed`` (inputs already validated)."""
    report = StressReport()
    start = time.perf_counter()
    for index in range(lifecycles):
        result = run_lifecycle(lifecycle_seed(seed, index), profile, accel)
        report.lifecycles += 1
        report.steps += result.steps
        if result.violations:
            report.violations += len(result.violations)
            if len(report.failures) < keep:
                report.failures.append(result)
        if progress is not None and (index + 1) % 10000 == 0:
            progress(index + 1)
    report.seconds = time.perf_counter() - start
    return report
