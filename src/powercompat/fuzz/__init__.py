"""Fuzz entry points (atheris/libFuzzer) for the untrusted-input readers: the guest's CAS
buffer and the incoming migration stream, with a seed corpus and a plain replay mode."""

from powercompat.fuzz.runner import ReplayReport, main, replay
from powercompat.fuzz.targets import TARGETS, cas_target, migration_target

__all__ = ["TARGETS", "ReplayReport", "cas_target", "main", "migration_target", "replay"]
