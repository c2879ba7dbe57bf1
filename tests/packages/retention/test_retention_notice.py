"""Notice before disposal counts from the day casenotes first said a client is past
retention, not from the due date: records entered late are never destroyed unannounced."""

from __future__ import annotations

import datetime as dt

from conftest import Env
from helpers.retention_vault import APA, Clock, add
from helpers.retention_vault import clock as clock  # a fixture
from helpers.retention_vault import vault as vault  # a fixture
from notes import note_text, write_note

from retention import records
from retention.policy import decide
from retention.purge import run, scan
from syncd.filing import file_note
from vault import Vault


def test_paper_records_typed_in_late_get_the_whole_notice_before_syncd_destroys_them(
    vault: Vault, clock: Clock
) -> None:
    clock.set("2019-03-01")
    late = add(vault, "PAPER-1", ["2010-01-01"])  # kept until 2017: due by the dates long ago
    first = run(vault, APA, [], unattended=True)
    assert first.purged == [] and first.announced == [late]
    assert records.current(vault, late).notices == (dt.date(2019, 3, 1),)
    clock.set("2019-03-30")  # 29 days of notice
    assert run(vault, APA, [], unattended=True).purged == []
    assert run(vault, APA, [], unattended=True).announced == []  # said once, not every night
    clock.set("2019-03-31")  # the 30 days have passed since it was first said
    assert run(vault, APA, [], unattended=True).purged == [late]


def test_a_person_reviewing_the_list_may_purge_what_the_dates_say_is_due(vault: Vault, clock: Clock) -> None:
    clock.set("2019-03-01")
    late = add(vault, "PAPER-1", ["2010-01-01"])
    assert run(vault, APA, [], unattended=False).purged == [late]  # `retention purge`, confirmed


def test_a_notice_from_an_earlier_cycle_does_not_count(vault: Vault, clock: Clock) -> None:
    clock.set("2019-03-01")
    client_id = add(vault, "BACK-1", ["2010-01-01"])
    assert run(vault, APA, [], unattended=True).announced == [client_id]
    path = vault.root.parent / "inbox" / "back.md"  # the client came back: kept until 2026 now
    path.write_text(note_text(client="BACK-1", date="2019-03-02", note_id=None))
    file_note(vault, path)
    clock.set("2026-04-01")  # past the new date, and years past the old notice
    [row] = scan(vault, APA, clock().date())
    assert row.announced_now and row.decision is not None and row.facts is not None
    assert row.decision.announced == dt.date(2026, 4, 1)
    for day, ready in ((dt.date(2026, 4, 30), False), (dt.date(2026, 5, 1), True)):
        assert decide(row.facts, APA, day).purgeable_unattended(day) is ready


def enter_old_records(practice: Env) -> None:
    """Paper notes of 2010 typed in today, and the discharge date that went with them."""
    note = write_note(practice.practice.root / "typed-in", date="2010-01-05", status="signed")
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("client", "close", "AB-1", "--on", "2010-02-01").code == 0


def test_syncd_never_destroys_old_records_entered_today_without_notice(practice: Env) -> None:
    enter_old_records(practice)
    practice.run("syncd", "--once")  # the nightly retention job is due at once
    assert "AB-1" in practice.run("client", "list").text
    status = practice.run("retention", "status").text
    today = dt.datetime.now(dt.UTC).date()
    assert f"announced {today}" in status
    assert f"by syncd from {today + dt.timedelta(days=APA.notice_days)}" in status


def test_the_dry_run_and_the_status_line_name_clients_by_handle_with_the_passphrase(practice: Env) -> None:
    client_id = practice.vault().client_ids()[0]
    enter_old_records(practice)
    dry = practice.run("retention", "purge", "--dry-run")
    assert f"due: client AB-1 ({client_id})" in dry.text
    assert "purges: 1 due (AB-1)" in practice.run("status").text
    anonymous = practice.run("retention", "purge", "--dry-run", passphrase=None)
    assert f"due: client {client_id}," in anonymous.text and "AB-1" not in anonymous.text
    assert "purges: 1 due;" in practice.run("status", passphrase=None).text
