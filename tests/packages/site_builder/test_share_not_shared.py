"""A share says what was not shared (issue 30, item 2).

A colleague who received a share read "risk not assessed" on every session when risk was
not among the consented sections: it must say "not shared", and tell nothing of the note.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from note_templates.excerpt import for_consent
from note_templates.front_matter import parse_sealed
from site_builder import pages
from site_builder.timeline import Entry, assemble

NOTE = (
    '---\nid: {id}\nclient: AB-1\ndate: {day}\ntime: "10:00"\ntemplate: soap\nstatus: signed\n'
    "measures:\n  gad7: 12\nrisk: {risk}\n---\n\n# Session\n\n## Assessment\nSteady.\n\n## Plan\nNext week.\n"
)


def _shared(sections: list[str], risks: list[str]) -> list[Entry]:
    notes = [
        (f"{n:016x}", NOTE.format(id=f"{n:016x}", day=f"2026-11-{n + 1:02d}", risk=risk).encode())
        for n, risk in enumerate(risks, 1)
    ]
    entries = []
    for note_id, text in for_consent(notes, None, dt.date(2026, 12, 31), sections, psychotherapy=False):
        meta, body = parse_sealed(text, Path(note_id))
        entries.append(Entry(note_id, meta["date"], "soap", meta, body, 1, True))
    return entries


def test_a_share_without_risk_reads_not_shared_and_never_not_assessed() -> None:
    entries = _shared(["Assessment"], ["high - overdose considered", "none - denies SI/HI"])
    assert all("overdose" not in str(e.meta) and "gad7" not in str(e.meta) for e in entries)
    t = assemble("AB-1", entries, today=dt.date(2026, 12, 7))
    overview, timeline = pages.overview(t), pages.timeline(t)
    assert "not assessed" not in overview + timeline
    assert "risk not shared" in timeline and "Risk: not shared with you" in overview
    assert "*not shared*" in pages.session(t, t.entries[0])


def test_a_share_that_names_risk_carries_its_level() -> None:
    entries = _shared(["Assessment", "risk"], ["high - overdose considered", "none - denies SI/HI"])
    t = assemble("AB-1", entries, today=dt.date(2026, 12, 7))
    assert t.safety().level == "high" and "not shared" not in pages.timeline(t)


def test_a_shared_score_arrives_with_its_correction() -> None:
    """The issue's bundle: an addendum corrected a GAD-7, and the wrong score was shared."""
    wrong = NOTE.format(id="aaaaaaaaaaaaaaa1", day="2026-11-02", risk="none").replace("gad7: 12", "gad7: 21")
    addendum = (
        '---\nid: aaaaaaaaaaaaaaa2\nclient: AB-1\ndate: 2026-11-03\ntime: "09:00"\ntemplate: addendum\n'
        "amends: aaaaaaaaaaaaaaa1\nstatus: signed\nmeasures:\n  gad7: 12\n---\n\n## Reason\nMistyped.\n"
    )
    notes = [("aaaaaaaaaaaaaaa1", wrong.encode()), ("aaaaaaaaaaaaaaa2", addendum.encode())]
    entries = []
    for note_id, text in for_consent(notes, None, dt.date(2026, 12, 31), ["Assessment", "measures"], False):
        meta, body = parse_sealed(text, Path(note_id))
        entries.append(
            Entry(note_id, meta["date"], str(meta["template"]), meta, body, 1, meta["status"] == "signed")
        )
    t = assemble("AB-1", entries, today=dt.date(2026, 12, 7))
    assert t.measure_series()["gad7"] == [(dt.date(2026, 11, 2), 12.0)]
    assert "corrected on" in pages.overview(t)
