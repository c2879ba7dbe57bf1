"""A client's rights, kept by the tool: requests and their legal clocks, the accounting of
disclosures, and who read the record (vault/rights/, casenotes/rights_commands.py)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.commands import erasure_request, request_id
from helpers.people import BEA_PASS, People, consent_for_cleo, ok, seal
from helpers.people import people as people  # a fixture: Alex and Bea in one practice, Cleo elsewhere
from pypdf import PdfReader

from site_builder import build_site
from vault import Passphrase
from vault.format import retention_facts
from vault.format import rights as sealed
from vault.format.encoding import new_id
from vault.rights import requests
from vault.rights.requests import add_months, deadline

TODAY = dt.datetime.now(dt.UTC).astimezone().date()


@pytest.mark.parametrize(
    ("kind", "received", "extended", "due"),
    [
        ("access", "2026-01-01", False, "2026-01-31"),
        ("access", "2026-01-01", True, "2026-03-02"),
        ("amendment", "2026-01-01", False, "2026-03-02"),
        ("amendment", "2026-01-01", True, "2026-04-01"),
        ("accounting", "2026-02-10", False, "2026-04-11"),
        ("erasure", "2026-01-31", False, "2026-02-28"),  # one month, the shorter month's end
        ("erasure", "2026-01-31", True, "2026-04-28"),  # + two months
        ("erasure", "2027-12-15", False, "2028-01-15"),
    ],
)
def test_each_kind_of_request_is_due_when_the_law_says(
    kind: str, received: str, extended: bool, due: str
) -> None:
    assert deadline(kind, dt.date.fromisoformat(received), extended) == dt.date.fromisoformat(due)


def test_a_month_later_keeps_the_day_or_the_months_end() -> None:
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_a_sealed_fact_opens_only_for_its_own_client_and_record() -> None:
    key = retention_facts.key(b"k" * 32)
    client, record = new_id(), new_id()
    value = sealed.seal_fact(key, client, record, {"kind": "access"})
    assert sealed.open_fact(value, key, client, record) == {"kind": "access"}
    for wrong in (
        (key, new_id(), record),
        (key, client, new_id()),
        (retention_facts.key(b"x" * 32), client, record),
    ):
        with pytest.raises(sealed.Unreadable):
            sealed.open_fact(value, *wrong)
    short, long = (
        sealed.seal_fact(key, client, record, {"kind": "access"}),
        sealed.seal_fact(key, client, record, {"kind": "accounting"}),
    )
    assert len(short) == len(long)  # the length names no kind


def test_a_request_is_listed_with_its_deadline_and_what_is_left_then_closed(practice: Env) -> None:
    received = TODAY - dt.timedelta(days=25)
    result = practice.run(
        "request",
        "add",
        "AB-1",
        "--kind",
        "access",
        "--received",
        received.isoformat(),
        "--note",
        "-",
        stdin="wants a copy of every note for the new therapist (zorblatt)\n",
    )
    assert result.code == 0, result.err
    rid = request_id(result.text)
    due = received + dt.timedelta(days=30)
    assert f"due {due}" in result.text
    listed = ok(practice, "request", "list")
    assert rid in listed and due.isoformat() in listed and "5 days left" in listed
    assert "casenotes export" in listed  # what is left to do
    # the client's words are nowhere in the vault's clear bytes
    assert not any(b"zorblatt" in p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file())
    extended = ok(practice, "request", "extend", rid[:6], "--reason", "the records are in storage")
    assert f"now due {due + dt.timedelta(days=30)}" in extended
    again = practice.run("request", "extend", rid, "--reason", "more time")
    assert again.code == 1 and "one extension" in again.err
    ok(practice, "request", "close", rid, "--outcome", "copy handed over in person")
    assert rid not in ok(practice, "request", "list")
    assert "closed" in ok(practice, "request", "list", "--all")
    closed = practice.run("request", "close", rid, "--outcome", "again")
    assert closed.code == 1 and "was closed on" in closed.err
    vault = practice.vault()
    me = vault.unlock(Passphrase(PASSPHRASE))
    found = requests.with_texts(
        requests.find(vault, rid), vault.keyring.client_keys(me, vault.resolve("AB-1"))
    )
    assert "zorblatt" in found.texts["rights-request:note"]
    assert found.texts["rights-close:outcome"] == "copy handed over in person"


def test_a_request_past_or_near_its_deadline_is_named_by_todo_and_doctor(
    practice: Env, tmp_path: Path
) -> None:
    late = ok(
        practice,
        "request",
        "add",
        "AB-1",
        "--kind",
        "accounting",
        "--received",
        (TODAY - dt.timedelta(days=61)).isoformat(),
    )
    near = ok(
        practice,
        "request",
        "add",
        "AB-1",
        "--kind",
        "erasure",
        "--received",
        (add_months(TODAY, -1) + dt.timedelta(days=3)).isoformat(),
    )
    far = ok(
        practice,
        "request",
        "add",
        "AB-1",
        "--kind",
        "amendment",
        "--about",
        seal(practice, "2026-10-01", "x"),
        "--received",
        TODAY.isoformat(),
    )
    todo = ok(practice, "todo")
    assert request_id(late) in todo and "1 day late" in todo
    assert request_id(near) in todo and "3 days left" in todo
    assert request_id(far) not in todo
    own = ok(practice, "todo", "AB-1")  # one client's list: the site's To do page's
    assert "Client's requests near or past their deadline:" in own
    assert request_id(late) in own and request_id(near) in own and request_id(far) not in own
    assert own.count("accounting request") == 1  # listed once, not by both lists
    vault = practice.vault()
    directory = tmp_path / "ram"
    directory.mkdir()
    site = build_site(vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), "AB-1", directory)
    page = (site.html / "todo.html").read_text()
    assert request_id(late) in page and "1 day late" in page and request_id(far) not in page
    doctor = practice.run("doctor")
    assert request_id(late) in doctor.text + doctor.err and request_id(far) not in doctor.text + doctor.err


def test_a_request_refuses_a_future_date_an_unknown_id_and_an_amendment_without_a_note(practice: Env) -> None:
    future = practice.run(
        "request", "add", "AB-1", "--kind", "access", "--received", (TODAY + dt.timedelta(days=2)).isoformat()
    )
    assert future.code == 2 and "in the future" in future.err
    unknown = practice.run("request", "close", "abcdef12", "--outcome", "x")
    assert unknown.code == 1 and "no request abcdef12" in unknown.err
    bare = practice.run("request", "add", "AB-1", "--kind", "amendment")
    assert bare.code == 2 and "--about NOTE" in bare.err
    assert "No requests." in ok(practice, "request", "list")


def test_disclosures_list_a_share_and_a_hand_entry_with_date_recipient_and_purpose(
    people: People, tmp_path: Path
) -> None:
    seal(people.alex, "2026-10-01", "the session")
    consent_id = consent_for_cleo(people)
    ok(people.alex, "share", "AB-1", "--consent", consent_id, "-o", str(tmp_path / "b.casenotes"))
    ok(
        people.alex,
        "disclosures",
        "add",
        "AB-1",
        "--to",
        "County Court",
        "--purpose",
        "court order",
        "--what",
        "treatment summary letter",
        "--date",
        "2025-03-04",
    )
    listed = ok(people.alex, "disclosures", "AB-1")
    assert "2025-03-04" in listed and "County Court" in listed and "court order" in listed
    assert "treatment summary letter" in listed
    assert "Cleo" in listed and "referral for assessment" in listed and TODAY.isoformat() in listed
    since = ok(people.alex, "disclosures", "AB-1", "--since", "2026-01-01")
    assert "County Court" not in since and "Cleo" in since
    # the client's copy: a PDF holding the same rows, a new file only its owner reads
    copy = tmp_path / "accounting.pdf"
    ok(people.alex, "disclosures", "AB-1", "--pdf", str(copy))
    pdf = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(copy).pages)
    assert "Accounting of disclosures" in pdf and "County Court" in pdf and "court order" in pdf
    assert "treatment summary letter" in pdf and "referral for assessment" in pdf
    assert copy.stat().st_mode & 0o777 == 0o600
    again = people.alex.run("disclosures", "AB-1", "--pdf", str(copy))
    assert again.code == 2 and "exists" in again.err and "Traceback" not in again.err
    inside = people.alex.run("disclosures", "AB-1", "--pdf", str(people.alex.practice.root / "a.pdf"))
    assert inside.code == 2 and "inside the practice folder" in inside.err
    # the recipient and purpose are sealed: not in any clear byte of the vault
    assert not any(b"County Court" in p.read_bytes() for p in people.alex.vault_dir.rglob("*") if p.is_file())


def test_the_access_report_lists_a_colleagues_open(people: People) -> None:
    seal(people.alex, "2026-10-01", "the session")
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    opened = subprocess.run(
        [sys.executable, "-m", "casenotes", "open", "AB-1", "--no-browser", "--idle-timeout", "0.05"],
        env={**people.bea.env, "CASENOTES_PASSPHRASE": BEA_PASS},
        capture_output=True,
        timeout=120,
    )
    assert opened.returncode == 0, opened.stderr.decode()
    report = ok(people.alex, "access-report", "AB-1")
    lines = [line for line in report.splitlines() if "Bea" in line]
    assert any("opened the record (casenotes open)" in line for line in lines), report
    assert any(TODAY.isoformat() in line for line in lines)
    assert "Alex" not in report  # the practitioner's own reads are "you"
    assert "you" in report
    copy = people.alex.practice.root.parent / "access-report.pdf"
    ok(people.alex, "access-report", "AB-1", "--pdf", str(copy))
    pdf = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(copy).pages)
    assert "Access report" in pdf and "Bea" in pdf and "opened the record (casenotes open)" in pdf
    # a request recorded on one machine is on the other's clock: the key of the facts is the practice's
    rid = request_id(ok(people.alex, "request", "add", "AB-1", "--kind", "access"))
    assert rid in ok(people.bea, "request", "list", passphrase=BEA_PASS)


# -- erasure --------------------------------------------------------------------------------
def test_erasure_is_refused_inside_retention_naming_the_law_and_the_date(practice: Env) -> None:
    seal(practice, TODAY.isoformat(), "the current session")
    rid = erasure_request(practice, "AB-1")
    refused = practice.run("retention", "erase", "AB-1", "--request", rid, "--confirm")
    assert refused.code == 1, refused.err
    assert "APA Record Keeping Guidelines" in refused.err and "nothing was destroyed" in refused.err
    assert str(TODAY.year + 7) in refused.err  # the date the record is kept until
    assert "quill" not in refused.err and "AB-1" not in refused.err
    assert b"the current session" in practice.run("cat", "AB-1").out
    wrong = practice.run("retention", "erase", "AB-1", "--request", "abcdef12", "--confirm")
    assert wrong.code == 1 and "no request abcdef12" in wrong.err
    bare = practice.run("retention", "erase", "AB-1", "--request", rid, "--override-retention", "--confirm")
    assert bare.code == 2 and "go together" in bare.err


def test_a_hold_stops_an_erasure_even_with_an_override(practice: Env) -> None:
    from helpers.commands import past_client

    past_client(practice, "OLD-1")
    rid = erasure_request(practice, "OLD-1")
    ok(practice, "retention", "hold", "OLD-1", "--reason", "a subpoena")
    for extra in ((), ("--override-retention", "--reason", "client asked")):
        held = practice.run("retention", "erase", "OLD-1", "--request", rid, "--confirm", *extra)
        assert held.code == 1 and "legal hold" in held.err
    assert "zephyrquill" in practice.run("cat", "OLD-1").text


def test_erasure_outside_retention_leaves_no_readable_byte_in_the_vault_or_any_snapshot(
    practice: Env, tmp_path: Path
) -> None:
    from helpers.commands import past_client, targets

    drive = tmp_path / "usb"
    targets(practice, str(drive))
    gone = past_client(practice, "OLD-1")
    seal(practice, TODAY.isoformat(), "the kept session")
    rid = erasure_request(practice, "OLD-1")
    ok(
        practice,
        "disclosures",
        "add",
        "OLD-1",
        "--to",
        "Insurer Z",
        "--purpose",
        "claim",
        "--what",
        "invoice dates",
    )
    for _ in range(2):
        ok(practice, "backup", "run")
    not_asked = practice.run("retention", "erase", "OLD-1", "--request", rid)
    assert not_asked.code == 2 and "--confirm" in not_asked.err
    done = ok(practice, "retention", "erase", "OLD-1", "--request", rid, "--confirm")
    assert f"erased client {gone}" in done
    certificate = next((practice.vault_dir / "disposals").glob(f"{gone}.*.md")).read_text()
    assert (
        rid in certificate
        and "GDPR Art. 17" in certificate
        and "erased at the client's request" in certificate
    )
    assert "OLD-1" not in certificate and "quillomb" not in certificate
    assert not (practice.vault_dir / "clients" / gone).exists()
    missing = practice.run("cat", "OLD-1")
    assert missing.code == 1
    # the request is closed, and its words went with the client's key
    vault = practice.vault()
    closed = requests.find(vault, rid)
    assert closed.closed == TODAY
    assert requests.with_texts(closed, [vault.unlock(Passphrase(PASSPHRASE)).box_key]).texts == {}
    names = [
        line.split()[0] for line in ok(practice, "backup", "list", "--from", str(drive)).splitlines()[1:]
    ]
    assert len(names) == 2
    for name in names:
        into = tmp_path / f"restored-{name}"
        ok(practice, "backup", "restore", name, str(into), "--from", str(drive))
        restored = Env(
            practice.practice.__class__(into, practice.practice.config_dir),
            {**practice.env, "CASENOTES_HOME": str(into)},
        )
        assert restored.run("cat", "OLD-1").code == 1
        assert b"the kept session" in restored.run("cat", "AB-1").out  # the other client is whole
        assert not (into / "vault" / "clients" / gone).exists()
        assert not [p for p in into.rglob("*.sealed") if gone in str(p)]
    assert ok(practice, "verify").startswith("vault OK")
    # the accounting outlives the record, by the id the certificate names (six years)
    kept = ok(practice, "disclosures", gone)
    assert "Insurer Z" in kept and "claim" in kept and "invoice dates" in kept
    unknown = practice.run("disclosures", "0123456789abcdef")
    assert unknown.code == 1 and "no client has this handle" in unknown.err


def test_an_override_erases_inside_retention_and_keeps_its_reason_sealed(practice: Env) -> None:
    ok(practice, "client", "add", "NEW-1")
    rid = erasure_request(practice, "NEW-1")
    done = practice.run(
        "retention",
        "erase",
        "NEW-1",
        "--request",
        rid,
        "--override-retention",
        "--reason",
        "-",
        "--confirm",
        stdin="no retention law applies: never treated (wrongfully created, xylofant)\n",
    )
    assert done.code == 0, done.err
    certificate = next((practice.vault_dir / "disposals").glob("*.md")).read_text()
    assert "overridden as a documented exception" in certificate and "xylofant" not in certificate
    assert not any(b"xylofant" in p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file())


# -- exports, as `casenotes export` records them ---------------------------------------------
def test_an_export_is_a_disclosure_and_an_access_in_either_shape_the_export_may_write(practice: Env) -> None:
    from vault.rights import disclosures

    vault = practice.vault()
    client_id = vault.resolve("AB-1")
    disclosures.record(
        vault, client_id, TODAY, "the client", "right of access", "PDF of the record", event="export"
    )
    vault.audit.append(
        "export", client=client_id, recipient="Dr Q (GP)", purpose="continuity of care", what="letter"
    )
    vault.close()
    listed = ok(practice, "disclosures", "AB-1")
    assert "the client" in listed and "right of access" in listed and "PDF of the record" in listed
    assert "Dr Q (GP)" in listed and "continuity of care" in listed
    assert listed.count(" export ") == 2
    assert "exported a copy of the record" in ok(practice, "access-report", "AB-1")


def test_a_forged_disclosure_line_is_not_believed(practice: Env) -> None:
    """A line appended by whoever can write the folder, signed by no registered device."""
    import json

    vault = practice.vault()
    client_id = vault.resolve("AB-1")
    log = next((practice.vault_dir / "audit").glob("*.log"))
    forged = {
        "seq": 999,
        "time": "2026-01-01T00:00:00Z",
        "device": log.stem,
        "event": "export",
        "data": {"client": client_id, "recipient": "Mallory", "purpose": "x", "what": "y"},
        "prev": "0" * 64,
        "sig": "A" * 88,
    }
    with log.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    assert "Mallory" not in ok(practice, "disclosures", "AB-1")


def test_a_report_renders_as_text_and_as_html_with_every_value_escaped() -> None:
    from site_builder.reports import Report, html_page, text

    report = Report(
        "Access report: AB-1",
        ("Since 01 Jan 2026.",),
        ("when", "who"),
        (("2026-01-02 10:00", "<script>alert(1)</script>"),),
        "none",
    )
    page = html_page(report)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<table>" in page
    lines = text(report).splitlines()
    assert lines[0] == "Access report: AB-1" and lines[3].startswith("when") and "<script>" in lines[5]
    assert "none" in text(Report("t", (), ("a",), (), "none"))
