"""Entry point: a lazy click group, and the one place that turns errors into exit statuses.

Exit statuses (the contract):

- 0: the configuration works.
- 1: it is refused or fails, or a value is refused by the engine (unknown CPU, mode, profile,
  guest, accelerator, event, malformed hex): one line ``powercompat: error: <message>`` on
  stderr; with ``--json`` stdout still gets a JSON object whose ``error`` is that message.
- 2: the command line itself is malformed (unknown option, missing option, a count that is not
  an integer): one line ``powercompat: error: <click's message>`` on stderr.
- 70: a bug (EX_SOFTWARE): one line ``powercompat: internal error: ...``; the traceback only
  with ``--debug`` or ``POWERCOMPAT_DEBUG=1``.

Only click is imported at start-up; a command module (and the engine) is imported when the
command runs, rich only when a table is drawn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

PROG = "powercompat"
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

#: command name -> "module:attribute", in the order ``--help`` lists them. The last four are
#: written elsewhere; a missing module hides its command instead of breaking the others.
COMMANDS: dict[str, str] = {
    "demo": "powercompat.cli.demo_cmd:demo",
    "negotiate": "powercompat.cli.negotiate_cmd:negotiate",
    "simulate": "powercompat.cli.simulate_cmd:simulate",
    "migrate-check": "powercompat.cli.migrate_cmd:migrate_check",
    "pcr": "powercompat.cli.pcr_cmd:pcr",
    "modes": "powercompat.cli.catalog_cmd:modes",
    "cpus": "powercompat.cli.catalog_cmd:cpus",
    "profiles": "powercompat.cli.catalog_cmd:profiles",
    "qemu-args": "powercompat.cli.config_cmd:qemu_args",
    "libvirt-xml": "powercompat.cli.config_cmd:libvirt_xml",
    "fleet": "powercompat.cli.fleet_cmd:fleet",
    "stress": "powercompat.cli.stress_cmd:stress",
    "verify": "powercompat.cli.verify_cmd:verify",
    "fuzz": "powercompat.cli.fuzz_cmd:fuzz",
}


class CliState:
    """What the error handler needs to know about the run (``ctx.obj``). A plain class:
    ``dataclasses`` costs start-up time that ``--help`` and ``--version`` need not pay."""

    __slots__ = ("debug", "json")

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        #: set by a command asked for ``--json``: errors then also go to stdout as JSON
        self.json = False


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in self.lazy if _module_exists(self.lazy[name])]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return None
        if not _module_exists(target):
            raise click.UsageError(
                f"command '{cmd_name}' is not available in this installation "
                f"({target.partition(':')[0]} is missing)", ctx)
        return _load(target)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands; one that fails to import is shown as unavailable."""
        rows: list[tuple[str, str]] = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            try:
                cmd = _load(self.lazy[name])
            except Exception as err:  # someone else's half-written module must not break --help
                rows.append((name, f"(unavailable: {type(err).__name__}: {err})"))
                continue
            if not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(target: str) -> bool:
    from importlib.util import find_spec

    module = target.partition(":")[0]
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(target: str) -> click.Command:
    from importlib import import_module

    module, _, attr = target.partition(":")
    command = getattr(import_module(module), attr)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("powercompat")
    except PackageNotFoundError:
        text = "unknown"
    click.echo(f"{PROG} {text}")
    ctx.exit(0)


@click.group(
    PROG, cls=LazyGroup, lazy=COMMANDS, no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Exit status: 0 works, 1 refused or failed, 2 usage error, 70 internal error. "
    "Run 'powercompat demo' for the 2017 KVM PR story.")
@click.option("--debug", is_flag=True,
              help="Show the traceback of an internal error (also POWERCOMPAT_DEBUG=1).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """POWER compatibility modes of QEMU pseries VMs: QEMU, KVM HV/PR and the guest's CAS.

    Every answer comes from the powercompat engine, with QEMU's and the kernel's own words
    and hex as they print it.
    """
    state = ctx.ensure_object(CliState)
    state.debug = state.debug or debug


def _error_line(message: str) -> None:
    click.echo(f"{PROG}: error: {' '.join(message.split())}", err=True)


def _json_error(err: Exception) -> None:
    import json

    click.echo(json.dumps({"error": str(err), "error_type": type(err).__name__}, indent=2))


def main(cli_args: Sequence[str] | None = None) -> int:
    """Run one command line (without the program name) and return the exit status."""
    from powercompat.errors import PowerCompatError

    args = list(sys.argv[1:] if cli_args is None else cli_args)
    before_dashes = args[: args.index("--")] if "--" in args else args
    state = CliState(debug=os.environ.get("POWERCOMPAT_DEBUG", "") not in ("", "0")
                     or "--debug" in before_dashes)
    try:
        result = cli.main(args=args, prog_name=PROG, standalone_mode=False, obj=state)
    except click.exceptions.Exit as exc:  # pragma: no cover - click returns it instead
        return exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _error_line(exc.format_message() + hint)
        return exc.exit_code
    except click.ClickException as exc:
        _error_line(exc.format_message())
        return exc.exit_code
    except click.Abort:
        click.echo(f"{PROG}: interrupted", err=True)
        return 130
    except PowerCompatError as exc:
        if state.json:
            _json_error(exc)
        _error_line(str(exc))
        return EXIT_FAIL
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        click.echo(f"{PROG}: internal error: {' '.join(message.split())} (a bug in "
                   f"powercompat; rerun with --debug or POWERCOMPAT_DEBUG=1 for the traceback)",
                   err=True)
        if state.debug:
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL
    return result if isinstance(result, int) else EXIT_OK


def run() -> None:
    """The console-script entry point."""
    sys.exit(main())
