"""``python -m powercompat.fuzz cas|migration [--replay] [-runs=N] [corpus ...]``."""

from __future__ import annotations

import signal
import sys

from powercompat.errors import PowerCompatError
from powercompat.fuzz.runner import main

if __name__ == "__main__":
    # started by the runner with its stop signals held (see runner._signals_blocked)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    try:
        sys.exit(main(sys.argv[1:]))
    except PowerCompatError as err:
        print(f"powercompat fuzz: error: {err}", file=sys.stderr)
        sys.exit(1)
