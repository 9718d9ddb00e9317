"""The ``powercompat`` command: the only part of the package that prints.

``main.main(argv) -> int`` is the entry point (tests call it directly); each command lives in
its own module and is imported only when invoked, so start-up stays close to the bare
interpreter's.
"""
