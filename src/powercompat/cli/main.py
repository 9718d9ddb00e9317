"""Entry point: the standard library's argparse, one lazily imported module per command, and
the one place that turns errors into exit statuses.

Exit statuses (the contract):

- 0: the configuration works.
- 1: it is refused or fails, or a value is refused by the engine (unknown CPU, mode, profile,
  guest, accelerator, event, malformed hex): one line ``powercompat: error: <message>`` on
  stderr; with ``--json`` stdout still gets a JSON object whose ``error`` is that message.
  Also 1 when the environment fails us: a path that cannot be written or read (``<path>:
  <the system's words>``), stdout closed or full (``cannot write the output: ...``; not the
  120 Python exits with when its own final flush fails); a reader that went away (a closed
  pipe, ``| head``) gets 1 without a message, as Python's documentation recommends.
- 2: the command line itself is malformed (unknown option, missing option, a count that is not
  an integer): one line ``powercompat: error: <argparse's message> (see '... --help')``.
- 70: a bug (EX_SOFTWARE): one line ``powercompat: internal error: ...``; the traceback only
  with ``--debug`` or ``POWERCOMPAT_DEBUG=1``.
- 130: interrupted (Ctrl-C).

Start-up cost is part of the design (issue #13): at start-up only ``argparse``, ``os`` and
``sys`` are imported; the command's module (and with it the engine) when the command runs;
rich only where a table is drawn. A command is a :class:`Command` in its module, registered in
:data:`COMMANDS` by ``"module:attribute"`` (the docstring of ``powercompat.cli`` shows how to
add one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

PROG = "powercompat"
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

#: command name -> "module:attribute" of its :class:`Command`, in the order ``--help`` lists
#: them. A missing module hides its command instead of breaking the others.
COMMANDS: dict[str, str] = {
    "demo": "powercompat.cli.demo_cmd:COMMAND",
    "negotiate": "powercompat.cli.negotiate_cmd:COMMAND",
    "simulate": "powercompat.cli.simulate_cmd:COMMAND",
    "migrate-check": "powercompat.cli.migrate_cmd:COMMAND",
    "pcr": "powercompat.cli.pcr_cmd:COMMAND",
    "modes": "powercompat.cli.catalog_cmd:MODES",
    "cpus": "powercompat.cli.catalog_cmd:CPUS",
    "profiles": "powercompat.cli.catalog_cmd:PROFILES",
    "qemu-args": "powercompat.cli.config_cmd:QEMU_ARGS",
    "libvirt-xml": "powercompat.cli.config_cmd:LIBVIRT_XML",
    "fleet": "powercompat.cli.fleet_cmd:COMMAND",
    "diff": "powercompat.cli.diff_cmd:COMMAND",
    "stress": "powercompat.cli.stress_cmd:COMMAND",
    "verify": "powercompat.cli.verify_cmd:COMMAND",
    "fuzz": "powercompat.cli.fuzz_cmd:COMMAND",
}

DESCRIPTION = """POWER compatibility modes of QEMU pseries VMs: QEMU, KVM HV/PR and the guest's
CAS.

Every answer comes from the powercompat engine, with QEMU's and the kernel's own words and hex
as they print it."""
EPILOG = ("Exit status: 0 works, 1 refused or failed, 2 usage error, 70 internal error. "
          "Run 'powercompat demo' for the 2017 KVM PR story.")

#: what a command runs: the parsed options in, the exit status out
Run = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


class Command:
    """One command, or a group of subcommands: what ``--help`` says, the options it adds to
    its parser, and the function that runs it.

    A plain class rather than a dataclass: creating a dataclass compiles its generated
    methods (about 0.6 ms each on Python 3.11), and every invocation pays for this one.
    """

    __slots__ = ("configure", "description", "pass_unknown", "run", "subcommands", "summary")

    def __init__(self, summary: str, *, run: Run | None = None,
                 configure: Configure | None = None, description: str | None = None,
                 subcommands: dict[str, Command] | None = None,
                 pass_unknown: bool = False) -> None:
        #: one line for the parent's command list
        self.summary = summary
        #: the help text (paragraphs separated by blank lines; default: the summary)
        self.description = description or summary
        #: adds the options and arguments to the command's parser
        self.configure = configure
        #: runs the command; ``None`` on a group prints the group's help
        self.run = run
        self.subcommands = subcommands or {}
        #: unknown options are collected in ``args.passthrough`` instead of refused
        self.pass_unknown = pass_unknown


class UsageError(Exception):
    """A malformed command line: exit 2, with a pointer to the right ``--help``."""

    def __init__(self, message: str, prog: str = PROG) -> None:
        super().__init__(message)
        self.prog = prog


class _Exit(Exception):
    """argparse wants to end the run (after ``--help``): its status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, at most 100 columns, keeping the paragraphs of a description
    (argparse joins them into one) and any paragraph with a line indented by two spaces (a
    listing) as it is."""

    def __init__(self, prog: str) -> None:
        # argparse builds a formatter for every add_argument; its default width comes from
        # shutil, whose import (bz2, lzma, ...) costs more than the rest of the parser
        super().__init__(prog, max_help_position=28, width=min(100, _columns() - 2))

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out: list[str] = []
        for paragraph in text.split("\n\n"):
            if any(line.startswith("  ") for line in paragraph.splitlines()):
                out.append(paragraph)
            else:
                out.append(textwrap.fill(" ".join(paragraph.split()), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() finds it: $COLUMNS, stdout's, 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions (main() turns them into one line and
    exit 2) and that refuses unknown options itself, so the message names the subcommand."""

    pass_unknown = False

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # --cp is not --cpu
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):
            message += _did_you_mean(message.split()[2], list(self._option_string_actions))
        raise UsageError(message, self.prog)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)

    def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None,
            namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        if self.pass_unknown:
            ns.passthrough = [*getattr(ns, "passthrough", []), *extras]
            return ns, []
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def build(parser: argparse.ArgumentParser, command: Command) -> None:
    """Give ``parser`` the command's options and, for a group, one subparser per subcommand.

    The parsed namespace carries ``_run`` (the innermost command's run) and ``_parser``.
    """
    if isinstance(parser, Parser):
        parser.pass_unknown = command.pass_unknown
    if command.configure is not None:
        command.configure(parser)
    parser.set_defaults(_run=command.run, _parser=parser)
    if command.subcommands:
        sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="subcommand")
        for name, child in command.subcommands.items():
            build(sub.add_parser(name, help=child.summary, description=child.description,
                                 allow_abbrev=False), child)


class CliState:
    """What the error handler needs to know about the run."""

    __slots__ = ("debug", "json")

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        #: the command was asked for ``--json``: errors then also go to stdout as JSON
        self.json = False


class _Missing(Exception):
    """A registered command's module is not installed."""


def load(target: str) -> Command:
    """The :class:`Command` named by ``"module:attribute"``.

    :raises _Missing: the module itself does not exist (an import error inside it, or a
        missing attribute, propagates: that is a bug, not an installation choice).
    """
    from importlib import import_module

    module, _, attr = target.partition(":")
    try:
        loaded = import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise _Missing(module) from None
    command = getattr(loaded, attr)
    if not isinstance(command, Command):
        raise TypeError(f"{target} is not a powercompat.cli.main.Command")
    return command


def _command_list() -> str:
    """The commands for the top-level help; one that fails to import says so."""
    rows: list[tuple[str, str]] = []
    for name, target in COMMANDS.items():
        try:
            rows.append((name, load(target).summary))
        except _Missing:
            continue
        except Exception as err:  # someone else's half-written module must not break --help
            rows.append((name, f"(unavailable: {type(err).__name__}: {err})"))
    width = max((len(n) for n, _ in rows), default=0)
    return "\n".join(f"  {name.ljust(width)}  {summary}" for name, summary in rows)


class _TopParser(Parser):
    """``powercompat [--debug] [--version] COMMAND ...``; its help lists the commands."""

    def format_help(self) -> str:
        self.epilog = f"commands:\n{_command_list()}\n\n{EPILOG}"
        return super().format_help()


def _top_parser() -> _TopParser:
    parser = _TopParser(prog=PROG, description=DESCRIPTION,
                        usage=f"{PROG} [-h] [--debug] [--version] COMMAND ...")
    parser.add_argument("--debug", action="store_true",
                        help="Show the traceback of an internal error (also "
                        "POWERCOMPAT_DEBUG=1).")
    parser.add_argument("--version", action="store_true", help="Show the version and exit.")
    parser.add_argument("command", nargs="?", metavar="COMMAND", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _version() -> str:
    from powercompat.version import VERSION

    return VERSION


def _dispatch(args: list[str], state: CliState) -> int:
    top = _top_parser()
    ns = top.parse_args(args)
    if ns.version:
        print(f"{PROG} {_version()}")
        return EXIT_OK
    if ns.command is None:
        top.print_help()
        return EXIT_OK
    target = COMMANDS.get(ns.command)
    if target is None:
        raise UsageError(f"unknown command '{ns.command}'"
                         + _did_you_mean(ns.command, list(COMMANDS)))
    try:
        command = load(target)
    except _Missing as missing:
        raise UsageError(f"command '{ns.command}' is not available in this installation "
                         f"({missing} is missing)") from None
    parser = Parser(prog=f"{PROG} {ns.command}", description=command.description)
    build(parser, command)
    options = parser.parse_args(ns.args)
    state.json = bool(getattr(options, "as_json", False))
    run: Run | None = options._run
    if run is None:
        options._parser.print_help()
        return EXIT_OK
    return run(options)


def _error_line(message: str) -> None:
    if sys.stderr is not None:  # with stderr closed, the exit status is all we can give
        sys.stderr.write(f"{PROG}: error: {' '.join(message.split())}\n")


def _os_error(err: OSError) -> str:
    """An environment failure in one line: the file (or stdout) and the system's words."""
    why = err.strerror or str(err)
    if err.filename is not None:
        return f"{err.filename}: {why}"
    return f"cannot write the output: {why}"


def _drop_stdout() -> None:
    """stdout failed (full, closed pipe): point it at /dev/null, so that what is still in its
    buffer does not fail again when the interpreter exits (Python's documented recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it)
        pass


def _json_error(err: Exception) -> None:
    import json

    from powercompat.decisions.verdict import refusal_fate
    from powercompat.errors import PowerCompatError

    obj: dict[str, str] = {"error": str(err), "error_type": type(err).__name__}
    fate = refusal_fate(err) if isinstance(err, PowerCompatError) else None
    if fate is not None:  # QEMU itself refuses this input at start-up: a verdict
        obj.update(fate.to_json())
    print(json.dumps(obj, indent=2))


def main(cli_args: Sequence[str] | None = None) -> int:
    """Run one command line (without the program name) and return the exit status."""
    args = list(sys.argv[1:] if cli_args is None else cli_args)
    before_dashes = args[: args.index("--")] if "--" in args else args
    state = CliState(debug=os.environ.get("POWERCOMPAT_DEBUG", "") not in ("", "0")
                     or "--debug" in before_dashes)
    if sys.stdout is None:  # started with stdout closed (>&-): nothing could be printed
        _error_line("cannot write the output: stdout is closed")
        return EXIT_FAIL
    try:
        status = _dispatch(args, state)
        sys.stdout.flush()  # a full disk or a closed pipe fails here, not at exit
        return status
    except _Exit as exc:
        return exc.status
    except UsageError as exc:
        _error_line(f"{exc} (see '{exc.prog} --help')")
        return EXIT_USAGE
    except KeyboardInterrupt:
        if sys.stderr is not None:
            sys.stderr.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): quietly, as Python's docs do it
        _drop_stdout()
        return EXIT_FAIL
    except OSError as exc:  # the environment failed us (a path, a full disk)
        if exc.filename is None:
            _drop_stdout()
        _error_line(_os_error(exc))
        return EXIT_FAIL
    except Exception as exc:
        from powercompat.errors import PowerCompatError

        if isinstance(exc, PowerCompatError):
            if state.json:
                _json_error(exc)
            _error_line(str(exc))
            return EXIT_FAIL
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if sys.stderr is not None:
            sys.stderr.write(f"{PROG}: internal error: {' '.join(message.split())} (a bug "
                             f"in powercompat; rerun with --debug or POWERCOMPAT_DEBUG=1 for "
                             f"the traceback)\n")
        if state.debug and sys.stderr is not None:
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
