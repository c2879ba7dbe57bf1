# ruff: noqa: F811  (`machines` is the fixture imported from helpers/group_purge.py)
"""The two-phase purge of a group practice (issue 28, item 4): a purge is first an intent,
signed and synced; every other registered, not retired device acknowledges it from its own
facts, or stops it; only then is the client destroyed. Two machines whose vaults are merged
as a sync engine merges them (tests/helpers/group_purge.py `Sync`); a third device, an old
laptop of the same practitioner, writes into the desk's folder. Attacks: a hold placed while
apart, acknowledgements forged, unregistered, retired or of an earlier intent, an intent of a
client never announced or not due, a retired device's later words."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env
from helpers.group_purge import (  # noqa: F401
    APA,
    Sync,
    _acknowledged,
    _attended,
    _due,
    _events,
    _heard,
    _intent_of,
    _readable,
    _standing,
    machines,
)
from helpers.group_purge import three as three  # a fixture
from helpers.retention_vault import add
from nacl.signing import SigningKey
from notes import note_text

from retention import certificate, intents, records
from retention.errors import AuditUnverified
from syncd.filing import file_note
from vault import Passphrase, Vault, verify
from vault.errors import TamperedFile
from vault.format.encoding import new_id
from vault.store import retired
from vault.store.audit import AuditLog
from vault.store.practice import create_practice


def test_a_purge_is_only_an_intent_until_the_other_machine_acknowledged_it(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)
    first = _attended(desk)
    assert first.purged == [] and first.intents == {client_id: (laptop.device.device_id,)}
    assert _readable(desk, client_id) == 1 and certificate.all_certificates(desk) == {}
    assert _intent_of(desk, client_id).waiting == (laptop.device.device_id,)
    again = _attended(desk)  # run again before the laptop saw it: it still waits, one intent
    assert again.purged == [] and again.awaiting == {client_id: (laptop.device.device_id,)}
    assert len(_events(desk, desk, intents.INTENT)) == 1

    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])
    assert intents.acknowledge(laptop, APA) == ([], [])  # each intent is answered once
    [ack] = _events(laptop, laptop, intents.ACK)
    assert ack["intent"] == _intent_of(laptop, client_id).intent.intent_id
    sync()
    assert _intent_of(desk, client_id).agreed
    assert _attended(desk).purged == [client_id]
    assert client_id not in desk.client_ids()
    assert [f["device"] for f in certificate.all_certificates(desk).values()] == [desk.device.device_id]


def test_a_hold_placed_while_apart_stops_the_purge_for_good(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)
    assert list(_attended(desk).intents) == [client_id]
    records.place_hold(laptop, client_id, "fictional subpoena")  # apart: the desk does not know
    sync()  # the intent reaches the laptop, its hold the desk
    acked, held = intents.acknowledge(laptop, APA)
    assert acked == [] and held == [(client_id, "1 hold(s) in force here")]
    sync()
    assert _attended(desk).purged == []
    assert _intent_of(desk, client_id).held == ((laptop.device.device_id, "1 hold(s) in force here"),)
    assert _readable(desk, client_id) == 1 and _readable(laptop, client_id) == 1

    records.release_holds(laptop, client_id)  # released: the stopped intent is never carried out
    sync()
    report = _attended(desk)
    assert report.purged == [] and list(report.intents) == [client_id]  # a new intent, waiting again
    assert report.stopped == {client_id: ((laptop.device.device_id, "1 hold(s) in force here"),)}
    assert _readable(desk, client_id) == 1


def test_an_acknowledgement_written_after_a_hold_on_that_machine_counts_for_nothing(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)
    _attended(desk)
    sync()
    state = _intent_of(laptop, client_id)
    records.place_hold(laptop, client_id, "fictional complaint")
    # An acknowledgement written anyway (an older casenotes, a hand edit) after the hold.
    laptop.audit.append(
        intents.ACK, client=client_id, intent=state.intent.intent_id, purge_device=desk.device.device_id
    )
    sync()
    assert _intent_of(desk, client_id).held == (
        (laptop.device.device_id, "a hold was placed there before it acknowledged"),
    )
    assert _attended(desk).purged == [] and _readable(desk, client_id) == 1


def test_forged_acknowledgements_count_for_nothing(machines, tmp_path: Path) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)
    _attended(desk)
    sync()
    intent_id = _intent_of(laptop, client_id).intent.intent_id
    fields = {"client": client_id, "intent": intent_id, "purge_device": desk.device.device_id}
    # 1. a device no practitioner registered signs an acknowledgement into the synced folder
    stranger = dataclasses.replace(laptop.device, device_id=new_id(), signing_key=SigningKey.generate())
    AuditLog(desk.root / "audit", stranger, clock, tmp_path).append(intents.ACK, **fields)
    # 2. the laptop's acknowledgement written by hand into its log, with no valid signature
    log = desk.root / "audit" / f"{laptop.device.device_id}.log"
    last = json.loads(log.read_bytes().splitlines()[-1])
    forged = {**last, "seq": last["seq"] + 1, "event": intents.ACK, "data": fields}
    with log.open("ab") as handle:
        handle.write(json.dumps(forged, separators=(",", ":")).encode() + b"\n")
    assert _intent_of(desk, client_id).waiting == (laptop.device.device_id,)
    with pytest.raises(AuditUnverified):  # and the log that holds them stops every purge anyway
        _attended(desk)
    assert _readable(desk, client_id) == 1
    assert desk.audit.verify(desk.trust.device_keys())  # the forged line is reported


def test_an_intent_of_a_client_never_announced_or_not_due_here_is_refused(machines) -> None:
    desk, laptop, sync, clock = machines
    quiet = add(desk, "AB-1", ["2010-01-01"])  # past retention, never announced by any scan
    active = add(desk, "CD-2", ["2029-12-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    for client_id in (quiet, active):  # written by hand: no run would write them
        desk.audit.append(intents.INTENT, client=client_id, intent=new_id(), unattended=False)
    sync()
    acked, held = intents.acknowledge(laptop, APA)
    assert acked == []
    assert dict(held) == {
        quiet: "no notice of it has reached this machine",
        active: "not past retention here: disposable from 2037-01-01",
    }
    sync()
    assert _attended(desk).purged == []
    assert _readable(desk, quiet) == 1 and _readable(desk, active) == 1


def test_an_unattended_intent_waits_for_a_full_notice_period_on_the_other_machine(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)
    records.note_notice(desk, client_id, clock().date())  # announced today only
    desk.audit.append(intents.INTENT, client=client_id, intent=new_id(), unattended=True)
    sync()
    assert intents.acknowledge(laptop, APA)[1] == [(client_id, "not announced a full notice period ago here")]


def test_a_retired_device_is_no_longer_waited_for_and_its_later_words_count_for_nothing(three) -> None:
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop, old)
    sync()
    assert _attended(desk).intents == {
        client_id: tuple(sorted([laptop.device.device_id, old.device.device_id]))
    }
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])
    sync()
    assert _intent_of(desk, client_id).waiting == (old.device.device_id,)  # the old laptop is lost

    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    assert _intent_of(desk, client_id).agreed  # no longer waited for
    clock.set("2030-01-01T10:00:00")  # the lost laptop, found by someone, writes after the retire
    old.audit.append(intents.INTENT, client=client_id, intent=new_id(), unattended=False)
    old.audit.append(
        intents.HELD, client=client_id, intent=_intent_of(desk, client_id).intent.intent_id, why="x"
    )
    assert [s.intent.device for s in _standing(desk)] == [desk.device.device_id]
    assert _intent_of(desk, client_id).agreed
    sync()
    assert intents.acknowledge(laptop, APA) == ([], [])  # the retired device's intent: not answered
    assert _attended(desk).purged == [client_id]


def test_an_acknowledgement_of_an_earlier_intent_counts_not_for_the_next(three) -> None:
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop, old)
    sync()
    _attended(desk)
    sync()
    intents.acknowledge(laptop, APA)  # the laptop acknowledges the first intent
    records.place_hold(old, client_id, "fictional subpoena")
    assert intents.acknowledge(old, APA)[1]  # the old laptop stops it
    sync()
    assert _attended(desk).purged == []
    records.release_holds(old, client_id)
    sync()
    report = _attended(desk)  # a second intent: the laptop's answer to the first is not one to it
    assert report.purged == [] and report.intents == {
        client_id: tuple(sorted([laptop.device.device_id, old.device.device_id]))
    }
    second = [s for s in _standing(desk) if not s.held]
    assert [s.waiting for s in second] == [tuple(sorted([laptop.device.device_id, old.device.device_id]))]
    assert _readable(desk, client_id) == 1


def test_retire_is_for_ones_own_other_devices(three) -> None:
    desk, laptop, old, sync, clock = three
    practitioner = desk.unlock(Passphrase(PASSPHRASE))
    with pytest.raises(retired.NotRetirable, match="this machine's own device"):
        desk.trust.retire(practitioner, desk.device.device_id)
    with pytest.raises(retired.NotRetirable, match="not a registered device"):
        desk.trust.retire(practitioner, new_id())
    desk.trust.retire(practitioner, old.device.device_id)
    with pytest.raises(retired.NotRetirable, match="was retired at"):
        desk.trust.retire(practitioner, old.device.device_id)
    [entry] = [e for e in desk.audit.entries() if e.event == retired.EVENT]
    assert entry.data["device"] == old.device.device_id and entry.device == desk.device.device_id
    assert verify(desk) == []
    retired.path_for(desk.root, old.device.device_id).unlink()  # cut out: the ledger says so
    assert [p.path.name for p in verify(desk)] == [f"{old.device.device_id}.retired"]


def test_a_retire_record_signed_by_someone_else_is_refused_and_reported(three, tmp_path: Path) -> None:
    desk, laptop, old, sync, clock = three
    other = tmp_path / "other"
    create_practice(
        other / "vault", tmp_path / "other-config", Passphrase("fictional other"), CHEAP_KDF
    ).close()
    stranger = Vault(other / "vault", tmp_path / "other-config").unlock(Passphrase("fictional other"))
    path = retired.path_for(desk.root, old.device.device_id)
    record = {
        "format": "casenotes-device-retire",
        "version": 1,
        "device": old.device.device_id,
        "practitioner_id": stranger.practitioner_id,
        "retired_at": "2019-01-01T00:00:00Z",
    }
    from vault.format.keys import sign_record, signer

    path.write_bytes(sign_record(record, signer(stranger.signing_key)))
    assert old.device.device_id not in desk.trust.retired()
    assert any(p.path == path for p in verify(desk))


def test_a_retired_devices_later_revision_is_refused_and_verify_names_it(three) -> None:
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2018-12-01"])
    draft = old.root.parent / "inbox" / "old.md"
    draft.write_text(note_text(client="AB-1", date="2018-12-02", note_id=None, body="before the retire"))
    file_note(old, draft)
    assert _readable(desk, client_id) == 2
    clock.set("2019-01-02T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    clock.set("2019-01-03T09:00:00")  # the lost laptop seals one more, after the retire
    draft.write_text(note_text(client="AB-1", date="2019-01-03", note_id=None, body="after the retire"))
    file_note(old, draft)
    damaged: list[TamperedFile] = []
    texts = [
        bytes(n.body)
        for n in desk.read_notes(desk.unlock(Passphrase(PASSPHRASE)), client_id, damaged=damaged)
    ]
    assert len(texts) == 2 and not any(b"after the retire" in t for t in texts)
    assert any(b"before the retire" in t for t in texts)  # its earlier note keeps its authority
    assert [e.path.parent.parent.parent.name for e in damaged] == [client_id]  # never silent
    [refused] = [p for p in verify(desk) if "retired" in p.why]
    assert old.device.device_id in refused.why and "keeps no authority" in refused.why


def test_the_command_line_retires_a_device_and_status_shows_who_has_not_acknowledged(
    machines, empty: Env, tmp_path: Path
) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set(dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))  # the command line's clock
    _heard(laptop)
    sync()
    _attended(desk)
    shown = empty.run("retention", "status", "--no-names")
    assert shown.code == 0, shown.err
    assert f"waiting for device(s) {laptop.device.device_id} to acknowledge" in shown.text

    own = empty.run("device", "retire", desk.device.device_id, passphrase=PASSPHRASE)
    assert own.code == 1 and "own device" in own.err
    retire = empty.run("device", "retire", laptop.device.device_id, passphrase=PASSPHRASE)
    assert retire.code == 0, retire.err
    assert f"device {laptop.device.device_id} is retired" in retire.text
    assert "device-retire" in empty.run("audit", "show").text
    shown = empty.run("retention", "status", "--no-names")
    assert "acknowledged by every device" in shown.text
    purge = empty.run("retention", "purge", "--confirm", passphrase=PASSPHRASE)
    assert purge.code == 0, purge.err
    assert f"purged client {client_id}" in purge.text


def test_a_retired_device_releasing_a_hold_after_its_retire_releases_nothing(three) -> None:
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    records.place_hold(desk, client_id, "fictional subpoena")
    clock.set("2030-01-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)  # one machine left
    clock.set("2030-01-01T10:00:00")  # whoever found the old laptop lifts the hold with it
    assert records.release_holds(old, client_id)
    [problem] = records.problems(desk, [client_id])
    assert old.device.device_id in problem.why and "after it was retired" in problem.why
    assert records.current(desk, client_id).holds  # the release is not believed: the hold stands
    report = _attended(desk)
    assert report.purged == []
    assert _readable(desk, client_id) == 1
