# ruff: noqa: F811  (`machines` is the fixture imported from helpers/group_purge.py)
"""The two-phase purge of a group practice (retention/intents.py), attacked (issue 28, item
4): someone who can write the synced folder but holds no key, a stolen laptop, a wrong
clock. Two machines whose vaults are merged as a sync engine merges them
(tests/helpers/group_purge.py `Sync`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import PASSPHRASE
from helpers.four_practitioners import four_practitioners
from helpers.group_purge import (  # noqa: F401  # noqa: F401
    APA,
    _attended,
    _due,
    _events,
    _heard,
    _intent_of,
    _purge_claimed_by,
    _readable,
    machines,
    three,
)
from helpers.retention_vault import add

from retention import agreement, group, intents, records
from retention.errors import RetireUnverified
from retention.purge import run, scan
from vault import Passphrase, verify
from vault.store import retired


def test_a_hold_cut_out_of_the_acknowledging_machines_own_log_still_stops_the_purge(machines) -> None:
    """The laptop places a hold while the desk's intent waits; before its syncd answers,
    whoever writes the synced folder cuts the hold's entry off the laptop's log (a shorter
    chain is still a valid one), puts its older checkpoint back and puts its older facts file back.
    The laptop's own checkpoint, outside the vault, knows better: it must not acknowledge."""
    desk, laptop, sync, clock, client_id = _due(machines)
    assert list(_attended(desk).intents) == [client_id]
    sync()
    log = laptop.audit.path
    checkpoint = laptop.audit.checkpoint_paths()[0]
    facts = records.path_for(laptop, client_id, laptop.device.device_id)
    before = log.read_bytes(), checkpoint.read_bytes(), facts.read_bytes() if facts.exists() else None
    records.place_hold(laptop, client_id, "fictional subpoena")
    laptop.audit.checkpoint()  # as the command that placed it does when it closes the vault
    log.write_bytes(before[0])  # the attack: no key needed
    checkpoint.write_bytes(before[1])
    if before[2] is None:
        facts.unlink()
    else:
        facts.write_bytes(before[2])

    acked, held = intents.acknowledge(laptop, APA)
    assert acked == [] and held and "audit log" in held[0][1], held
    sync()
    assert _intent_of(desk, client_id).held
    assert _attended(desk).purged == []
    assert _readable(desk, client_id) == 1 and _readable(laptop, client_id) == 1


def test_a_stolen_laptop_with_its_clock_set_back_releases_no_hold_after_its_retire(three) -> None:
    """The old laptop is stolen and retired; the thief sets its clock back to before the
    retire and lifts the desk's hold with it (a release lifts holds placed on any machine).
    Its clock cannot be believed: what it signed beyond the log the retiring machine had
    seen is after the retire, whatever it says."""
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    records.place_hold(desk, client_id, "fictional subpoena")
    clock.set("2030-01-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)  # one machine left
    clock.set("2029-06-01T09:00:00")  # the thief's clock, before the retire
    assert records.release_holds(old, client_id)
    clock.set("2030-01-01T10:00:00")
    [problem] = records.problems(desk, [client_id])
    assert old.device.device_id in problem.why and "after it was retired" in problem.why
    report = _attended(desk)
    assert report.purged == [] and report.intents == {}  # the hold is in force here: not even an intent
    assert [r.decision.state for r in scan(desk, APA, clock().date()) if r.decision] == ["held"]
    assert _readable(desk, client_id) == 1


def test_a_purge_begun_without_an_acknowledged_intent_is_refused_here(three) -> None:
    """The laptop's casenotes (a colleague's, misused; a stolen one before its retire)
    skips the intent and writes a signed purge-begin and certificate for a client due and
    announced a notice period ago. The old laptop never acknowledged anything: the desk
    must not carry the purge out on its own facts alone."""
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T03:30:00")
    _heard(desk, laptop, old)  # the nightly runs announce it
    sync()
    clock.set("2030-03-02T03:30:00")
    for vault in (desk, laptop, old):
        vault.audit.append(group.HEARD_EVENT)
    sync()
    _purge_claimed_by(laptop, client_id, with_certificate=True)
    sync()
    agreed, refused = agreement.settle(desk, APA, intents.unacknowledged)
    assert agreed == [] and [c for c, _ in refused] == [client_id]
    assert old.device.device_id in refused[0][1]
    assert client_id in desk.client_ids() and _readable(desk, client_id) == 1


def test_a_retire_record_a_colleague_signed_herself_silences_no_machine_of_alex(tmp_path: Path) -> None:
    """Carol, a member of the practice (her key is trusted here), signs a retire record of
    Alex's machine by hand, bypassing `device retire`: were it believed, a group purge
    would no longer wait for Alex's machine and the hold it knows of."""
    practice = four_practitioners(tmp_path)
    carol_vault, carol = practice.unlock("carol")
    alex = practice.vault("alex")
    target = alex.device.device_id
    path = retired.path_for(practice.root, target)
    path.write_bytes(retired.record(target, carol, "2020-01-01T00:00:00Z", 0))
    assert carol.practitioner_id in carol_vault.trust.trusted_signers()
    assert target not in alex.trust.retired() and target not in carol_vault.trust.retired()
    assert target in group.devices(carol_vault, list(carol_vault.audit.entries()))  # still waited for
    [reported] = [p for p in verify(alex) if p.path == path]
    assert "did not register the device" in reported.why


def test_a_retire_record_deleted_by_the_stolen_laptop_stops_every_purge(machines) -> None:
    """The desk's client is under a hold; the laptop is stolen and retired. Its thief has
    its device key (no passphrase) and its synced folder: deletes the retire record (the
    deletion syncs), lifts the hold with it and acknowledges the desk's purge. The ledger
    recorded the retire: the laptop stays retired, its release lifts nothing, and nothing
    is destroyed. Nor once the desk releases the hold itself: no purge runs until the
    record is restored."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    records.place_hold(desk, client_id, "fictional subpoena")
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop)
    sync()
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    sync()
    clock.set("2030-01-01T10:00:00")
    retired.path_for(laptop.root, laptop.device.device_id).unlink()
    assert records.release_holds(laptop, client_id)
    sync()
    assert laptop.device.device_id in desk.trust.retired()  # the ledger entry stands for the record

    def purge() -> None:
        _attended(desk)
        sync()
        intents.acknowledge(laptop, APA)
        sync()
        _attended(desk)

    assert list(records.current(desk, client_id).holds.values()) == ["fictional subpoena"]
    purge()
    assert _readable(desk, client_id) == 1
    assert records.release_holds(desk, client_id)
    sync()
    with pytest.raises(RetireUnverified, match=f"{laptop.device.device_id}.retired"):
        purge()
    assert _readable(desk, client_id) == 1


def test_a_hold_placed_after_every_machine_acknowledged_voids_the_intent(machines) -> None:
    """Every machine acknowledged; before the desk carried the purge out, a hold arrived on
    the desk itself (the client is no longer due). Months later it is released: the old
    intent must not be carried out at once, with the laptop, apart meanwhile, never asked
    about the hold placed on it since."""
    desk, laptop, sync, clock, client_id = _due(machines)
    _attended(desk)
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])
    sync()
    assert _intent_of(desk, client_id).agreed
    records.place_hold(desk, client_id, "fictional subpoena")
    assert _attended(desk).purged == []
    clock.set("2030-06-01T09:00:00")
    records.release_holds(desk, client_id)
    records.place_hold(laptop, client_id, "fictional complaint")  # apart: the desk does not know
    report = run(desk, APA, [], unattended=False, heard_within=dt.timedelta(days=400))  # the laptop was away
    assert report.purged == [] and list(report.intents) == [client_id]  # it asks again
    assert _readable(desk, client_id) == 1
    sync()
    assert intents.acknowledge(laptop, APA)[1] == [(client_id, "1 hold(s) in force here")]


def test_retiring_the_only_machine_that_placed_a_hold_lifts_no_hold(three) -> None:
    """The old laptop placed the hold and stopped the desk's intent; it is then lost and
    retired, and the laptop retired too: the desk is alone. A retire silences a machine's
    later words, never a hold it placed before."""
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop, old)
    sync()
    _attended(desk)
    records.place_hold(old, client_id, "fictional subpoena")
    assert intents.acknowledge(old, APA)[1] == [(client_id, "1 hold(s) in force here")]
    clock.set("2030-01-02T09:00:00")
    for device in (old, laptop):
        desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), device.device.device_id)
    report = _attended(desk)
    assert report.purged == [] and report.intents == {}  # one machine left, and the hold stands
    assert _readable(desk, client_id) == 1


def test_a_purge_begun_with_the_clock_set_back_before_the_others_registered_is_refused(three) -> None:
    """The same purge without an intent, its purge-begin dated before the other machines
    were registered, as if the laptop had been alone then: its own log says otherwise."""
    desk, laptop, old, sync, clock = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T03:30:00")
    _heard(desk, laptop, old)
    sync()
    clock.set("2030-03-02T03:30:00")
    for vault in (desk, laptop, old):
        vault.audit.append(group.HEARD_EVENT)
    sync()
    clock.set("2018-06-01T00:00:00")  # the laptop's clock only
    _purge_claimed_by(laptop, client_id, with_certificate=True)
    clock.set("2030-03-02T04:00:00")
    sync()
    agreed, refused = agreement.settle(desk, APA, intents.unacknowledged)
    assert agreed == [] and [c for c, _ in refused] == [client_id]
    assert client_id in desk.client_ids() and _readable(desk, client_id) == 1


def test_an_acknowledgement_counts_for_no_other_client_under_the_same_intent_id(machines) -> None:
    """The desk's casenotes, misused, writes a second intent reusing the id the laptop
    acknowledged for AB-1, naming CD-2 (held on the laptop): the acknowledgement is AB-1's."""
    desk, laptop, sync, clock, client_id = _due(machines)
    other = add(desk, "CD-2", ["2010-01-01"])
    records.place_hold(desk, other, "fictional subpoena")
    sync()
    _attended(desk)
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])
    sync()
    reused = _intent_of(desk, client_id).intent.intent_id
    desk.audit.append(intents.INTENT, client=other, intent=reused, unattended=False)
    assert _intent_of(desk, other).waiting == (laptop.device.device_id,)
    records.release_holds(desk, other)
    report = run(desk, APA, [], unattended=False)
    assert other not in report.purged and _readable(desk, other) == 1


def test_a_log_still_syncing_defers_the_answer_and_stops_nothing(machines) -> None:
    """The desk's checkpoint reached the laptop before the end of the desk's log (a sync
    engine copies files one by one): the laptop answers once the log is here, not
    purge-held on a half-synced folder."""
    desk, laptop, sync, clock, client_id = _due(machines)
    _attended(desk)
    desk.audit.checkpoint()
    sync()
    desk.audit.append(group.HEARD_EVENT)
    desk.audit.checkpoint()
    checkpoint = desk.audit.checkpoint_paths()[0]
    (laptop.root / checkpoint.relative_to(desk.root)).write_bytes(checkpoint.read_bytes())
    assert intents.acknowledge(laptop, APA) == ([], [])
    assert not _events(laptop, laptop, intents.HELD)
    sync()
    assert intents.acknowledge(laptop, APA) == ([client_id], [])


def test_a_purge_held_answer_cut_off_the_log_lets_nothing_through(machines) -> None:
    """The laptop stopped the intent; whoever writes the synced folder cuts its purge-held
    line off the end of its log (a shorter chain still checks), on every machine as a sync
    engine would. The desk waits for the laptop again, and the laptop, whose own checkpoint
    knows its log was longer, stops the intent again."""
    desk, laptop, sync, clock, client_id = _due(machines)
    _attended(desk)
    sync()
    records.place_hold(laptop, client_id, "fictional subpoena")
    cut = laptop.audit.path.read_bytes()
    assert intents.acknowledge(laptop, APA)[1]
    laptop.audit.checkpoint()
    sync()
    laptop.audit.path.write_bytes(cut)  # the purge-held line and the checkpoint after it, gone
    sync()
    assert _intent_of(desk, client_id).waiting == (laptop.device.device_id,)
    assert _attended(desk).purged == []
    acked, held = intents.acknowledge(laptop, APA)
    assert acked == [] and "audit log" in held[0][1]
    sync()
    assert _attended(desk).purged == [] and _readable(desk, client_id) == 1
