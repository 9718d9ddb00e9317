"""The package's version, written once: pyproject.toml reads it (tool.setuptools.dynamic),
``powercompat.__version__`` re-exports it, and ``powercompat --version`` prints it without
importlib.metadata, which alone costs more than the rest of that command. A module of its own,
at the bottom of the layers, so the command line may import it."""

from __future__ import annotations

VERSION = "0.1.0"
