"""Corrections apply (issue 30, item 4; invariant 9): an addendum's scores and risk supersede
the note it amends everywhere they are shown, marked, and the original stays visible.

The case: a GAD-7 entered as 21 instead of 12, corrected by an addendum, stayed wrong on the
overview, the chart and in shares, unmarked.
"""

from __future__ import annotations

import datetime as dt

from conftest import Env
from site_fixtures import note, seal_story

from site_builder import pages
from site_builder.timeline import Entry, assemble

TODAY = dt.date(2026, 12, 7)


def _session(n: int, day: int, gad7: int, risk: str = "none - denies SI/HI") -> Entry:
    meta = {"measures": {"gad7": gad7}, "risk": risk, "template": "soap"}
    return Entry(f"{n:016x}", dt.date(2026, 11, day), "soap", meta, "Session text.", 1, True)


def _addendum(n: int, day: int, amends: int, signed: bool = True, **fixed) -> Entry:
    meta = {"amends": f"{amends:016x}", "template": "addendum", **fixed}
    return Entry(f"{n:016x}", dt.date(2026, 11, day), "addendum", meta, "## Reason\nTypo.", 1, signed)


def test_a_corrected_score_is_the_score_everywhere_and_says_so() -> None:
    wrong = _session(2, 9, 21)
    t = assemble("AB-1", [_session(1, 2, 14), wrong, _addendum(3, 10, 2, measures={"gad7": 12})], today=TODAY)
    assert t.measure_series()["gad7"] == [(dt.date(2026, 11, 2), 14.0), (dt.date(2026, 11, 9), 12.0)]
    overview = pages.overview(t)
    row = next(line for line in overview.splitlines() if line.startswith("| GAD-7"))
    assert "| 12 (09 Nov 2026) *(corrected on [10 Nov 2026](" in row and "21" not in row
    assert "GAD-7 12 <em>(corrected on 10 Nov 2026)</em>" in pages.timeline(t)
    page = pages.session(t, next(e for e in t.entries if e.note_id == wrong.note_id))
    assert "**GAD-7** 12 *(corrected on [10 Nov 2026](" in page and "by an addendum; signed as 21)*" in page
    addendum = pages.session(t, next(e for e in t.entries if e.kind == "addendum"))
    assert "**GAD-7**" not in addendum  # counted once, on the session it belongs to


def test_a_corrected_risk_level_ranks_in_the_banner_and_is_marked() -> None:
    t = assemble(
        "AB-1",
        [_session(1, 9, 10), _addendum(2, 12, 1, risk="moderate - disclosed later: ideation with a plan")],
        today=TODAY,
    )
    banner = pages.safety_banner(t)
    assert banner[0] == '!!! warning "Risk: moderate on 09 Nov 2026, the highest in the last 90 days"'
    assert any("ideation with a plan *(corrected on 12 Nov 2026)*" in line for line in banner)
    page = pages.session(t, t.entries[-1])
    assert "signed as none - denies SI/HI" in page  # the original stays visible on its note


def test_a_draft_addendum_corrects_nothing_yet() -> None:
    t = assemble(
        "AB-1", [_session(1, 9, 21), _addendum(2, 10, 1, signed=False, measures={"gad7": 12})], today=TODAY
    )
    assert t.measure_series()["gad7"][-1][1] == 21.0
    assert "corrected" not in pages.overview(t)


# -- `casenotes cat` says it too -------------------------------------------------------------
def _sealed_with_addendum(practice: Env, addendum_status: str) -> str:
    """The story's 19 Jan session (GAD-7 9, risk low), then an addendum of 21 Jan that corrects
    the score to 15 and the risk to moderate; returns the session's note id."""
    seal_story(practice)
    fix = note(
        "aaaaaaaaaaaaaaa6",
        "2026-01-21",
        "addendum",
        status=addendum_status,
        extra="amends: aaaaaaaaaaaaaaa3\nmeasures:\n  gad7: 15\nrisk: moderate - disclosed later, a plan\n",
        body="## What is added or corrected\nScored from the wrong sheet.\n\n## Reason\nMistyped.\n",
    )
    (practice.practice.inbox / "a6.md").write_text(fix)
    done = practice.run("syncd", "--once")
    assert done.code == 0 and "sealed 1" in done.text, done.text + done.err
    return "aaaaaaaaaaaaaaa3"


def test_cat_says_beside_the_signed_note_the_score_and_risk_an_addendum_corrected(practice: Env) -> None:
    session = _sealed_with_addendum(practice, "signed")
    for args in (("cat", "AB-1"), ("cat", "AB-1", "--note", session)):
        shown = practice.run(*args)
        assert shown.code == 0, shown.err
        assert "gad7: 9" in shown.text  # the note as it was signed: the original stays visible
        assert (
            f"note {session}: GAD-7 15, corrected on 21 Jan 2026 (addendum aaaaaaaaaaaaaaa6); signed as 9"
        ) in shown.err, args
        assert (
            f"note {session}: risk moderate - disclosed later, a plan, corrected on 21 Jan 2026 "
            "(addendum aaaaaaaaaaaaaaa6); signed as low - passive thoughts, safety plan reviewed"
        ) in shown.err
    other = practice.run("cat", "AB-1", "--note", "aaaaaaaaaaaaaaa2")
    assert other.code == 0 and "corrected" not in other.err  # nothing said of a note not corrected


def test_cat_says_nothing_corrected_while_the_addendum_is_a_draft(practice: Env) -> None:
    _sealed_with_addendum(practice, "draft")
    shown = practice.run("cat", "AB-1")
    assert shown.code == 0 and "corrected on" not in shown.err
