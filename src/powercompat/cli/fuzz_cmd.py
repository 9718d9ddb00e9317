"""``powercompat fuzz cas|migration``: atheris over the CAS reader and migration loader."""

from __future__ import annotations

import click

from powercompat.fuzz.runner import main as fuzz_main

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": True}


@click.group("fuzz")
def fuzz() -> None:
    """Fuzz the untrusted-input readers with atheris (libFuzzer), or replay a corpus.

    Arguments starting with '-' go to libFuzzer unchanged (-runs=N, -max_total_time=S);
    the others are corpus directories or files (default: a scratch copy of the seeds).
    """


def _command(target: str, summary: str) -> click.Command:
    @click.command(target, help=summary, context_settings=_PASS_THROUGH)
    @click.option("--replay", is_flag=True,
                  help="Run each corpus input through the target once (no atheris needed).")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(replay: bool, args: tuple[str, ...]) -> int:
        return fuzz_main([target, *args], echo=click.echo, force_replay=replay)

    return command


fuzz.add_command(_command("cas", "The guest's CAS buffer: parse, choose, set (every profile)."))
fuzz.add_command(_command("migration", "An incoming migration stream: decode and load."))
