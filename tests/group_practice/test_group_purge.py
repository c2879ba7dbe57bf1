"""Purging in a group practice: two machines hold copies of one vault, merged as a sync
engine merges them (the newer change wins; a file changed on one side and deleted on the
other comes back, as Syncthing brings it back). A hold placed on the machine that was
away is never purged over once it could be known, a machine not heard from stops every
purge, two nightly runs never both purge, a purge on two machines at once leaves one
certificate per device and no conflict, and files that come back after a purge are set
aside and reported, never deleted (not by a run, not by a backup)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env
from helpers.group_purge import APA, _acknowledged, _heard, _nightly, _purge, _readable
from helpers.group_purge import machines as machines  # a fixture
from helpers.retention_vault import Clock, add
from notes import note_text

from retention import certificate, group, records
from retention.errors import DevicesSilent
from retention.purge import finish_pending, outlook, run, scan
from syncd.filing import file_note
from vault import Passphrase, Vault, verify
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage
from vault.store.practice import create_practice
from vault.store.purged import REVIVED


def _syncd_ran(*vaults: Vault) -> None:
    """What each machine's nightly run writes first, in a group practice (lately, every night)."""
    for vault in vaults:
        vault.audit.append(group.HEARD_EVENT)


def test_a_hold_placed_on_the_machine_that_was_away_keeps_the_client(machines) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01", "2010-02-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    records.place_hold(laptop, client_id, "subpoena")  # offline: the desk does not know

    with pytest.raises(DevicesSilent, match=laptop.device.device_id):
        run(desk, APA, [], unattended=False)  # the laptop has been away for years
    assert desk.client_dir(client_id).exists() and certificate.all_certificates(desk) == {}

    sync()  # they meet again: the hold travels in the laptop's own facts file
    assert run(desk, APA, [], unattended=False).purged == []
    assert [r.decision.state for r in scan(desk, APA, clock().date()) if r.decision] == ["held"]
    assert _readable(desk, client_id) == 2


def test_a_machine_not_heard_from_within_the_window_stops_every_purge(machines) -> None:
    desk, laptop, sync, clock = machines
    add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T03:30:00")
    _heard(laptop)
    sync()
    clock.set("2030-01-03T03:31:00")  # 48 hours and a minute later: too long
    with pytest.raises(DevicesSilent, match="48 hours"):
        run(desk, APA, [], unattended=False)
    report = _purge(desk, sync, (laptop,), heard_within=dt.timedelta(hours=72))
    assert len(report.purged) == 1  # the window is the practice's to set


def test_two_nightly_runs_purge_once_and_two_people_purging_at_once_leave_no_conflict(machines) -> None:
    desk, laptop, sync, clock = machines
    first_client = add(desk, "AB-1", ["2010-01-01"])
    second = add(desk, "CD-2", ["2010-01-01"])
    clock.set("2030-01-01T03:30:00")
    _heard(desk, laptop)  # both announce the clients past retention: notice starts
    sync()
    clock.set("2030-03-02T03:29:00")
    _syncd_ran(desk, laptop)
    sync()
    purger = min(desk.device.device_id, laptop.device.device_id)
    first, other = (desk, laptop) if desk.device.device_id == purger else (laptop, desk)
    assert sorted(_nightly(first).intents) == sorted([first_client, second])  # phase one
    _acknowledged(sync, other)
    clock.set("2030-03-02T03:30:00")
    nightly = [_nightly(vault) for vault in (desk, laptop)]  # apart, at once
    assert [bool(r.purged) for r in nightly] == [
        desk.device.device_id == purger,
        laptop.device.device_id == purger,
    ]
    assert [r.deferred_to for r in nightly if not r.purged] == [purger]
    sync()
    for vault in (desk, laptop):
        assert vault.client_ids() == [] and list((vault.root / REVIVED).glob("*")) == []

    third = add(desk, "EF-3", ["2010-01-01"])
    sync()
    clock.set("2030-09-01T03:30:00")
    _syncd_ran(desk, laptop)
    sync()
    for vault in (desk, laptop):  # a person on each machine, at the same time: two intents
        assert list(run(vault, APA, [], unattended=False).intents) == [third]
    _acknowledged(sync, desk, laptop)  # each acknowledges the other's
    for vault in (desk, laptop):
        assert run(vault, APA, [], unattended=False).purged == [third]
    sync()  # asserts no file was changed on both sides
    devices = sorted([desk.device.device_id, laptop.device.device_id])
    for vault in (desk, laptop):
        certificates = certificate.all_certificates(vault)
        assert sorted((f["client_id"], f["device"]) for f in certificates.values()) == sorted(
            [(first_client, purger), (second, purger), *((third, d) for d in devices)]
        )  # one per device that purged: two for the client both purged
        assert verify(vault) == [] and certificate.problems(vault) == [] and records.problems(vault) == []
        assert vault.audit.verify(vault.trust.device_keys()) == []


def test_files_written_after_a_purge_come_back_set_aside_never_deleted(machines, tmp_path: Path) -> None:
    """The desk purges while the laptop, away, places a hold and seals. The laptop never
    agrees to the purge (a hold is in force there: retention/agreement.py) and keeps every
    file; what it wrote comes back to the desk, which sets it aside and never deletes it."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop)
    sync()
    assert list(run(desk, APA, [], unattended=False).intents) == [client_id]
    _acknowledged(sync, laptop)  # the laptop acknowledges: it knows of no hold yet
    # Within the window the desk purges; the laptop, away meanwhile, places a hold and seals
    # after it acknowledged (what two-phase cannot stop: the hold came after its answer).
    records.place_hold(laptop, client_id, "subpoena")
    draft = laptop.root.parent / "inbox" / "late.md"
    draft.parent.mkdir(exist_ok=True)
    draft.write_text(note_text(client="AB-1", date="2029-12-30", note_id=None, body="late session"))
    file_note(laptop, draft)
    assert run(desk, APA, [], unattended=False).purged == [client_id]

    # The desk's audit log reaches the laptop first: the laptop refuses the purge (held here)
    # and syncd goes on sealing into the client.
    for log in (desk.root / "audit").glob(f"{desk.device.device_id}.*"):
        shutil.copy2(log, laptop.root / "audit" / log.name)
    finish_pending(laptop, [], APA)
    [refused] = [p for p in verify(laptop) if "refused on this machine" in p.why]
    assert desk.device.device_id in refused.why and "hold" in refused.why
    draft.write_text(note_text(client="AB-1", date="2030-01-01", note_id=None, body="later"))
    file_note(laptop, draft)
    assert _readable(laptop, client_id) == 3
    sync()

    [back] = outlook(desk, APA, clock().date()).revived
    assert back.client_id == client_id and not back.set_aside and back.files >= 2
    assert client_id not in [r.client_id for r in scan(desk, APA, clock().date())]
    found = verify(desk)
    assert any("arrived after it was purged" in p.why for p in found)
    assert not any("client.json" in str(p.path) for p in found)  # no half client to check
    assert outlook(laptop, APA, clock().date()).revived == ()  # never taken for revived there

    clock.set("2030-01-01T10:00:00")  # sync has settled: the next backup run sets them aside
    targets = {
        vault.device.device_id: BackupTarget(FolderStorage(tmp_path / name), tmp_path / f"{name}-cache")
        for vault, name in ((desk, "desk-drive"), (laptop, "laptop-drive"))
    }
    laptop_files = sorted(p.name for p in laptop.client_dir(client_id).rglob("*") if p.is_file())
    for vault in (desk, laptop):
        finish_pending(vault, [targets[vault.device.device_id]], APA)
        vault.backup(targets[vault.device.device_id])
    aside = desk.root / REVIVED / f"{client_id}.{desk.device.device_id}"
    kept = sorted(p.name for p in aside.rglob("*") if p.is_file())
    assert kept and not desk.client_dir(client_id).exists()
    # The laptop moved and deleted nothing of the client it refused to purge.
    assert sorted(p.name for p in laptop.client_dir(client_id).rglob("*") if p.is_file()) == laptop_files
    sync()
    run(desk, APA, [targets[desk.device.device_id]], unattended=False)
    desk.backup(targets[desk.device.device_id])
    assert sorted(p.name for p in aside.rglob("*") if p.is_file()) == kept  # still there
    [problem] = [p for p in verify(desk) if REVIVED in str(p.path) and desk.device.device_id in str(p.path)]
    assert "never deleted" in problem.why and "delete this folder on one machine" in problem.why
    target = targets[desk.device.device_id]  # and the backups keep them too
    snapshot = target.load(target.snapshots()[-1], desk.trust.device_keys())
    assert any(path.startswith(f"{REVIVED}/{client_id}.") for path in snapshot.files)
    laptop_target = targets[laptop.device.device_id]
    snapshot = laptop_target.load(laptop_target.snapshots()[-1], laptop.trust.device_keys())
    assert any(path.startswith(f"clients/{client_id}/") for path in snapshot.files)


def test_a_single_machine_purges_without_waiting_for_anyone(empty: Env) -> None:
    clock = Clock("2019-01-01T09:00:00")
    p = empty.practice
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF, clock=clock).close()
    p.create_layout()
    vault = Vault(p.vault_dir, p.config_dir, clock)
    client_id = add(vault, "AB-1", ["2010-01-01"])
    clock.set("2030-01-01")
    assert run(vault, APA, [], unattended=False).purged == [client_id]
    assert not any(e.event == group.HEARD_EVENT for e in vault.audit.entries())
    assert certificate.path_for(vault, client_id).name == f"{client_id}.{vault.device.device_id}.md"
