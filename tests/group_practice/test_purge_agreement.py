# ruff: noqa: F811  (`machines` is the fixture imported from helpers/group_purge.py)
"""Destruction needs agreement (issue 28, item 3; DESIGN.md invariant 8): a machine carries
out another device's purge or certificate only after checking, from its own copy of the
facts, that the client is past retention, was announced a notice period ago, and is held
by no one. The laptop is a registered device of the practice (its signatures check); its
casenotes, misused or misbehaving, writes a signed `purge-begin`/`purge-done` pair in its
own log and a signed certificate listing the client's key files, for a client that is
not due. On the desk, the backup run and the nightly run that follow set nothing aside,
shred no key and rewrite no snapshot; the client stays listed, readable and sealed into;
`verify` and `status` say the purge was refused. A real purge of a due client, made on
the laptop, is still carried out on the desk's backups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from helpers.group_purge import APA, _heard, _nightly, _purge, _purge_claimed_by, _readable, machines  # noqa: F401 (a fixture)
from helpers.retention_vault import add
from notes import note_text

from retention import records
from retention.purge import finish_pending, outlook
from syncd.filing import file_note
from vault import Vault, verify
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage
from vault.store.purged import REVIVED


def _target(tmp_path: Path, name: str) -> BackupTarget:
    return BackupTarget(FolderStorage(tmp_path / name), tmp_path / f"{name}-cache")


def _client_files(target: BackupTarget, vault: Vault, client_id: str) -> int:
    snapshot = target.load(target.snapshots()[0], vault.trust.device_keys())
    return sum(1 for path in snapshot.files if path.startswith(f"clients/{client_id}/"))


def _still_a_client(desk: Vault, client_id: str, notes: int) -> None:
    assert desk.client_ids() == [client_id] and not (desk.root / REVIVED).exists()
    assert _readable(desk, client_id) == notes  # cat and open read it
    draft = desk.root.parent / "inbox" / "risk.md"
    draft.write_text(note_text(client="AB-1", date="2026-11-20", note_id=None, body=f"risk note {notes}"))
    file_note(desk, draft)  # syncd seals into it
    assert _readable(desk, client_id) == notes + 1


def test_a_purge_and_certificate_from_another_device_destroy_nothing_of_a_live_client(
    machines, tmp_path: Path
) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2026-01-05", "2026-02-02"])
    clock.set("2026-11-01T09:00:00")
    drive = _target(tmp_path, "desk-drive")
    desk.backup(drive)
    before = _client_files(drive, desk, client_id)
    sync()
    _purge_claimed_by(laptop, client_id, with_certificate=True)
    sync()  # the laptop's log and certificate reach the desk (its folder untouched: a forgery)

    clock.set("2026-11-02T09:00:00")
    finish_pending(desk, [drive], APA)  # what the next backup run does first
    desk.backup(drive)
    assert _nightly(desk).purged == []
    assert _client_files(drive, desk, client_id) == before  # no snapshot rewritten
    assert sorted((desk.client_dir(client_id) / "access").glob("*.sealed"))  # no key shredded
    _still_a_client(desk, client_id, 2)

    [refused] = [p for p in verify(desk) if "refused on this machine" in p.why]
    assert laptop.device.device_id in refused.why and client_id in refused.why
    assert "not past retention" in refused.why
    assert outlook(desk, APA, clock().date()).refused == (client_id,)


def test_a_purge_begin_line_alone_hides_no_client_and_stops_no_seal(machines) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2026-01-05"])
    sync()
    _purge_claimed_by(laptop, client_id, with_certificate=False)
    sync()
    clock.set("2026-11-02T09:00:00")
    _still_a_client(desk, client_id, 1)  # before any run has looked at it
    finish_pending(desk, [], APA)
    _nightly(desk)
    _still_a_client(desk, client_id, 2)
    assert any("refused on this machine" in p.why for p in verify(desk))
    # Nor does it excuse a deletion: the client's files are still vouched for by the ledger.
    [key] = (desk.client_dir(client_id) / "access").glob("*.sealed")
    key.unlink()
    assert any(p.path == key for p in verify(desk))


def test_a_purge_of_a_client_held_on_this_machine_is_refused_even_when_due(machines) -> None:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    clock.set("2030-01-01T03:30:00")
    _heard(desk, laptop)  # announced: past retention
    sync()
    clock.set("2030-03-02T03:30:00")
    records.place_hold(desk, client_id, "subpoena")  # the desk knows of a subpoena; the laptop not yet
    _purge_claimed_by(laptop, client_id, with_certificate=True)
    for log in (laptop.root / "audit").glob(f"{laptop.device.device_id}.*"):  # its log arrives first
        (desk.root / "audit" / log.name).write_bytes(log.read_bytes())
    finish_pending(desk, [], APA)
    assert desk.client_ids() == [client_id] and _readable(desk, client_id) == 1
    [refused] = [p for p in verify(desk) if "refused on this machine" in p.why]
    assert "hold" in refused.why


def test_a_real_purge_on_another_machine_is_carried_out_on_this_ones_backups(
    machines, tmp_path: Path
) -> None:
    """The good path: a due client, announced a notice period ago, purged by the laptop's
    nightly run; its deletions reach the desk before the desk's own run looks: the desk
    agrees from the audit log and shreds the client from its own backup drive."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    drive = _target(tmp_path, "desk-drive")
    desk.backup(drive)
    assert _client_files(drive, desk, client_id) > 0
    clock.set("2030-01-01T03:30:00")
    _heard(desk, laptop)
    sync()
    clock.set("2030-03-02T03:30:00")
    for vault in (desk, laptop):
        vault.audit.append("retention-check")
    sync()
    assert _purge(laptop, sync, (desk,), max_clock_gap=dt.timedelta(days=9999)).purged == [client_id]
    sync()
    finish_pending(desk, [drive], APA)
    assert _client_files(drive, desk, client_id) == 0
    assert not any("refused" in p.why for p in verify(desk))
