"""``powercompat fuzz cas|migration``: atheris over the CAS reader and migration loader."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from powercompat.cli.common import emit_json
from powercompat.cli.main import Command


def configure_target(parser: ArgumentParser) -> None:
    parser.add_argument("--replay", action="store_true",
                        help="Run each corpus input through the target once (no atheris "
                        "needed).")
    parser.add_argument("corpus", nargs="*", metavar="CORPUS",
                        help="Corpus directories or files (default: a scratch copy of the "
                        "seeds). Options starting with '-' that are not ours (-runs=N, "
                        "-max_total_time=S) go to libFuzzer unchanged.")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="Replay the corpus (as --replay) and print the report as one "
                        "JSON object; libFuzzer's own output is not JSON.")


def _target(name: str, summary: str) -> Command:
    def run(args: Namespace) -> int:
        if args.as_json:
            return _replay_json(name, args)
        from powercompat.fuzz.runner import main as fuzz_main

        return fuzz_main([name, *args.passthrough, *args.corpus], force_replay=args.replay)

    return Command(summary, configure=configure_target, run=run, pass_unknown=True)


def _replay_json(target: str, args: Namespace) -> int:
    from pathlib import Path

    from powercompat.errors import InvalidValueError
    from powercompat.fuzz.runner import replay

    if args.passthrough:
        raise InvalidValueError(f"--json replays the corpus: libFuzzer options "
                                f"({' '.join(args.passthrough)}) do not apply")
    report = replay(target, [Path(p) for p in args.corpus])
    emit_json({"target": report.target, "mode": "replay", "inputs": report.inputs,
               "seconds": report.seconds, "failures": report.failures})
    return 1 if report.failures else 0


COMMAND = Command(
    "Fuzz the untrusted-input readers (atheris), or replay a corpus.",
    subcommands={
        "cas": _target("cas", "The guest's CAS buffer: parse, choose, set (every profile)."),
        "migration": _target("migration", "An incoming migration stream: decode and load."),
    },
    description="Fuzz the untrusted-input readers with atheris (libFuzzer), or replay a "
    "corpus.\n\nArguments starting with '-' go to libFuzzer unchanged (-runs=N, "
    "-max_total_time=S); the others are corpus directories or files (default: a scratch copy "
    "of the seeds).")
