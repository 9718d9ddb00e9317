"""``powercompat stress``: random machine lifecycles checked against QEMU's model."""

from __future__ import annotations

import argparse
import json
from argparse import ArgumentParser, Namespace

from powercompat.accel.factory import ACCELS
from powercompat.cli.main import Command
from powercompat.errors import InvalidValueError
from powercompat.profiles import PROFILE_NAMES, parse_profile
from powercompat.stress.generator import MODEL_ACCELS
from powercompat.stress.runner import run_stress


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--lifecycles", "-n", default=1000, type=int, metavar="N",
                        help="Number of random machine lifecycles to run (default: "
                        "%(default)s).")
    parser.add_argument("--seed", "-s", default=0, type=int, metavar="S",
                        help="Seed; lifecycle i of seed S is reproducible on its own "
                        "(default: %(default)s).")
    parser.add_argument("--qemu", default=None, metavar="PROFILE",
                        help=f"Only this QEMU release profile: {', '.join(PROFILE_NAMES)} "
                        "(default: a random one per lifecycle).")
    # the option's name before it took --qemu like every other command (issue #11)
    parser.add_argument("--profile", dest="qemu", help=argparse.SUPPRESS)
    parser.add_argument("--accel", default=None, metavar="ACCEL",
                        help=f"Only this accelerator: {', '.join(MODEL_ACCELS)} (default: a "
                        "random one per lifecycle; 'kvm', the real one, is not modelled).")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the report as JSON.")


def run(args: Namespace) -> int:
    lifecycles, seed, profile, accel = args.lifecycles, args.seed, args.qemu, args.accel
    if lifecycles < 1:
        raise InvalidValueError(f"--lifecycles must be at least 1, got {lifecycles}")
    if profile is not None:
        parse_profile(profile)
    if accel is not None and accel not in ACCELS:  # the same words as every other command
        raise InvalidValueError(f"unknown accelerator '{accel}' (valid: {', '.join(ACCELS)})")
    if accel is not None and accel not in MODEL_ACCELS:
        raise InvalidValueError(
            f"stress runs the modelled accelerators only ({', '.join(MODEL_ACCELS)}): "
            f"'{accel}' needs a real ppc64 host")
    report = run_stress(lifecycles, seed, profile, accel)
    if args.as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"lifecycles: {report.lifecycles} ({report.steps} random events), "
              f"seed {seed}, QEMU profile {profile or 'random'}, accel {accel or 'random'}")
        print(f"time: {report.seconds:.1f} s, {report.rate:.0f} lifecycles/s")
        print(f"invariant violations: {report.violations}")
        for failure in report.failures:
            print(f"  lifecycle seed {failure.seed}: {failure.options}")
            print(f"    events: {', '.join(failure.events)}")
            for text in failure.violations[:5]:
                print(f"    {text}")
    return 1 if report.violations else 0


COMMAND = Command(
    "Random machine lifecycles checked against invariants.", configure=configure, run=run,
    description="Run random lifecycles (options, events, CAS buffers, migrations, injected "
    "ONE_REG faults) and check every step; exit 1 if any invariant is violated.")
