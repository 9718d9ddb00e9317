"""Reading the package's recorded data files (``src/powercompat/data/*.json``) on first use.

Plain ``open`` next to this package, json imported only here and only when a file is read:
``importlib.resources`` and ``pathlib`` cost several milliseconds of every start-up.
"""

from __future__ import annotations

import os
from typing import Any

#: the package data folder (setuptools ships data/* beside the code)
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def read_data(name: str) -> Any:
    """The parsed JSON file ``data/<name>``.

    :raises FileNotFoundError: no such recorded file.
    """
    import json

    with open(os.path.join(DATA_DIR, name), encoding="utf-8") as f:
        return json.load(f)
