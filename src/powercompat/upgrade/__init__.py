"""Upgrade impact: what changes for a guest when its host moves from one QEMU release to
another (issue #16). A front-end: it asks the engine's profiles (and, for ``verify diff``,
the real binaries' recordings) the same questions and compares the answers.

- :func:`powercompat.upgrade.diff.diff`: every difference between two releases.
- :mod:`powercompat.upgrade.impact`: which hosts and guests of an inventory it touches.
- :mod:`powercompat.upgrade.real`: the same diff from the real binaries' observations.
"""
