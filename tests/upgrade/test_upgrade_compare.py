"""The comparison on hand-made answers: each kind comes from the answers alone, one fact is
one entry, and what one release does not know is not compared per configuration."""

from __future__ import annotations

from powercompat.upgrade.compare import KINDS, Difference, compare, ordered
from powercompat.upgrade.observe import (
    CPU_COMPAT,
    THREADS,
    Boot,
    Catalog,
    Move,
    Observations,
    Situation,
    Start,
    situations,
)

UNKNOWN = "unable to find CPU model '{}'"
P9V20, P9V22 = 0x004E1200, 0x004E1202


def _obs(release: str, models: dict[str, int], aliases: dict[str, str], modes: tuple[str, ...],
         startup: dict[Situation, Start], boots: dict[tuple[str, Situation], Boot] | None = None,
         ) -> Observations:
    catalog = Catalog(models, aliases, modes)
    names = {s.name for s in startup}
    resolves = {n: (n if n in models else aliases.get(n, n)) for n in names
                if not (not startup[Situation(n, None)].started
                        and startup[Situation(n, None)].error == UNKNOWN.format(n))}
    return Observations(release, f"QEMU {release}", catalog, resolves, startup, boots or {})


def _starts(names: list[str], modes: tuple[str | None, ...]) -> dict[Situation, Start]:
    return {Situation(n, m): Start(True) for n in names for m in modes}


def _keys(diffs: list[Difference]) -> set[tuple[str, str]]:
    return {(d.kind, d.subject) for d in diffs}


def test_catalogue_kinds_from_the_answers() -> None:
    a_start = _starts(["old_v1", "power9", "power9_v2.0", "ren_v1", "gone"], (None,))
    a_start[Situation("new_v1", None)] = Start(False, UNKNOWN.format("new_v1"))
    a_start[Situation("ren_v2", None)] = Start(False, UNKNOWN.format("ren_v2"))
    a = _obs("A", {"old_v1": 0x100, "power9_v2.0": P9V20, "ren_v1": 0x300},
             {"power9": "power9_v2.0", "gone": "old_v1"}, ("power8",), a_start)
    b_start = _starts(["power9", "power9_v2.0", "power9_v2.2", "new_v1", "ren_v1", "ren_v2"],
                      (None,))
    b_start[Situation("old_v1", None)] = Start(False, UNKNOWN.format("old_v1"))
    b_start[Situation("gone", None)] = Start(False, UNKNOWN.format("gone"))
    b = _obs("B", {"power9_v2.0": 0x004E1201, "power9_v2.2": P9V22, "new_v1": 0x200,
                   "ren_v2": 0x300}, {"power9": "power9_v2.2", "ren_v1": "ren_v2"},
             ("power8", "power11"), b_start)
    found = {(d.kind, d.subject): d for d in compare(a, b)}
    assert set(found) == {
        ("model-removed", "old_v1"), ("model-added", "new_v1"), ("model-added", "power9_v2.2"),
        ("model-added", "ren_v2"), ("model-renamed", "ren_v1"), ("pvr-changed", "power9_v2.0"),
        ("alias-removed", "gone"), ("alias-retargeted", "power9"), ("mode-added", "power11")}
    assert found["model-removed", "old_v1"].after == "refused: " + UNKNOWN.format("old_v1")
    assert found["alias-retargeted", "power9"].before == "power9_v2.0 (0x004e1200)"
    assert found["alias-retargeted", "power9"].after == "power9_v2.2 (0x004e1202)"
    assert found["alias-retargeted", "power9"].severity == "changes"
    assert found["model-renamed", "ren_v1"].severity == "info"  # same PVR
    assert found["pvr-changed", "power9_v2.0"].after == "0x004e1201"
    assert all(d.situation is None for d in found.values())


def test_startup_text_and_severity() -> None:
    modes = ("power7+", "power8")
    a = _obs("A", {"p9": 1}, {}, modes, {
        Situation("p9", None): Start(True),
        Situation("p9", "power7+"): Start(True),
        Situation("p9", "power8"): Start(False, "x"),
        Situation("p9", None, THREADS): Start(False, "one thread"),
        Situation("p9", "power7+", THREADS): Start(False, "one thread"),
    })
    b = _obs("B", {"p9": 1}, {}, modes, {
        Situation("p9", None): Start(True),
        Situation("p9", "power7+"): Start(False, "Compatibility PVR 0x0f100003 not valid"),
        Situation("p9", "power8"): Start(False, "x"),
        Situation("p9", None, THREADS): Start(True),
        Situation("p9", "power7+", THREADS): Start(False, "needs POWER8"),
    })
    found = {(d.kind, d.subject): d for d in compare(a, b)}
    assert set(found) == {("startup-changed", "p9/power7+"),
                          ("startup-changed", "p9/unset/threads=2"),
                          ("text-changed", "p9/power7+/threads=2")}
    assert found["startup-changed", "p9/power7+"].severity == "breaks"
    assert found["startup-changed", "p9/power7+"].before == "starts"
    assert found["startup-changed", "p9/unset/threads=2"].severity == "fixes"
    assert found["text-changed", "p9/power7+/threads=2"].after == "refused: needs POWER8"


def test_unknown_names_and_modes_are_not_compared_per_configuration() -> None:
    """A removed model is one entry, not one per max-cpu-compat; a new mode likewise."""
    a = _obs("A", {"p9": 1, "dd1": 2}, {}, ("power9",), {
        Situation("p9", None): Start(True), Situation("dd1", None): Start(True),
        Situation("dd1", "power9"): Start(True),
        Situation("p9", "power11"): Start(False, 'Invalid compatibility mode "power11"'),
    })
    b = _obs("B", {"p9": 1}, {}, ("power9", "power11"), {
        Situation("p9", None): Start(True),
        Situation("dd1", None): Start(False, UNKNOWN.format("dd1")),
        Situation("dd1", "power9"): Start(False, UNKNOWN.format("dd1")),
        Situation("p9", "power11"): Start(False, "Compatibility PVR 0x0f000007 not valid"),
    })
    found = {(d.kind, d.subject): d for d in compare(a, b)}
    assert set(found) == {("model-removed", "dd1"), ("mode-added", "power11")}
    assert found["mode-added", "power11"].before == 'refused: Invalid compatibility mode "power11"'


def test_an_alias_and_its_model_are_one_entry_a_retargeted_alias_its_own() -> None:
    modes = ("power7+",)
    refused = Start(False, "no")
    a = _obs("A", {"p9_v20": 1}, {"p9": "p9_v20", "same": "p9_v20"}, modes, {
        **_starts(["p9_v20", "p9", "same"], (None, "power7+"))})
    b = _obs("B", {"p9_v20": 1, "p9_v22": 2}, {"p9": "p9_v22", "same": "p9_v20"}, modes, {
        **_starts(["p9_v20", "p9", "same", "p9_v22"], (None,)),
        Situation("p9_v20", "power7+"): refused, Situation("p9", "power7+"): refused,
        Situation("same", "power7+"): refused, Situation("p9_v22", "power7+"): refused})
    subjects = {d.subject for d in compare(a, b) if d.kind == "startup-changed"}
    assert subjects == {"p9_v20/power7+", "p9/power7+"}  # "same" is p9_v20 on both sides


def test_boots_and_moves() -> None:
    s = Situation("p10", None)
    a = _obs("A", {"p10": 1}, {}, (), {s: Start(True)},
             {("linux-6.1", s): Boot("power10", "SIGILL"), ("linux-7.2", s): Boot("power10")})
    b = _obs("B", {"p10": 1}, {}, (), {s: Start(True)},
             {("linux-6.1", s): Boot("power10", "runs"), ("linux-7.2", s): Boot("power9")})
    moves = {("forward", "linux-6.1", s): Move(True),
             ("back", "linux-6.1", s): Move(False, "cpu/slb: too new")}
    found = {(d.kind, d.guest, d.direction): d for d in compare(a, b, moves)}
    assert set(found) == {("cas-changed", "linux-6.1", None), ("cas-changed", "linux-7.2", None),
                          ("migration-refused", "linux-6.1", "back")}
    fixed = found["cas-changed", "linux-6.1", None]
    assert (fixed.before, fixed.after, fixed.severity) == ("power10, init SIGILL",
                                                          "power10, init runs", "fixes")
    assert found["cas-changed", "linux-7.2", None].before == "power10"
    back = found["migration-refused", "linux-6.1", "back"]
    assert (back.before, back.after) == ("refuses: cpu/slb: too new", "sends")


def test_situations_cover_both_catalogues() -> None:
    a = Catalog({"m1": 1}, {"al": "m1"}, ("power8",))
    b = Catalog({"m2": 2}, {}, ("power8", "power9"))
    asked = situations(a, b)
    assert Situation("al", "power9") in asked and Situation("m2", None) in asked
    assert Situation("m1", "power9", THREADS) in asked
    assert Situation("m2", "power8", CPU_COMPAT) in asked
    assert Situation("al", None, THREADS) not in asked  # variants per model only
    assert Situation("m1", None, CPU_COMPAT) not in asked


def test_order_is_most_severe_first() -> None:
    rows = [Difference("model-added", "x", "", "", "", "info"),
            Difference("startup-changed", "y", "", "", "", "fixes"),
            Difference("model-removed", "z", "", "", "", "breaks"),
            Difference("migration-refused", "w", "", "", "", "breaks")]
    assert [d.subject for d in ordered(rows)] == ["w", "z", "y", "x"]
    assert set(KINDS) >= {"model-removed", "model-added", "alias-retargeted", "pvr-changed",
                          "startup-changed", "cas-changed", "migration-refused",
                          "text-changed", "hotplug-changed", "reset-changed"}


def test_removed_mode_added_alias_and_a_renamed_model_whose_pvr_moved() -> None:
    """The catalogue kinds the Debian pairs do not show: a mode dropped (breaks, with the
    refusal the --to release gives), an alias and a model that was an alias added, and a
    rename that also changed the PVR (a change, not mere wording)."""
    invalid = 'Invalid compatibility mode "power7"'
    a_start = _starts(["p8_v1", "p9_v1", "p9", "p10"], (None, "power7"))
    a_start[Situation("p8", None)] = Start(False, UNKNOWN.format("p8"))
    a = _obs("A", {"p8_v1": 0x10, "p9_v1": 0x20}, {"p9": "p9_v1", "p10": "p9_v1"},
             ("power7", "power8"), a_start)
    b_start = _starts(["p8_v1", "p8_v2", "p8", "p9_v1", "p9", "p10"], (None,))
    b_start.update({Situation(n, "power7"): Start(False, invalid)
                    for n in ("p8_v1", "p8_v2", "p8", "p9_v1", "p9", "p10")})
    b = _obs("B", {"p8_v2": 0x11, "p9_v1": 0x20, "p10": 0x30},
             {"p8_v1": "p8_v2", "p8": "p8_v2", "p9": "p9_v1"}, ("power8",), b_start)
    found = {(d.kind, d.subject): d for d in compare(a, b)}
    assert set(found) == {("model-renamed", "p8_v1"), ("model-added", "p8_v2"),
                          ("model-added", "p10"), ("alias-added", "p8"),
                          ("mode-removed", "power7")}
    renamed = found["model-renamed", "p8_v1"]
    assert (renamed.before, renamed.after, renamed.severity) == (
        "model 0x00000010", "alias for p8_v2 (0x00000011)", "changes")
    assert "whose PVR differs (0x00000010 on A)" in renamed.detail
    assert found["model-added", "p10"].before == "alias for p9_v1"
    assert found["model-added", "p8_v2"].before == "unknown"
    assert found["alias-added", "p8"].after == "alias for p8_v2"
    gone = found["mode-removed", "power7"]
    assert (gone.before, gone.after, gone.severity) == ("accepted", f"refused: {invalid}",
                                                        "breaks")
    # both releases started power7 configurations differently, but the mode entry says it once
    assert not [d for d in compare(a, b) if d.situation is not None]


def test_a_refused_move_counts_only_where_both_sides_start() -> None:
    """A forward refusal is 'sends' -> 'refuses'; a refused move of a configuration the
    --to release does not start is that start-up difference, not a migration entry; a CAS
    that stops working breaks, an unknown init on one side is no difference."""
    runs, stops = Situation("p9", None), Situation("p9", "power8")
    a = _obs("A", {"p9": 1}, {}, ("power8",), {runs: Start(True), stops: Start(True)},
             {("g", runs): Boot("power9", "runs"), ("g", stops): Boot("power8"),
              ("h", runs): Boot("power9")})
    b = _obs("B", {"p9": 1}, {}, ("power8",), {runs: Start(True), stops: Start(False, "no")},
             {("g", runs): Boot("CAS failed"), ("g", stops): Boot("power8"),
              ("h", runs): Boot("power9", "runs")})
    moves = {("forward", "g", runs): Move(False, "cpu: bad PVR"),
             ("forward", "g", stops): Move(False, "never started")}
    found = {(d.kind, d.subject, d.direction): d for d in compare(a, b, moves)}
    assert set(found) == {("migration-refused", "p9/unset", "forward"),
                          ("startup-changed", "p9/power8", None),
                          ("cas-changed", "p9/unset", None)}
    forward = found["migration-refused", "p9/unset", "forward"]
    assert (forward.before, forward.after, forward.severity) == (
        "sends", "refuses: cpu: bad PVR", "breaks")
    assert "from a A host to a B host" in forward.detail
    cas = found["cas-changed", "p9/unset", None]
    assert (cas.guest, cas.before, cas.after, cas.severity) == (
        "g", "power9", "CAS failed", "breaks")
