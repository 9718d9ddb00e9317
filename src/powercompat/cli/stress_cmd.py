"""``powercompat stress``: random machine lifecycles checked against QEMU's model."""

from __future__ import annotations

import json
from argparse import ArgumentParser, Namespace

from powercompat.cli.main import Command
from powercompat.errors import InvalidValueError
from powercompat.profiles import parse_profile
from powercompat.stress.generator import MODEL_ACCELS
from powercompat.stress.runner import run_stress


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--lifecycles", "-n", default=1000, type=int, metavar="N",
                        help="Number of random machine lifecycles to run (default: "
                        "%(default)s).")
    parser.add_argument("--seed", "-s", default=0, type=int, metavar="S",
                        help="Seed; lifecycle i of seed S is reproducible on its own "
                        "(default: %(default)s).")
    parser.add_argument("--profile", default=None, metavar="PROFILE",
                        help="Only this QEMU profile (default: a random one per lifecycle).")
    parser.add_argument("--accel", default=None, metavar="ACCEL",
                        help=f"Only this accelerator ({', '.join(MODEL_ACCELS)}; default: "
                        "random).")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Print the report as JSON.")


def run(args: Namespace) -> int:
    lifecycles, seed, profile, accel = args.lifecycles, args.seed, args.profile, args.accel
    if lifecycles < 1:
        raise InvalidValueError(f"--lifecycles must be at least 1, got {lifecycles}")
    if profile is not None:
        parse_profile(profile)
    if accel is not None and accel not in MODEL_ACCELS:
        raise InvalidValueError(
            f"unknown accelerator '{accel}' for stress (valid: {', '.join(MODEL_ACCELS)})")
    report = run_stress(lifecycles, seed, profile, accel)
    if args.as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"lifecycles: {report.lifecycles} ({report.steps} random events), "
              f"seed {seed}, profile {profile or 'random'}, accel {accel or 'random'}")
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
