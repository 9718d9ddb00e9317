"""``powercompat stress``: random machine lifecycles checked against QEMU's model."""

from __future__ import annotations

import json

import click

from powercompat.cli.common import want_json
from powercompat.errors import InvalidValueError
from powercompat.profiles import parse_profile
from powercompat.stress.generator import MODEL_ACCELS
from powercompat.stress.runner import run_stress


@click.command("stress")
@click.option("--lifecycles", "-n", default=1000, show_default=True,
              help="Number of random machine lifecycles to run.")
@click.option("--seed", "-s", default=0, show_default=True,
              help="Seed; lifecycle i of seed S is reproducible on its own.")
@click.option("--profile", "profile", default=None,
              help="Only this QEMU profile (default: a random one per lifecycle).")
@click.option("--accel", default=None,
              help=f"Only this accelerator ({', '.join(MODEL_ACCELS)}; default: random).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def stress(lifecycles: int, seed: int, profile: str | None, accel: str | None,
           as_json: bool) -> int:
    """Run random lifecycles (options, events, CAS buffers, migrations, injected ONE_REG
    faults) and check every step; exit 1 if any invariant is violated."""
    want_json(as_json)
    if lifecycles < 1:
        raise InvalidValueError(f"--lifecycles must be at least 1, got {lifecycles}")
    if profile is not None:
        parse_profile(profile)
    if accel is not None and accel not in MODEL_ACCELS:
        raise InvalidValueError(
            f"unknown accelerator '{accel}' for stress (valid: {', '.join(MODEL_ACCELS)})")
    report = run_stress(lifecycles, seed, profile, accel)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(f"lifecycles: {report.lifecycles} ({report.steps} random events), "
                   f"seed {seed}, profile {profile or 'random'}, accel {accel or 'random'}")
        click.echo(f"time: {report.seconds:.1f} s, {report.rate:.0f} lifecycles/s")
        click.echo(f"invariant violations: {report.violations}")
        for failure in report.failures:
            click.echo(f"  lifecycle seed {failure.seed}: {failure.options}")
            click.echo(f"    events: {', '.join(failure.events)}")
            for text in failure.violations[:5]:
                click.echo(f"    {text}")
    return 1 if report.violations else 0
