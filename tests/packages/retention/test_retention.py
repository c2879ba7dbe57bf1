"""Retention in the vault: facts no one can read or bend, holds, valves, and purges that
leave nothing of a client anywhere, while every other client restores in full."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import PASSPHRASE
from helpers.retention_vault import APA, Clock, add, random_middle
from helpers.retention_vault import clock as clock  # a fixture
from helpers.retention_vault import vault as vault  # a fixture
from nacl.public import PrivateKey

from retention import ClockUntrusted, certificate, records
from retention.purge import run, scan, still_pending
from vault import Passphrase, Vault
from vault.backup import packs
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage
from vault.errors import NoAccess, TamperedFile, UnknownClient
from vault.format.keys import sign_record
from vault.store.practice import register_device


def due_ids(vault: Vault, clock: Clock) -> list[str]:
    return [r.client_id for r in scan(vault, APA, clock().date()) if r.decision and r.decision.purgeable]


def test_facts_hold_no_date_reason_or_birth_date_in_the_clear(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2018-07-04"], born="2001-09-23")
    records.place_hold(vault, client_id, "zephyrquill subpoena")
    raw = b"".join(p.read_bytes() for p in (vault.client_dir(client_id) / "retention").iterdir())
    for secret in (b"2018-07-04", b"2001-09-23", b"zephyrquill", b"soap", b"AB-1"):
        assert secret not in raw
    found = records.current(vault, client_id)
    assert found.last_session == dt.date(2018, 7, 4) and found.born == dt.date(2001, 9, 23)
    assert list(found.holds.values()) == ["zephyrquill subpoena"]


def test_a_flipped_byte_in_the_facts_is_reported_and_never_obeyed(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    path = records.path_for(vault, client_id, vault.device.device_id)
    data = bytearray(path.read_bytes())
    data[data.index(b'"box":"') + 12] ^= 1
    path.write_bytes(bytes(data))
    clock.set("2030-01-01")
    [row] = scan(vault, APA, clock().date())
    assert row.decision is None and "retention" in str(row.problem)
    report = run(vault, APA, [], unattended=False)
    assert report.purged == [] and vault.client_dir(client_id).exists()


def test_an_older_copy_of_the_facts_cannot_lift_a_hold(vault: Vault, clock: Clock) -> None:
    """The attack: put back the facts file from before the hold, then wait for the purge."""
    client_id = add(vault, "AB-1", ["2010-01-01"])
    path = records.path_for(vault, client_id, vault.device.device_id)
    before_hold = path.read_bytes()
    records.place_hold(vault, client_id, "complaint pending")
    path.write_bytes(before_hold)  # signed and encrypted: only the audit log knows it is old
    clock.set("2030-01-01")
    assert records.current(vault, client_id).holds == {}  # the file alone would say "no hold"
    [problem] = records.problems(vault)
    assert "older than their last audited write" in problem.why
    report = run(vault, APA, [], unattended=False)
    assert report.purged == [] and "nothing was purged" in report.failed[0]
    assert vault.client_dir(client_id).exists()


def test_deleted_facts_are_missed_by_the_audit_log(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    shutil.rmtree(vault.client_dir(client_id) / "retention")
    clock.set("2030-01-01")
    assert "missing" in records.problems(vault)[0].why
    assert run(vault, APA, [], unattended=False).purged == []
    assert vault.client_dir(client_id).exists()


def test_facts_written_but_not_logged_before_a_crash_still_count(
    vault: Vault, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])

    def crash(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:  # the log write fails right after the facts file
        patch.setattr(vault.audit, "append", crash)
        with pytest.raises(OSError):
            records.place_hold(vault, client_id, "subpoena")
    assert records.problems(vault) == []  # newer than the log, and signed: believed
    clock.set("2030-01-01")
    assert run(vault, APA, [], unattended=False).purged == []  # the hold holds


def test_hold_and_release(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    records.place_hold(vault, client_id, "records request")
    clock.set("2030-01-01")
    assert run(vault, APA, [], unattended=False).purged == []
    assert [r.decision.state for r in scan(vault, APA, clock().date()) if r.decision] == ["held"]
    assert records.release_holds(vault, client_id) != []
    assert records.release_holds(vault, client_id) == []  # nothing left in force
    assert run(vault, APA, [], unattended=False).purged == [client_id]


def test_a_hold_placed_on_one_machine_is_released_on_another(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    records.place_hold(vault, client_id, "subpoena")
    laptop = register_device(vault.root, tmp_path / "laptop-config", Passphrase(PASSPHRASE), clock)
    assert records.current(laptop, client_id).holds  # the laptop sees the desktop's hold
    records.release_holds(laptop, client_id)
    assert records.current(vault, client_id).holds == {}  # and the desktop the laptop's release
    assert sorted(Path(p).stem for p in records.device_files(vault, client_id)) == sorted(
        [vault.device.device_id, laptop.device.device_id]
    )  # each machine writes only its own file


def test_the_notice_period_and_the_last_session(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2011-05-01", "2012-03-10", "2011-09-01"])
    assert records.current(vault, client_id).last_session == dt.date(2012, 3, 10)
    clock.set("2019-03-11T12:00:00")  # the day after the 7 years: in notice, nothing destroyed
    assert run(vault, APA, [], unattended=True).purged == []
    assert vault.client_dir(client_id).exists()
    clock.set("2019-04-10T12:00:00")  # 30 days of notice have passed
    assert run(vault, APA, [], unattended=True).purged == [client_id]


def test_a_minor_is_kept_past_the_adult_date(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "KID-1", ["2012-01-01"], born="2005-06-01")
    clock.set("2024-01-01")  # the adult rule alone ended in 2019; majority + 3 is 2026-06-01
    assert run(vault, APA, [], unattended=False).purged == []
    clock.set("2026-07-02")
    assert run(vault, APA, [], unattended=False).purged == [client_id]


def test_a_clock_that_went_back_purges_nothing(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    clock.set("2031-01-01")
    vault.audit.append("unlock", practitioner="x")  # something happened in 2031
    clock.set("2030-06-01")
    with pytest.raises(ClockUntrusted, match="earlier than 2031-01-01"):
        run(vault, APA, [], unattended=True)
    assert vault.client_dir(client_id).exists()


def test_a_clock_implausibly_far_ahead_purges_nothing(vault: Vault, clock: Clock) -> None:
    client_id = add(vault, "AB-1", ["2010-01-01"])
    clock.set("2080-01-01")
    with pytest.raises(ClockUntrusted, match="leapt from 2019-01-01 to 2080-01-01"):
        run(vault, APA, [], unattended=True)
    with pytest.raises(ClockUntrusted):  # still, after anything else was written at the new time
        vault.backup(BackupTarget(FolderStorage(vault.root.parent / "backups")))
        run(vault, APA, [], unattended=True)
    assert vault.client_dir(client_id).exists()
    assert run(vault, APA, [], unattended=False).purged == [client_id]  # a person confirms


def test_an_unattended_run_stops_at_too_many_and_waits_for_confirmation(vault: Vault, clock: Clock) -> None:
    ids = [add(vault, f"C-{n}", ["2010-01-01"]) for n in range(6)]
    clock.set("2019-06-01")
    report = run(vault, APA, [], unattended=True, max_unattended=5)
    assert report.purged == [] and report.waiting == 6
    assert all(vault.client_dir(c).exists() for c in ids)
    assert any(e.event == "purge-waiting" for e in vault.audit.entries())
    assert sorted(run(vault, APA, [], unattended=False).purged) == sorted(ids)


def _all_files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def test_a_purged_client_is_gone_from_the_vault_and_every_snapshot_on_every_target(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    keep = add(vault, "KEEP-1", ["2018-01-01", "2018-02-01"])
    gone = add(vault, "GONE-1", ["2010-01-01", "2010-02-01"])
    drives = [tmp_path / "drive-a", tmp_path / "drive-b"]
    targets = [BackupTarget(FolderStorage(d), tmp_path / f"cache-{d.name}") for d in drives]
    for day in ("2018-03-01", "2018-03-02", "2018-03-03"):  # three snapshots on each target
        clock.set(day)
        for target in targets:
            vault.backup(target)
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    kept_notes = sorted(bytes(n.body) for n in vault.read_notes(practitioner, keep))
    gone_public = vault.keyring.client_public(gone)
    gone_keys = {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (vault.client_dir(gone) / "access").iterdir()
    }

    clock.set("2019-03-01")
    report = run(vault, APA, targets, unattended=False)
    assert report.purged == [gone]

    restored = []
    for target in targets:
        for name in target.snapshots():
            into = tmp_path / f"restored-{target.storage.path.name}-{name}"  # type: ignore[union-attr]
            target.restore(target.load(name, vault.trust.device_keys()), into)
            restored.append(into)
    assert len(restored) == 6
    everywhere = _all_files(vault.root, *drives, *restored)
    # No copy of the sealed key, and nothing anywhere that opens to the client's key.
    assert not {hashlib.sha256(p.read_bytes()).hexdigest() for p in everywhere} & gone_keys
    for path in everywhere:
        try:
            opened = practitioner.open_sealed(path.read_bytes())
        except Exception:  # anything but an opened key is what we hope for
            continue
        assert len(opened) != 32 or PrivateKey(opened).public_key != gone_public
    for root in (vault.root, *restored):
        copy = Vault(root, vault.device_dir.parent, clock)
        with pytest.raises((UnknownClient, NoAccess)):
            copy.read_notes(practitioner, copy.resolve("GONE-1"))
        assert (
            sorted(bytes(n.body) for n in copy.read_notes(practitioner, copy.resolve("KEEP-1"))) == kept_notes
        )
    for target in targets:
        assert target.verify(vault.trust.device_keys(), full=True) == []
    cert = certificate.read(vault, certificate.path_for(vault, gone))
    assert cert["pending"] == [] and cert["client_id"] == gone
    assert sum(1 for item in cert["destroyed"] if item.get("sha256") in gone_keys) == 3  # vault + 2 targets
    text = certificate.path_for(vault, gone).read_text()
    assert "GONE-1" not in text and "Fictional" not in text
    assert certificate.problems(vault) == []


def to_one_file_per_object(target: BackupTarget, vault: Vault) -> None:
    """Rewrite a target as casenotes wrote them before packs: every object a file of its
    own under objects/, version 1 manifests listing every file, no packs."""
    folder = target.storage.path  # type: ignore[union-attr]
    store = target.objects()
    for name in target.snapshots():
        snap = target.load(name, vault.trust.device_keys(), store)
        for entry in snap.files.values():
            path = folder / "objects" / entry["sha256"][:2] / entry["sha256"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(store.read(entry["sha256"]))
        record = {
            "format": "casenotes-snapshot",
            "version": 1,
            "practice_id": vault.practice_id,
            "device": vault.device.device_id,
            "created": snap.created,
            "files": snap.files,
        }
        (folder / "snapshots" / f"{name}.json").write_bytes(sign_record(record, vault.device.sign))
    shutil.rmtree(folder / "packs")


def test_a_purge_leaves_no_byte_of_the_client_in_any_pack_or_old_style_object(
    vault: Vault, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packs shared between clients (small packs here), and a target from before packs:
    after the purge, neither the client's ciphertext nor its sealed key is anywhere under
    either target, not even inside a pack that also held a client who stays."""
    monkeypatch.setattr(packs, "PACK_SIZE", 2500)
    keep = add(vault, "KEEP-1", ["2018-01-01", "2018-02-01", "2018-03-01"])
    gone = add(vault, "GONE-1", ["2010-01-01", "2010-02-01", "2010-03-01"])
    targets = [BackupTarget(FolderStorage(tmp_path / d), tmp_path / f"cache-{d}") for d in ("packed", "old")]
    for day in ("2018-03-01", "2018-03-02"):
        clock.set(day)
        for target in targets:
            vault.backup(target)
    to_one_file_per_object(targets[1], vault)
    assert targets[1].verify(vault.trust.device_keys(), full=True) == []
    secrets = [p.read_bytes() for p in vault.client_dir(gone).rglob("*") if p.is_file()]
    assert any(p.parent.name == "access" for p in vault.client_dir(gone).rglob("*"))
    packed = tmp_path / "packed" / "packs"
    mixed = [
        p
        for p in packed.iterdir()
        if any(s in p.read_bytes() for s in secrets)
        and any(f.read_bytes() in p.read_bytes() for f in vault.client_dir(keep).rglob("*") if f.is_file())
    ]
    assert mixed  # a pack holding both clients: the purge must rewrite it, not keep or drop it
    kept = {
        p.relative_to(vault.root): p.read_bytes() for p in vault.client_dir(keep).rglob("*") if p.is_file()
    }

    clock.set("2019-03-01")
    assert run(vault, APA, targets, unattended=False).purged == [gone]

    for path in [p for d in ("packed", "old") for p in (tmp_path / d).rglob("*") if p.is_file()]:
        data = path.read_bytes()
        for secret in secrets:  # each whole, and a slice of its random part
            assert secret not in data and random_middle(secret) not in data, path
    for target in targets:
        assert target.verify(vault.trust.device_keys(), full=True) == []
        for name in target.snapshots():
            assert not [f for f in target.load(name, vault.trust.device_keys()).files if gone in f]
            into = tmp_path / f"restored-{target.storage.path.name}-{name}"  # type: ignore[union-attr]
            target.restore(target.load(name, vault.trust.device_keys()), into)
            assert {
                p.relative_to(into): p.read_bytes()
                for p in (into / "clients" / keep).rglob("*")
                if p.is_file()
            } == kept
    vault.backup(targets[1])  # an old-style target takes new snapshots (in packs) after it
    assert targets[1].verify(vault.trust.device_keys(), full=True) == []


def test_a_drive_away_during_the_purge_is_shredded_when_it_comes_back(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    gone = add(vault, "GONE-1", ["2010-01-01"])
    drive = tmp_path / "drive"
    target = BackupTarget(FolderStorage(drive), tmp_path / "cache")
    vault.backup(target)
    away = tmp_path / "in-the-safe"
    drive.rename(away)  # unplugged: the purge goes on without it
    clock.set("2019-03-01")
    assert run(vault, APA, [target], unattended=False).purged == [gone]
    assert still_pending(vault) == [(gone, str(target))]
    assert certificate.read(vault, certificate.path_for(vault, gone))["pending"] == [str(target)]
    away.rename(drive)
    report = run(vault, APA, [target], unattended=True)
    assert report.completed == [(gone, str(target))]
    assert still_pending(vault) == []
    for name in target.snapshots():
        assert not any(gone in path for path in target.load(name, vault.trust.device_keys()).files)
    assert certificate.path_for(vault, gone, target.target_id).exists()


def test_another_drive_swapped_in_at_the_same_place_is_shredded_too(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    """Rotated drives: the one plugged in during the purge is done; the other, mounted later
    at the very same path, still held the client and is found by its own id."""
    gone = add(vault, "GONE-1", ["2010-01-01"])
    keep = add(vault, "KEEP-1", ["2018-01-01"])
    mount = tmp_path / "mnt"
    target = BackupTarget(FolderStorage(mount), tmp_path / "cache")
    vault.backup(target)  # drive 1
    mount.rename(tmp_path / "drive-1")
    vault.backup(target)  # drive 2, a new drive at the same mount point
    mount.rename(tmp_path / "drive-2")
    (tmp_path / "drive-1").rename(mount)
    clock.set("2019-03-01")
    assert run(vault, APA, [target], unattended=False).purged == [gone]
    assert still_pending(vault) == []  # nothing looked away at the time
    mount.rename(tmp_path / "drive-1")
    (tmp_path / "drive-2").rename(mount)  # the rotation brings drive 2 back
    assert run(vault, APA, [target], unattended=True).completed == [(gone, str(target))]
    for name in target.snapshots():
        files = target.load(name, vault.trust.device_keys()).files
        assert not any(gone in path for path in files) and any(keep in path for path in files)


def test_a_purge_waits_for_a_backup_running_on_this_machine(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    """Collecting objects while a backup uploads would delete what the backup just wrote."""
    import threading

    add(vault, "GONE-1", ["2010-01-01"])
    target = BackupTarget(FolderStorage(tmp_path / "drive"), tmp_path / "cache")
    vault.backup(target)
    clock.set("2019-03-01")
    other = Vault(vault.root, vault.device_dir.parent, clock)  # another process's view
    finished = threading.Event()
    with vault.backup_lock():
        worker = threading.Thread(target=lambda: (run(other, APA, [target], unattended=True), finished.set()))
        worker.start()
        worker.join(timeout=1.0)
        assert not finished.is_set()  # it waits for the lock
    worker.join(timeout=30)
    assert finished.is_set()


def test_a_damaged_certificate_is_reported_and_does_not_stop_backups(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    gone = add(vault, "GONE-1", ["2010-01-01"])
    clock.set("2019-03-01")
    run(vault, APA, [], unattended=False)
    path = certificate.path_for(vault, gone)
    path.write_text(path.read_text().replace("purged_at: '2019-03-01T00:00:00Z'", "purged_at: 2019-03-01"))
    target = BackupTarget(FolderStorage(tmp_path / "drive"), tmp_path / "cache")
    assert run(vault, APA, [target], unattended=True).purged == []  # no crash
    vault.backup(target)
    assert any("not a readable" in p.why or "changed" in p.why for p in certificate.problems(vault))


def test_a_certificate_tells_no_date_of_the_client(vault: Vault, clock: Clock) -> None:
    gone = add(vault, "GONE-1", ["2011-05-02"], born="1999-02-03")
    clock.set("2021-06-01")  # kept until 2020-02-03: three years after the age of majority
    assert run(vault, APA, [], unattended=False).purged == [gone]
    text = certificate.path_for(vault, gone).read_text()
    assert "age of majority" in text
    for date in ("2011-05-02", "1999-02-03", "2020-02-03", "2020-03-05"):
        assert date not in text


def test_a_purge_cut_short_is_finished_by_the_next_run(vault: Vault, clock: Clock) -> None:
    gone = add(vault, "GONE-1", ["2010-01-01"])
    key_digest = hashlib.sha256(next((vault.client_dir(gone) / "access").iterdir()).read_bytes()).hexdigest()
    (vault.root / "disposals").write_bytes(b"")  # a file where the folder must go: writing fails
    clock.set("2019-03-01")
    failed = run(vault, APA, [], unattended=False).failed  # a typed failure, one per client
    assert len(failed) == 1 and "could not write" in failed[0] and gone in failed[0]
    assert not any((vault.client_dir(gone) / "access").iterdir())  # the key went first
    (vault.root / "disposals").unlink()
    assert run(vault, APA, [], unattended=False).purged == [gone]
    cert = certificate.read(vault, certificate.path_for(vault, gone))
    assert key_digest in {item.get("sha256") for item in cert["destroyed"]}  # from the audit log
    assert not vault.client_dir(gone).exists()


def test_an_edited_certificate_is_caught(vault: Vault, clock: Clock) -> None:
    gone = add(vault, "GONE-1", ["2010-01-01"])
    clock.set("2019-03-01")
    run(vault, APA, [], unattended=False)
    path = certificate.path_for(vault, gone)
    path.write_text(path.read_text().replace("2019-03-01", "2018-03-01"))
    with pytest.raises(TamperedFile):
        certificate.read(vault, path)
    whys = [problem.why for problem in certificate.problems(vault)]
    assert any("signature does not match" in why for why in whys)
    assert any("differs from the one audited" in why for why in whys)


def test_the_audit_log_names_the_purge_by_id_only(vault: Vault, clock: Clock) -> None:
    add(vault, "GONE-1", ["2010-01-01"])
    clock.set("2019-03-01")
    run(vault, APA, [], unattended=False)
    log = b"".join(p.read_bytes() for p in (vault.root / "audit").glob("*.log"))
    assert b"GONE-1" not in log and b"Fictional" not in log
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert events[-3:] == ["purge-begin", "dispose", "purge-done"]
    assert vault.audit.verify(vault.trust.device_keys()) == []
