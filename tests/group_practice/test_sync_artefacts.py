"""A vault replicated by a sync engine: the files Syncthing (and Dropbox, Nextcloud, …) leave
beside casenotes' own are recognised, never read as data, never backed up, shredded with
a purged client, and a vault still receiving another machine's files is "not yet synced",
not damaged. Each case makes the files the engine would leave; test_syncthing.py runs the
real engine."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import Env
from helpers.people import BEA_PASS, People, seal
from helpers.people import people as people  # a fixture
from helpers.retention_vault import APA, Clock, add
from helpers.retention_vault import clock as clock  # a fixture
from helpers.retention_vault import vault as vault  # a fixture

from checkup.machine import sync_engine
from retention.purge import run
from vault import Vault, verify
from vault.backup.scan import vault_files
from vault.format import sync_artefacts
from vault.store.verify import SYNC_GRACE

CONFLICT = ".sync-conflict-20261120-101500-ABCDEF7"
TODAY = dt.datetime.now(dt.UTC).date().isoformat()
# Fixtures of a group practice (Alex and Bea in one vault) and of a practice on a hand-moved clock.


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (f"000002-0123456789abcdef{CONFLICT}.rev", "conflict"),
        (f"client{CONFLICT}.json", "conflict"),
        ("000001 (Bea's conflicted copy 2026-11-20).json", "conflict"),
        ("000001 (conflicted copy 2026-11-20 101500).json", "conflict"),
        ("000001_conflict-20261120-101500.json", "conflict"),
        (".syncthing.000001-0123456789abcdef.rev.tmp", "temp"),
        ("~syncthing~client.json.tmp", "temp"),
        (".client.json.~1a2b3c", "temp"),
        ("client.json.!sync", "temp"),
        (".stfolder", "engine"),
        (".stignore", "engine"),
        (".sync_0a1b2c3d.db-wal", "engine"),
        (".stversions", "versions"),
        (".dropbox.cache", "versions"),
        ("000001-0123456789abcdef.rev", None),
        ("client.json", None),
        (".tmp-abc", None),  # casenotes' own temp file: leftovers.py deals with it
        ("0123456789abcdef.log", None),
    ],
)
def test_each_engine_artefact_is_recognised_and_no_casenotes_name_is(name: str, kind: str | None) -> None:
    assert sync_artefacts.kind(name) == kind


def test_a_conflict_copy_names_its_original() -> None:
    assert (
        sync_artefacts.original_name(f"000002-0123456789abcdef{CONFLICT}.rev")
        == "000002-0123456789abcdef.rev"
    )


def _conflict(path: Path) -> Path:
    copy = path.with_name(path.stem + CONFLICT + path.suffix)
    shutil.copy2(path, copy)
    return copy


def _vault_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if not sync_artefacts.is_artefact(p.name))


def test_conflict_copies_anywhere_are_never_read_and_verify_says_how_to_resolve_each(people: People) -> None:
    alex = people.alex
    note = seal(alex, TODAY, "Fictional session about sleep.")
    root = alex.vault_dir
    cid = alex.vault().resolve("AB-1")
    copies = [
        _conflict(p)
        for p in [
            *_vault_files(root, "index/*.json"),
            *_vault_files(root, "devices/*.json"),
            *_vault_files(root, "audit/*.log"),
            *_vault_files(root, "colleagues/*.json"),
            root / "clients" / cid / "client.json",
            *_vault_files(root / "clients" / cid / "access", "*.sealed"),
            *_vault_files(root / "clients" / cid / "records" / note, "*.rev"),
        ]
    ]
    # A key generation made on one machine while the other made its own (a revoke on each):
    # a conflict copy in keys/ must never count as one more generation of the client's key.
    (root / "clients" / cid / "keys").mkdir()
    shutil.copy(
        root / "clients" / cid / "client.json", root / "clients" / cid / "keys" / f"000002{CONFLICT}.json"
    )
    copies.append(root / "clients" / cid / "keys" / f"000002{CONFLICT}.json")

    assert "AB-1" in alex.run("client", "list").text
    shown = alex.run("cat", "AB-1", "--note", note)
    assert shown.code == 0, shown.err
    assert "Fictional session about sleep." in shown.text
    assert alex.run("status").code == 0
    assert people.bea.run("client", "list", passphrase=BEA_PASS).code == 0

    checked = alex.run("verify")
    assert checked.code == 1
    for copy in copies:
        line = next(line for line in checked.err.splitlines() if str(copy) in line)
        assert "conflict copy" in line and ("delete" in line or "keep the copy" in line)
    assert "handle was added on two machines" in checked.err  # the index copy says what it means
    assert checked.err.count("casenotes: ") == len(copies) + 1  # nothing else is wrong
    assert "resolve each as its line says" in checked.err and "backup" not in checked.err
    assert alex.run("audit", "verify").code == 0

    for copy in copies:
        copy.unlink()
    assert alex.run("verify").code == 0


def test_temp_files_and_engine_folders_are_passed_over(practice: Env) -> None:
    note = seal(practice, TODAY, "Fictional session about work.")
    root = practice.vault_dir
    cid = practice.vault().resolve("AB-1")
    (root / ".stfolder").mkdir()
    (root / ".stignore").write_text(sync_artefacts.STIGNORE)
    folder = root / "clients" / cid / "records" / note
    (folder / ".syncthing.000002-0123456789abcdef.rev.tmp").write_bytes(b"half a revision")
    (root / "clients" / cid / "access" / "~syncthing~0123456789abcdef.sealed.tmp").write_bytes(b"x")
    (root / "index" / ".syncthing.abc.json.tmp").write_bytes(b"{")
    (root / "clients" / cid / ".stversions").mkdir()
    assert practice.run("verify").code == 0, practice.run("verify").err
    assert "Fictional session about work." in practice.run("cat", "AB-1").text
    assert "AB-1" in practice.run("client", "list").text


def test_backups_never_copy_what_a_sync_engine_made(practice: Env) -> None:
    seal(practice, TODAY, "Fictional session about family.")
    root = practice.vault_dir
    cid = practice.vault().resolve("AB-1")
    kept = root / ".stversions" / "clients" / cid / "access"
    kept.mkdir(parents=True)
    for key in (root / "clients" / cid / "access").iterdir():
        shutil.copy(key, kept / key.name.replace(".sealed", "~20261120-101500.sealed"))
    (root / ".stfolder").mkdir()
    _conflict(next((root / "index").iterdir()))
    (root / "audit" / ".syncthing.x.log.tmp").write_bytes(b"")
    (root / ".dropbox.cache").mkdir()
    (root / ".dropbox.cache" / "old.json").write_bytes(b"{}")

    copied = vault_files(root)
    assert copied and "practice.json" in copied
    assert not [n for n in copied if any(sync_artefacts.is_artefact(part) for part in n.split("/"))]
    assert practice.run("backup", "run").code == 0


def test_a_purge_shreds_the_copies_a_version_folder_and_conflicts_keep(
    vault: Vault, clock: Clock, tmp_path: Path
) -> None:
    gone = add(vault, "GONE-1", ["2010-01-01", "2010-02-01"])
    keep = add(vault, "KEEP-1", ["2018-01-01"])
    root = vault.root
    versions = root / ".stversions"
    for client in (gone, keep):
        for key in (root / "clients" / client / "access").iterdir():
            kept = (
                versions
                / "clients"
                / client
                / "access"
                / key.name.replace(".sealed", "~20180301-090000.sealed")
            )
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(key, kept)
    index = [p for p in (root / "index").iterdir() if gone in p.read_text()]
    conflict_index = _conflict(index[0])
    conflict_key = _conflict(next((root / "clients" / gone / "access").iterdir()))
    # The same handle's entry from the other machine, pointing at another client: not this one's.
    other = index[0].with_name(index[0].stem + CONFLICT.replace("101500", "101501") + ".json")
    shutil.copy(next(p for p in (root / "index").iterdir() if keep in p.read_text()), other)
    gone_digests = {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "clients" / gone / "access").iterdir()
    }

    clock.set("2019-03-01")
    assert run(vault, APA, [], unattended=False).purged == [gone]  # attended: no notice to wait for
    left = [p for p in root.rglob("*") if p.is_file()]
    # Nothing of it is left but its certificate (and ``other``: named for it, pointing elsewhere).
    assert not [p for p in left if gone in str(p) and p.parent.name != "disposals" and p != other]
    assert not {hashlib.sha256(p.read_bytes()).hexdigest() for p in left} & gone_digests
    assert not conflict_index.exists() and not conflict_key.exists()
    assert list((versions / "clients" / keep / "access").iterdir())  # another client's copies stay
    assert other.exists()


def test_doctor_warns_of_a_version_folder_and_a_shared_practice_folder(practice: Env) -> None:
    p = practice.practice
    assert sync_engine(p).status == "ok"
    (p.vault_dir / ".stfolder").mkdir()
    (p.vault_dir / ".stignore").unlink(missing_ok=True)
    missing = sync_engine(p)
    assert missing.status == "warn" and "sync ignore" in missing.detail
    assert practice.run("sync", "ignore").code == 0
    assert (p.vault_dir / ".stignore").read_text() == sync_artefacts.STIGNORE
    assert sync_engine(p).status == "ok"
    (p.vault_dir / ".stversions").mkdir()
    versions = sync_engine(p)
    assert versions.status == "warn" and ".stversions" in versions.detail and "versioning" in versions.detail
    (p.root / ".stfolder").mkdir()
    shared = sync_engine(p)
    assert shared.status == "fail" and "inbox" in shared.detail


def test_a_new_practice_writes_the_ignore_list_syncthing_reads(practice: Env) -> None:
    text = (practice.vault_dir / ".stignore").read_text()
    assert ".tmp-*" in text and ".purged-*" in text


def test_files_still_arriving_from_another_device_are_not_yet_synced_then_missing(
    people: People, tmp_path: Path
) -> None:
    """Bea's audit log arrives before the revision it records: for SYNC_GRACE that is a
    sync in flight, not a deletion; after it, the same finding is damage."""
    alex, bea = people.alex, people.bea
    alex.run("access", "grant", "AB-1", "Bea")
    note = seal(bea, TODAY, "Fictional session about a move.")
    cid = alex.vault().resolve("AB-1")
    revision = next((alex.vault_dir / "clients" / cid / "records" / note).iterdir())
    away = tmp_path / "away"
    away.mkdir()
    shutil.move(revision, away / revision.name)
    bea_log = next(
        p for p in (alex.vault_dir / "audit").glob("*.log") if p.stem != alex.vault().device.device_id
    )
    bea_log.touch()  # it has just arrived

    now = dt.datetime.now(dt.UTC)
    pending = verify(Vault(alex.vault_dir, alex.practice.config_dir, lambda: now))
    assert pending and all(p.missing and "not yet synced" in p.why for p in pending), pending
    shown = alex.run("verify")
    assert shown.code == 1 and "not yet synced" in shown.err and "restore" not in shown.err

    later = now + SYNC_GRACE + dt.timedelta(minutes=1)
    damaged = verify(Vault(alex.vault_dir, alex.practice.config_dir, lambda: later))
    assert damaged and all("not yet synced" not in p.why and "missing" in p.why for p in damaged)

    shutil.move(away / revision.name, revision)  # sync delivers it
    assert alex.run("verify").code == 0


def test_verify_reports_a_sync_ignore_file_someone_changed(practice: Env) -> None:
    """An edited .stignore can make Syncthing carry this machine's half-written files, or keep
    the other machines' revisions away: verify names it and the command that rewrites it."""
    path = practice.vault_dir / ".stignore"
    path.write_text(sync_artefacts.STIGNORE + "clients\n")
    checked = practice.run("verify")
    assert checked.code == 1 and str(path) in checked.err and "casenotes sync ignore" in checked.err
    assert practice.run("sync", "ignore").code == 0
    assert practice.run("verify").code == 0
