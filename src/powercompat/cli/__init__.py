"""The ``powercompat`` command: the only part of the package that prints.

``main.main(argv) -> int`` is the entry point (tests call it directly). The parser is the
standard library's argparse; each command lives in its own module, imported only when that
command runs (or for ``powercompat --help``), so start-up stays close to the interpreter's.

Adding a command (or a subcommand of a group such as ``verify``)::

    # powercompat/cli/foo_cmd.py
    from argparse import ArgumentParser, Namespace

    from powercompat.cli.common import add_cpu, add_json, add_qemu, emit_json, fail
    from powercompat.cli.main import Command

    def configure(parser: ArgumentParser) -> None:
        add_cpu(parser)                              # the shared options keep one spelling
        add_qemu(parser)
        parser.add_argument("--limit", type=count, default=20, metavar="N",
                            help="Rows shown (default: %(default)s).")
        add_json(parser)                             # dest "as_json"; errors become JSON too

    def run(args: Namespace) -> int:                 # the exit status: 0 works, 1 refused
        result = ...                                 # typed errors (PowerCompatError) -> 1
        if args.as_json:
            emit_json(result.to_json())
        else:
            print(render(result))
        return fail(result.error) if result.error else 0

    COMMAND = Command("One line for the command list.", configure=configure, run=run,
                      description="The --help text.\\n\\nParagraphs stay paragraphs.")

then register it in ``main.COMMANDS`` (``"foo": "powercompat.cli.foo_cmd:COMMAND"``), or,
for a subcommand, add it to the group's ``Command(..., subcommands={"foo": FOO})``. Import
rich (through ``cli.tables``) inside the function that draws a table, never at module level.
"""
