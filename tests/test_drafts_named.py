"""A draft never passes for a record (issue 30, item 5; invariant 9).

`status` called an unsigned draft "sealed, revision 2"; the overview took a draft's scores
as the latest and its homework as "set last session" without saying it was a draft.
"""

from __future__ import annotations

import datetime as dt

from conftest import Env
from notes import note_text

from site_builder import pages
from site_builder.timeline import Entry, assemble


def test_status_names_a_sealed_draft_a_draft_and_a_signed_note_signed(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "draft.md").write_text(note_text(note_id="aaaaaaaaaaaaaaaa", extra="risk: none\n"))
    assert "sealed 1" in practice.run("syncd", "--once").text
    (inbox / "draft.md").write_text(note_text(note_id="aaaaaaaaaaaaaaaa", extra="risk: none\n", body="More."))
    assert "sealed 1" in practice.run("syncd", "--once").text
    (inbox / "signed.md").write_text(note_text(note_id="bbbbbbbbbbbbbbbb", status="signed"))
    lines = {line.split()[0]: line for line in practice.run("status").text.splitlines() if line.strip()}
    assert "draft, sealed as revision 2, not signed" in lines["draft.md"]
    assert "signed, not sealed yet" in lines["signed.md"]
    assert "sealed, revision" not in "\n".join(lines.values())


def _entry(note_id: str, day: int, signed: bool, meta: dict) -> Entry:
    base = {"risk": "none - denies SI/HI", **meta}
    return Entry(note_id, dt.date(2026, 11, day), "soap", base, "Session text.", 1, signed)


def test_the_overview_marks_a_drafts_scores_homework_and_session_as_a_draft() -> None:
    signed = _entry("a" * 16, 2, True, {"measures": {"phq9": 14, "gad7": 9}, "homework": ["Sleep diary"]})
    draft = _entry("b" * 16, 9, False, {"measures": {"phq9": 8}, "homework": ["Walk twice"]})
    page = pages.overview(assemble("AB-1", [signed, draft], today=dt.date(2026, 11, 20)))
    phq9 = next(line for line in page.splitlines() if line.startswith("| PHQ-9"))
    gad7 = next(line for line in page.splitlines() if line.startswith("| GAD-7"))
    assert "8 (09 Nov 2026) *(draft, not signed)*" in phq9  # the latest score is a draft's, and says so
    assert "draft" not in gad7  # the signed note's score stands as it is
    assert "- Walk twice (set [09 Nov 2026](" in page and "Walk twice" in page.split("## Open homework")[1]
    homework = page.split("## Open homework")[1].split("##")[0]
    assert "*(draft, not signed)*" in homework
    assert "(SOAP) *(draft, not signed)*" in page  # the last session line
    banner = page.split("## ")[0]
    assert "**Last session** ([09 Nov 2026](" in banner and "*(draft, not signed)*" in banner


def test_a_signed_last_session_carries_no_draft_mark() -> None:
    signed = _entry("a" * 16, 2, True, {"measures": {"phq9": 14}, "homework": ["Sleep diary"]})
    page = pages.overview(assemble("AB-1", [signed], today=dt.date(2026, 11, 20)))
    assert "draft" not in page
