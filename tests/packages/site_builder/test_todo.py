"""What needs me (issue 30, item 5): `casenotes todo [HANDLE]` and the site's "To do" page.

Nothing listed unsigned notes, plan reviews due, objectives past their target date,
pending co-signatures or homework never followed up.
"""

from __future__ import annotations

import datetime as dt

from conftest import Env
from site_fixtures import FINISHED, note

from site_builder import pages
from site_builder.timeline import Entry, assemble
from site_builder.todo import needs

TODAY = dt.date(2026, 12, 7)


def _entry(n: int, day: dt.date, signed: bool = True, kind: str = "soap", body: str = "", **meta) -> Entry:
    return Entry(f"{n:016x}", day, kind, meta, body, 1, signed)


def test_todo_lists_drafts_by_age_plan_dates_homework_and_risk_and_nothing_settled() -> None:
    plan = _entry(
        1,
        dt.date(2026, 9, 1),
        kind="treatment-plan",
        review_date=dt.date(2026, 12, 1),
        objectives=[
            {"objective": "In bed by 23:00", "target": dt.date(2026, 11, 1), "status": "in progress"},
            {"objective": "Two half days", "target": dt.date(2026, 11, 1), "status": "met"},
            {"objective": "Walk daily", "target": dt.date(2027, 1, 1), "status": "in progress"},
        ],
    )
    set_it = _entry(2, dt.date(2026, 10, 5), homework=["Sleep diary", "Call a friend"], risk="none")
    follow = _entry(3, dt.date(2026, 10, 12), body="- [x] Sleep diary: how did it go?\n")  # no risk
    old = _entry(4, dt.date(2026, 10, 19), risk="denies SI/HI")  # signed before levels
    newer_draft = _entry(5, dt.date(2026, 12, 1), signed=False, homework=["Walk"])
    older_draft = _entry(6, dt.date(2026, 11, 2), signed=False)
    found = needs(assemble("AB-1", [plan, set_it, follow, old, newer_draft, older_draft], today=TODAY))
    listed = [(item.what, item.text) for item in found]
    assert [what for what, _ in listed] == [
        "draft",
        "draft",
        "review",
        "objective",
        "homework",
        "risk",
        "risk",
    ], listed
    assert listed[0][1].startswith("soap of 02 Nov 2026, 35 days ago")  # the oldest draft first
    assert "In bed by 23:00 (target 01 Nov 2026, in progress)" == listed[3][1]
    assert listed[4][1] == "Call a friend (set 05 Oct 2026)"  # the diary was ticked off; this never was
    assert listed[5][1].endswith("not assessed") and listed[6][1].endswith("no level")
    assert not any("Walk" in text for _, text in listed)  # the next session has not come yet


def test_a_record_with_nothing_due_says_so() -> None:
    done = _entry(1, dt.date(2026, 12, 1), risk="none - denies SI/HI")
    page = pages.todo(assemble("AB-1", [done], today=TODAY))
    assert "Nothing: every note is signed, and nothing is past its date." in page


def test_todo_without_a_handle_reads_no_note_and_with_one_lists_the_clients(practice: Env) -> None:
    today = dt.datetime.now().astimezone().date()
    inbox = practice.practice.inbox
    signed_day = (today - dt.timedelta(days=30)).isoformat()
    plan = (
        "objectives:\n  - objective: Sleep six hours\n    target: 2026-01-31\n    status: in progress\n"
        'homework: ["Sleep diary"]\nrisk: none - denies SI/HI\n'
    )
    body = FINISHED.format("Subjective", "Objective", "Assessment", "Plan")
    (inbox / "plan.md").write_text(note("aaaaaaaaaaaaaaa1", signed_day, extra=plan, body=body))
    (inbox / "draft.md").write_text(note("aaaaaaaaaaaaaaa2", today.isoformat(), status="draft"))
    assert "sealed 2" in practice.run("syncd", "--once").text
    with practice.vault() as vault:
        decrypts = sum(1 for e in vault.audit.entries() if e.event.startswith("decrypt"))
    everyone = practice.run("todo", passphrase=None)
    assert everyone.code == 0, everyone.err
    assert "draft.md (draft, not signed;" in everyone.text and "`casenotes todo HANDLE`" in everyone.text
    with practice.vault() as vault:  # no passphrase asked, no note decrypted
        assert sum(1 for e in vault.audit.entries() if e.event.startswith("decrypt")) == decrypts
    one = practice.run("todo", "AB-1")
    assert one.code == 0, one.err
    text = one.text
    assert "Unsigned drafts:" in text and f"soap of {today:%d %b %Y}, today (note aaaaaaaaaaaaaaa2)" in text
    assert "Objectives past their target date:" in text and "Sleep six hours (target 31 Jan 2026" in text
    assert "Homework never followed up:" in text and "Sleep diary" in text
    assert "draft.md" not in text  # sealed already: listed once, as the record's draft


def test_a_draft_syncd_parked_overnight_is_still_listed_until_it_is_signed(practice: Env) -> None:
    from daemon import RunningDaemon, configure, wait_for
    from notes import note_text

    configure(practice, quiet_period_seconds=0.2, draft_ttl_hours=1.5 / 3600)
    draft = practice.practice.inbox / "2026-11-20-AB-1-soap.md"
    draft.write_text(note_text(note_id="0123456789abcdef", extra="risk: none\n"))
    running = RunningDaemon(practice).wait_ready()
    try:
        wait_for(lambda: not draft.exists(), timeout=20, what="the draft to be parked")
    finally:
        assert running.stop() == 0
    listed = practice.run("todo", passphrase=None)
    assert "Parked drafts:" in listed.text
    assert (
        "2026-11-20-AB-1-soap.md: parked draft, not signed (`casenotes edit 0123456789abcdef`" in listed.text
    )
    with practice.vault() as vault:  # signed since (as another machine could): no longer listed
        signed = note_text(note_id="0123456789abcdef", status="signed", extra="risk: none\n")
        vault.seal(vault.resolve("AB-1"), "0123456789abcdef", signed.encode(), final=True)
    assert "Parked drafts:" not in practice.run("todo", passphrase=None).text
