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


def test_status_sums_up_syncds_jobs_in_a_line_and_names_one_that_fell_behind(practice: Env) -> None:
    import json

    now = dt.datetime.now(dt.UTC)
    jobs = {
        name: (now - dt.timedelta(minutes=n)).isoformat()
        for n, name in enumerate(["backup", "sweep", "rescan"])
    }
    jobs["retention"] = (now - dt.timedelta(days=3)).isoformat()
    state = practice.practice.state_dir / "state.json"
    state.parent.mkdir(exist_ok=True)
    state.write_text(json.dumps({"jobs": jobs}))
    lines = [line for line in practice.run("status").text.splitlines() if line.startswith("job")]
    assert len(lines) == 1, lines  # not a row a job
    assert (
        lines[0].startswith("jobs: 4 scheduled; the one run longest ago: retention")
        and "3 days ago" in lines[0]
    )
    jobs["retention"] = now.isoformat()
    jobs["backup"] = (now - dt.timedelta(days=2)).isoformat()
    jobs["sweep"] = (now - dt.timedelta(days=5)).isoformat()
    state.write_text(json.dumps({"jobs": jobs}))
    lines = [line for line in practice.run("status").text.splitlines() if line.startswith("job")]
    assert (
        "longest ago: sweep" in lines[0] and lines[1].startswith("job backup: last ran") and len(lines) == 2
    )
