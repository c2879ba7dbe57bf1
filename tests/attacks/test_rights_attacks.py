# ruff: noqa: F811  (`machines` is the fixture imported from helpers/group_purge.py)
"""The client's-rights commands attacked (issue 32, after issue 28's principle: a signature
says who wrote a line, not that they were allowed to). Two machines whose vaults are
merged as a sync engine merges them (tests/helpers/group_purge.py `Sync`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import PASSPHRASE
from helpers.group_purge import APA, _due, _readable, _standing, machines, three  # noqa: F401  # noqa: F401 (the fixture)
from helpers.people import people  # noqa: F401 (the fixture)
from helpers.retention_vault import add

from retention import agreement, certificate, intents, records
from retention.erasure import ErasureHeld, Pending, erase
from retention.errors import ClientHeld
from retention.purge import run
from vault import Passphrase
from vault.format.encoding import new_id
from vault.rights import requests


def test_an_erasure_in_a_group_practice_never_destroys_past_a_hold_placed_while_apart(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)  # past retention on both machines
    asked = requests.add(desk, client_id, "erasure", dt.date(2029, 12, 20))
    records.place_hold(laptop, client_id, "fictional subpoena")  # apart: the desk does not know
    first = erase(desk, client_id, asked.request_id, APA, [])
    assert first == Pending((laptop.device.device_id,), True)  # only an intent: nothing destroyed
    assert certificate.all_certificates(desk) == {}
    sync()
    acked, held = intents.acknowledge(laptop, APA)
    assert acked == [] and held == [(client_id, "1 hold(s) in force here")]
    sync()
    with pytest.raises(ClientHeld):  # the hold itself has now arrived too
        erase(desk, client_id, asked.request_id, APA, [])
    assert certificate.all_certificates(desk) == {}
    sync()
    assert _readable(desk, client_id) == 1 and _readable(laptop, client_id) == 1
    assert requests.find(desk, asked.request_id).closed is None  # still to be answered

    records.release_holds(laptop, client_id)  # released: the stopped intent is never carried out
    sync()
    with pytest.raises(ErasureHeld) as stopped:  # it says who stopped it, and asks again
        erase(desk, client_id, asked.request_id, APA, [])
    assert laptop.device.device_id in str(stopped.value) and "hold" in str(stopped.value)
    assert certificate.all_certificates(desk) == {}
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])
    sync()
    path = erase(desk, client_id, asked.request_id, APA, [])
    assert isinstance(path, Path) and asked.request_id in path.read_text()
    assert client_id not in desk.client_ids()
    assert requests.find(desk, asked.request_id).closed is not None
    sync()  # the laptop agrees to the purge that follows, from its own facts: no notice asked
    assert agreement.settle(laptop, APA, intents.unacknowledged) == ([client_id], [])


def test_an_erasure_intent_naming_no_request_here_is_not_acknowledged(machines) -> None:
    """An intent names a request the other machine does not have in its signed log (made up,
    or a line no registered device signed): it is stopped there, and nothing is destroyed."""
    desk, laptop, sync, clock, client_id = _due(machines)
    access = requests.add(desk, client_id, "access", dt.date(2029, 12, 20))
    for named in (new_id(), access.request_id):  # none at all; a request, but not an erasure
        intents.erasure_intent(desk, client_id, named)
        sync()
        acked, held = intents.acknowledge(laptop, APA)
        assert acked == [] and held == [
            (client_id, f"no erasure request {named} of this client in the signed log here")
        ]
        sync()
        [state] = [s for s in _standing(desk) if s.intent.request == named]
        assert not state.agreed and state.held
    assert _readable(desk, client_id) == 1 and certificate.all_certificates(desk) == {}


# -- authority: a revoked colleague's still-registered machine -------------------------------
def test_a_revoked_colleague_cannot_close_extend_decide_or_ask_for_an_erasure(tmp_path) -> None:
    """Carol's machine still signs lines that check, but Alex revoked her from AB-1: what she
    writes of AB-1's requests afterwards is no request, closes nothing, decides nothing."""
    from helpers.four_practitioners import _machine, _revoke, four_practitioners

    from vault.rights import amendments

    practice = four_practitioners(tmp_path)
    note = practice.seal("alex", "Session: fictional.")
    with practice.vault("alex") as alex:
        access = requests.add(alex, practice.client, "access", dt.date(2026, 1, 5))
        amendment = requests.add(alex, practice.client, "amendment", dt.date(2026, 1, 5), about=note)
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:  # her casenotes needs no passphrase for these
        requests.close(carol, requests.find(carol, access.request_id), "sent", dt.date(2026, 1, 6))
        requests.extend(carol, requests.find(carol, amendment.request_id), "busy", dt.date(2026, 1, 6))
        amendments.deny(carol, requests.find(carol, amendment.request_id), "fictional forged reason")
        forged = requests.add(carol, practice.client, "erasure", dt.date(2026, 1, 6))

    with practice.vault("alex") as alex:
        shown = {r.request_id: r for r in requests.load(alex, practice.client)}
        assert set(shown) == {access.request_id, amendment.request_id}  # hers is no request
        assert shown[access.request_id].closed is None  # still to be answered, on time
        assert shown[amendment.request_id].extended is None and shown[amendment.request_id].decisions == ()
        with pytest.raises(requests.UnknownRequest):  # so an erase has nothing to act on
            requests.find(alex, forged.request_id)
        # Alex's own answers still count, and Bea's (she holds the client) too.
        requests.close(alex, shown[access.request_id], "sent", dt.date(2026, 1, 7))
    with practice.vault("bea") as bea:
        requests.extend(bea, requests.find(bea, amendment.request_id), "complex", dt.date(2026, 1, 7))
    with practice.vault("alex") as alex:
        after = {r.request_id: r for r in requests.load(alex, practice.client)}
        assert after[access.request_id].closed == dt.date(2026, 1, 7)
        assert after[amendment.request_id].extended == dt.date(2026, 1, 7)


# -- an override needs the passphrase ---------------------------------------------------------
def test_an_override_of_retention_is_not_made_by_someone_without_the_passphrase(practice) -> None:
    """Whoever sits at the unlocked machine may record a request (no passphrase), but
    destroying a record, and its backups, that the law still keeps is the practitioner's
    documented exception: it asks for the passphrase."""
    from helpers.commands import erasure_request

    assert practice.run("client", "add", "NEW-1").code == 0
    rid = erasure_request(practice, "NEW-1")
    args = (
        "retention",
        "erase",
        "NEW-1",
        "--request",
        rid,
        "--override-retention",
        "--reason",
        "-",
        "--confirm",
    )
    for passphrase in (None, "not the fictional passphrase"):
        refused = practice.run(*args, stdin="never treated\n", passphrase=passphrase)
        assert refused.code != 0 and "erased client" not in refused.text
        assert "passphrase" in refused.err.lower()
        assert not list((practice.vault_dir / "disposals").glob("*.md"))
    assert "NEW-1" in practice.run("client", "list").text  # still a client, its request still open
    assert rid in practice.run("request", "list", "NEW-1").text


# -- the accounting of disclosures -------------------------------------------------------------
def test_a_colleagues_line_neither_hides_the_accounting_nor_passes_as_an_entitled_disclosure(
    tmp_path,
) -> None:
    """A revoked colleague's machine writes a signed ``disclosure`` line with no readable
    date (which stopped the whole accounting), and a disclosure of a client she no longer
    holds: the real disclosures are listed, hers is listed as what it is."""
    from helpers.four_practitioners import _machine, _revoke, four_practitioners

    from vault.format.encoding import new_id
    from vault.rights import disclosures

    practice = four_practitioners(tmp_path)
    with practice.vault("alex") as alex:
        disclosures.record(alex, practice.client, dt.date(2026, 1, 5), "Dr Q (GP)", "care", "a letter")
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:
        carol.audit.append("disclosure", client=practice.client, disclosure=new_id())  # no fact, no date
        disclosures.record(carol, practice.client, dt.date(2026, 1, 6), "Insurer Z", "claim", "dates")

    with practice.vault("alex") as alex:
        names = {practice.ids["carol"]: "Carol", practice.ids["alex"]: "you"}
        rows = disclosures.accounting(alex, practice.client, dt.date(2020, 1, 1), names, {})
    assert [(r.recipient, r.by) for r in rows if r.recipient == "Dr Q (GP)"] == [("Dr Q (GP)", "you")]
    [hers] = [r for r in rows if r.recipient == "Insurer Z"]
    assert hers.by.startswith("Carol") and "not entitled" in hers.by


# -- the access report -------------------------------------------------------------------------
def test_the_access_report_lists_a_colleague_reading_the_clients_name_in_a_client_list(tmp_path) -> None:
    """`client list` decrypts every readable client's name and details in one audited step
    (``decrypt-profiles``, a count, no client id): that is an access to each of them."""
    from helpers.four_practitioners import PASSPHRASES, _machine, _revoke, four_practitioners

    from vault import Passphrase
    from vault.rights import access_report

    practice = four_practitioners(tmp_path)
    with practice.vault("bea") as bea:
        assert [p.client_id for p in bea.profiles(bea.unlock(Passphrase(PASSPHRASES["bea"])))] == [
            practice.client
        ]
    _revoke(practice, "alex", "carol")
    with _machine(practice, "carol") as carol:  # after the revoke: AB-1's name is not hers to read
        assert list(carol.profiles(carol.unlock(Passphrase(PASSPHRASES["carol"])))) == []

    with practice.vault("alex") as alex:
        names = {practice.ids["bea"]: "Bea", practice.ids["carol"]: "Carol"}
        rows = access_report.report(alex, practice.client, None, names)
    listed = [(r.who, r.what) for r in rows if r.event == "decrypt-profiles"]
    assert listed == [("Bea", "decrypted the client's name and details, in a list of clients")]


def test_the_access_report_lists_a_supervisors_cosignature_which_reads_the_note(people) -> None:
    from helpers.people import BEA_PASS, ok, seal

    ok(people.bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    ok(people.bea, "supervise", "EF-3", "Alex", passphrase=BEA_PASS)
    note_id = seal(people.bea, "2026-11-02", "supervised session", client="EF-3")
    ok(people.alex, "cosign", note_id, "--yes")  # Alex's machine decrypts the note to co-sign it
    report = ok(people.bea, "access-report", "EF-3", passphrase=BEA_PASS)
    assert any("Alex" in line and "co-signed" in line for line in report.splitlines()), report


# -- nothing private on a command line ---------------------------------------------------------
def test_a_disclosures_recipient_purpose_and_description_can_stay_off_the_command_line(practice) -> None:
    """Every local user reads another's command line (/proc/*/cmdline): the recipient and the
    description name the client's affairs, so each may be given as '-', from standard input."""
    args = ("disclosures", "add", "AB-1", "--to", "-", "--purpose", "court order", "--what", "-")
    done = practice.run(*args, stdin="Family Court (fictional quendra case)\nassessment letter\n")
    assert done.code == 0, done.err
    listed = practice.run("disclosures", "AB-1").text
    assert "Family Court (fictional quendra case)" in listed and "assessment letter" in listed
    assert "court order" in listed
    short = practice.run(*args, stdin="only one line\n")
    assert short.code == 2 and "2 line(s) expected" in short.err


def test_a_genuine_line_copied_into_another_log_file_counts_once(practice) -> None:
    """Whoever can write the synced folder copies a signed disclosure and a signed read into
    a log file of their own: the accounting and the access report list each once."""
    from vault.rights import access_report, disclosures

    vault = practice.vault()
    client_id = vault.resolve("AB-1")
    disclosures.record(vault, client_id, dt.date(2026, 1, 5), "Dr Q (GP)", "care", "a letter")
    vault.read_notes(vault.unlock(Passphrase(PASSPHRASE)), client_id)
    own = vault.audit.directory / f"{vault.device.device_id}.log"
    copied = [
        line for line in own.read_bytes().splitlines() if b'"disclosure"' in line or b'"decrypt"' in line
    ]
    (vault.audit.directory / "0000000000000000.log").write_bytes(b"\n".join(copied * 2) + b"\n")
    rows = disclosures.accounting(vault, client_id, dt.date(2020, 1, 1), {}, {})
    assert [r.recipient for r in rows] == ["Dr Q (GP)"]
    reads = [r for r in access_report.report(vault, client_id, None, {}) if r.event == "decrypt"]
    assert len(reads) == 1
    vault.close()


def test_a_colleague_without_the_client_is_not_shown_its_accounting_of_disclosures(people) -> None:
    """The facts are sealed under the retention key, which every device of the practice
    holds: the command, not the cipher, keeps a colleague who does not hold the client out."""
    from helpers.people import BEA_PASS, ok

    added = people.alex.run(
        *("disclosures", "add", "AB-1", "--to", "-", "--purpose", "-", "--what", "-"),
        stdin="Family Court (fictional)\ncourt order\nassessment letter\n",
    )
    assert added.code == 0, added.err
    assert "Family Court" in ok(people.alex, "disclosures", "AB-1")
    client_id = people.alex.vault().resolve("AB-1")
    for asked in ("AB-1", client_id):  # by handle, and by the id a certificate names
        refused = people.bea.run("disclosures", asked, passphrase=BEA_PASS)
        assert refused.code != 0 and "Family Court" not in refused.text and "assessment" not in refused.text
        assert "access" in refused.err
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    assert "Family Court" in ok(people.bea, "disclosures", "AB-1", passphrase=BEA_PASS)


def test_a_lost_laptops_later_close_of_a_request_counts_for_nothing(three) -> None:
    """The practitioner's own old laptop, retired as lost: whoever found it closes the
    client's request from it; the request stays open, with its deadline."""
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2026-01-01"])
    asked = requests.add(desk, client_id, "access", dt.date(2019, 1, 1))
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    clock.set("2019-01-01T10:00:00")  # after the retire
    requests.close(old, requests.find(old, asked.request_id), "sent", dt.date(2019, 1, 1))
    assert requests.find(desk, asked.request_id).closed is None
    requests.close(desk, requests.find(desk, asked.request_id), "sent", dt.date(2019, 1, 2))
    assert requests.find(desk, asked.request_id).closed == dt.date(2019, 1, 2)


# -- clocks ------------------------------------------------------------------------------------
def test_a_close_or_denial_from_a_machine_whose_clock_is_behind_still_counts(machines) -> None:
    """Entries are read in time order; a colleague's laptop a few minutes slow closed or
    decided a request 'before' it was recorded, and the answer was dropped: the request
    stayed open and late, a denial was never shown with the note."""
    from vault.rights import amendments

    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2019-01-01"])
    note = desk.revision_files.note_ids(client_id)[0]
    clock.set("2019-01-02T10:00:00")
    access = requests.add(desk, client_id, "access", dt.date(2019, 1, 2))
    amendment = requests.add(desk, client_id, "amendment", dt.date(2019, 1, 2), about=note)
    sync()
    clock.set("2019-01-02T09:55:00")  # the laptop's clock: five minutes slow
    requests.close(laptop, requests.find(laptop, access.request_id), "sent", dt.date(2019, 1, 2))
    amendments.deny(laptop, requests.find(laptop, amendment.request_id), "fictional reason")
    sync()
    assert requests.find(desk, access.request_id).closed == dt.date(2019, 1, 2)
    assert [d.decision for d in requests.find(desk, amendment.request_id).decisions] == ["deny"]


# -- the site ----------------------------------------------------------------------------------
def test_a_clients_statement_cannot_draw_the_practices_own_boxes_or_headings_on_the_note(tmp_path) -> None:
    """The statement is escaped against HTML and links already; a line of it that starts
    with ``!!!`` drew a box of the site's own inside it ("Amendment accepted"), and one
    that starts with ``#`` a heading in the page's table of contents."""
    import markdown

    from site_builder.pages import amendment_boxes
    from site_builder.theme import mkdocs_config
    from site_builder.timeline import Timeline
    from vault.rights.amendments import Shown

    statement = (
        '!!! success "Amendment requested: accepted"\n    It was all changed.\n# Risk: none\n'
        "Fine\n===\n> quoted\n<b>x</b>"
    )
    day = dt.date(2026, 3, 2)
    shown = Shown("0123456789abcdef", day, day, "disagreement", day, statement, None)
    entry = type("E", (), {"note_id": "fedcba9876543210"})()
    timeline = Timeline("AB-1", [], amendments={entry.note_id: [shown]})
    source = "\n".join(amendment_boxes(timeline, entry))  # type: ignore[arg-type]
    html = markdown.markdown(source, extensions=mkdocs_config("t", [])["markdown_extensions"])
    assert html.count('<div class="admonition') == 1 and "<h1" not in html and "<b>" not in html
    assert "<blockquote" not in html
    assert "Amendment requested: accepted" in html and "# Risk: none" in html  # shown as the client wrote it


def test_a_request_line_with_an_unreadable_date_is_passed_over_not_the_end_of_every_list(tmp_path) -> None:
    """A colleague holding the client (or a damaged line) writes a request whose date is no
    date: `request list`, `todo` and `doctor` of every client of the practice read them all."""
    from helpers.four_practitioners import four_practitioners

    from vault.format import retention_facts
    from vault.format import rights as sealed

    practice = four_practitioners(tmp_path)
    with practice.vault("alex") as alex:
        real = requests.add(alex, practice.client, "access", dt.date(2026, 1, 5))
    with practice.vault("bea") as bea:  # Bea holds AB-1
        bad = new_id()
        key = retention_facts.key(bea.device.index_key)
        fact = sealed.seal_fact(key, practice.client, bad, {"kind": "access", "received": "soon"})
        bea.audit.append(requests.REQUEST, client=practice.client, request=bad, fact=fact)
    with practice.vault("alex") as alex:
        assert [r.request_id for r in requests.load(alex)] == [real.request_id]


def test_retention_erase_in_a_group_practice_says_it_only_announced_the_erasure(machines, empty) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])  # past retention by today's real clock
    asked = requests.add(desk, client_id, "erasure", dt.date(2019, 1, 1))
    sync()
    said = empty.run("retention", "erase", "AB-1", "--request", asked.request_id, "--confirm")
    assert said.code == 0, said.err
    assert "erasure announced to the other machines: nothing destroyed yet" in said.text
    assert f"device {laptop.device.device_id} must acknowledge it" in said.text
    assert client_id in desk.client_ids() and certificate.all_certificates(desk) == {}


def test_a_colleagues_reads_and_disclosures_are_not_dropped_silently_when_her_device_file_goes(
    people,
) -> None:
    """Whoever can write the synced folder deletes Bea's device registration: her lines no
    longer check here, so the reports cannot list them; they say they left lines out."""
    from helpers.people import BEA_PASS, ok

    ok(people.alex, "access", "grant", "AB-1", "Bea")
    assert people.bea.run("cat", "AB-1", passphrase=BEA_PASS).code == 0
    added = people.bea.run(
        *("disclosures", "add", "AB-1", "--to", "Dr Q (GP)", "--purpose", "care", "--what", "a letter"),
        passphrase=BEA_PASS,
    )
    assert added.code == 0, added.err
    bea_device = people.bea.vault().device.device_id
    assert "Bea" in ok(people.alex, "access-report", "AB-1")
    (people.alex.vault_dir / "devices" / f"{bea_device}.json").unlink()
    for command in ("access-report", "disclosures"):
        report = ok(people.alex, command, "AB-1")
        assert "left out" in report and f"audit/{bea_device}.log" in report, report
    clean = ok(people.alex, "access-report", "AB-1", "--since", "2020-01-01")
    assert "WARNING" in clean  # whatever the period: which lines they were cannot be told


def test_an_acknowledged_erasure_excuses_no_later_purge_of_the_client_from_its_notice(machines) -> None:
    """The laptop acknowledged the desk's erasure of a client; a hold then stopped it, and
    was released. The desk's next purge of that client is an ordinary one, announced only
    today: the laptop's earlier acknowledgement of the erasure must not let it agree to
    that purge without a full notice period."""
    desk, laptop, sync, clock, client_id = _due(machines)
    records.note_notice(desk, client_id, clock().date())  # announced today only
    asked = requests.add(desk, client_id, "erasure", dt.date(2029, 12, 20))
    intents.erasure_intent(desk, client_id, asked.request_id)
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])  # the client asked: no notice
    records.place_hold(laptop, client_id, "fictional complaint")  # the erasure stops here
    records.release_holds(laptop, client_id)
    sync()
    assert run(desk, APA, [], unattended=False).intents == {client_id: (laptop.device.device_id,)}
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])  # attended: announced is enough
    sync()
    assert run(desk, APA, [], unattended=False).purged == [client_id]
    sync()
    agreed, [(refused, why)] = agreement.settle(laptop, APA, intents.unacknowledged)
    assert agreed == [] and refused == client_id and "less than a notice period ago" in why
    clock.set("2030-02-02T09:00:00")  # a full notice period later, with no hold: agreed
    assert agreement.settle(laptop, APA, intents.unacknowledged) == ([client_id], [])
