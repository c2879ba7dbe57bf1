"""Attacks on group-practice purges, as someone who can write the synced vault folder (but
holds no key) or whose machine misbehaves would make them: a forged purge entry must not
set a live client aside, refuse its notes or hide it from verify and retention."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.group_purge import APA, _heard, _nightly, _readable, machines  # noqa: F401 (a fixture)
from helpers.retention_vault import add
from notes import note_text

from retention import records
from retention.errors import DevicesSilent
from retention.purge import finish_pending, outlook, run, scan
from syncd.filing import file_note
from vault import verify
from vault.format.encoding import canonical
from vault.store.purged import REVIVED

FORGER = "f" * 16  # no registered device


def _forge_purge(vault_root: Path, client_id: str, device: str, log: str) -> None:
    """An unsigned purge-begin line naming a live client, in a log of the attacker's choosing."""
    line = {
        "data": {"client": client_id, "keys": []},
        "device": device,
        "event": "purge-begin",
        "prev": "0" * 64,
        "seq": 1,
        "sig": "A" * 86,
        "time": "2019-01-01T09:00:00Z",
    }
    with open(vault_root / "audit" / f"{log}.log", "ab") as handle:
        handle.write(canonical(line) + b"\n")


def test_a_forged_purge_entry_neither_sets_a_live_client_aside_nor_refuses_its_notes(machines) -> None:  # noqa: F811 (the fixture)
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    _forge_purge(desk.root, client_id, FORGER, FORGER)  # a log of its own
    _forge_purge(desk.root, client_id, laptop.device.device_id, laptop.device.device_id)  # the laptop's
    clock.set("2030-02-01T09:00:00")  # long after the files arrived: sync has settled
    draft = desk.root.parent / "inbox" / "next.md"
    draft.write_text(note_text(client="AB-1", date="2030-02-01", note_id=None, body="next session"))
    file_note(desk, draft)  # syncd still seals into it

    finish_pending(desk, [])  # what every backup run does first
    assert _nightly(desk).purged == []  # and the retention run
    assert desk.client_ids() == [client_id] and not (desk.root / REVIVED).exists()
    assert _readable(desk, client_id) == 2
    assert outlook(desk, APA, clock().date()).revived == ()
    assert client_id in [r.client_id for r in scan(desk, APA, clock().date())]

    found = verify(desk)
    assert any("unregistered device" in p.why for p in found)  # the forgery itself is reported
    assert any(p.path.stem == laptop.device.device_id for p in found)
    assert not any("purged" in p.why for p in found)


def test_deleting_every_trace_of_the_other_machine_does_not_make_its_hold_purgeable(machines) -> None:  # noqa: F811 (the fixture)
    """The laptop placed a hold; someone who can write the synced folder deletes the laptop's
    registration, log, checkpoint and hold file, so that the desk would see a single-machine
    practice with no hold. The desk has heard from the laptop before: it refuses."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T03:30:00")
    records.place_hold(laptop, client_id, "subpoena")
    _heard(laptop)
    sync()
    _heard(desk)
    device = laptop.device.device_id
    for path in [
        desk.root / "devices" / f"{device}.json",
        *(desk.root / "audit").glob(f"{device}.*"),
        records.path_for(desk, client_id, device),
    ]:
        path.unlink()
    clock.set("2030-01-01T05:00:00")
    with pytest.raises(DevicesSilent, match=device):
        run(desk, APA, [], unattended=False)
    assert _readable(desk, client_id) == 1


def test_a_forged_purge_entry_hides_no_deleted_revision_from_verify(machines) -> None:  # noqa: F811 (the fixture)
    """Someone deletes a client's note and writes a purge line for the client so that the
    missing revision would pass for crypto-shredding: verify still names the revision."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    [note_id] = desk.note_ids(client_id)
    [(_, _, revision)] = desk.revisions(client_id, note_id)
    revision.unlink()
    _forge_purge(desk.root, client_id, laptop.device.device_id, laptop.device.device_id)
    found = [p.why for p in verify(desk) + records.problems(desk)]
    assert any("revision sealed at" in why for why in found), found
