"""``python -m powercompat.fuzz cas|migration [--replay] [-runs=N] [corpus ...]``."""

from __future__ import annotations

import sys

from powercompat.errors import PowerCompatError
from powercompat.fuzz.runner import main

if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except PowerCompatError as err:
        print(f"powercompat fuzz: error: {err}", file=sys.stderr)
        sys.exit(1)
