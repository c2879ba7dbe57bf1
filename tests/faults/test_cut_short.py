"""Runs cut short by a fault, and the run after them (issue 15 items 1 to 5).

Each test stages the moment a real fault would leave (the fault-injection suite,
test_faults.py, finds these moments with strace) and proves what the next run does.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import Env
from notes import note_text

from retention import certificate
from retention import records as retention_facts
from retention.purge import run as purge_run
from syncd.filing import file_note
from vault import Vault, durable, verify
from vault.errors import SealIncomplete, WriteFailed
from vault.store.clients import PROFILE_RECORD_ID

NOTE_ID = "0123456789abcdef"


def seal_entries(vault: Vault) -> int:
    """Seal entries of notes (a client's profile is sealed too, when it is added)."""
    return sum(1 for e in vault.audit.entries() if e.event == "seal" and e.data["note"] != PROFILE_RECORD_ID)


def test_an_unchanged_revision_whose_seal_was_never_audited_is_audited_before_syncd_removes_it(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 1: the folder fsync (or the audit entry) failed after the link; the next pass
    finds the revision "unchanged": it must fsync again and write the audit entry first."""
    note = practice.practice.inbox / "note.md"
    note.write_text(note_text(note_id=NOTE_ID, status="signed"))
    with practice.vault() as vault:
        monkeypatch.setattr(vault.audit, "append", _fail_on("seal", vault.audit.append))
        with pytest.raises(SealIncomplete) as cut:
            file_note(vault, note)
        assert "was written" in str(cut.value) and "run the same command" in str(cut.value)
        monkeypatch.undo()
        assert seal_entries(vault) == 0 and verify(vault) == []
    done = practice.run("syncd", "--once")
    assert done.code == 0, done.err
    assert not note.exists()  # removed only now, after the entry was written
    with practice.vault() as vault:
        assert seal_entries(vault) == 1
        assert verify(vault) == [] and vault.audit.verify(vault.trust.device_keys()) == []


def test_the_unchanged_shortcut_fsyncs_the_note_folder_again(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = practice.practice.inbox / "note.md"
    note.write_text(note_text(note_id=NOTE_ID))
    with practice.vault() as vault:
        file_note(vault, note)
        synced: list[Path] = []
        real = durable.fsync_dir
        monkeypatch.setattr(durable, "fsync_dir", lambda p, defer=None: (synced.append(p), real(p, defer)))
        again = file_note(vault, note)
    assert again.sealed.unchanged and not again.sealed.completed
    assert again.sealed.path.parent in synced


def _fail_on(event: str, append):  # type: ignore[no-untyped-def]
    def failing(name: str, **data: object) -> None:
        if name == event:
            raise WriteFailed(Path("audit.log"), "No space left on device")
        append(name, **data)

    return failing


def _cut_before_the_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills between the note folder's mkdir and the revision's link."""

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vault.durable.os.link", full)


def test_an_empty_note_folder_is_skipped_by_readers_named_by_verify_and_swept_by_syncd(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 2: a first write cut short leaves records/<nid>/ empty (or with a temp file).
    This machine recorded the folder as its own before making it, so syncd removes it
    (issue 29: an empty folder it cannot prove its own is left alone, test_sweep.py)."""
    note = practice.practice.inbox / "note.md"
    note.write_text(note_text(note_id=NOTE_ID))
    with practice.vault() as vault:
        client_id = vault.resolve("AB-1")
        file_note(vault, note)
        records = vault.client_dir(client_id) / "records"
        cut = practice.practice.inbox / "cut.md"
        cut.write_text(note_text(note_id="fedcba9876543210"))
        _cut_before_the_link(monkeypatch)
        with pytest.raises(WriteFailed):
            file_note(vault, cut)
        monkeypatch.undo()
        cut.unlink()
    empty = records / "fedcba9876543210"
    assert empty.is_dir() and not list(empty.iterdir())
    cat = practice.run("cat", "AB-1")
    assert cat.code == 0, cat.err
    assert b"## Summary" in cat.out and "fedcba9876543210" in cat.err and "this machine" in cat.err
    checked = practice.run("verify")
    assert checked.code == 0 and "fedcba9876543210" in checked.err
    assert practice.run("syncd", "--once").code == 0
    assert not empty.exists()
    checked = practice.run("verify")
    assert checked.code == 0 and checked.err == ""


def test_seal_without_an_id_does_not_retry_under_a_new_id(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 2 and 5: the retry of an id-less note sweeps the empty folder of its first try
    and, if that try wrote the revision, files under the same note."""
    note = practice.practice.inbox / "note.md"
    note.write_text(note_text(note_id=None, status="signed"))
    with practice.vault() as vault:
        records = vault.client_dir(vault.resolve("AB-1")) / "records"
        before = set(records.iterdir())
        _cut_before_the_link(monkeypatch)  # the first try, cut short before the link
        with pytest.raises(WriteFailed):
            file_note(vault, note)
        monkeypatch.undo()
    [first_try] = set(records.iterdir()) - before
    first = practice.run("seal", str(note))
    assert first.code == 0, first.err
    assert not first_try.exists()
    again = practice.run("seal", str(note))
    assert again.code == 0 and "unchanged" in again.text
    with practice.vault() as vault:
        assert len(vault.note_ids(vault.resolve("AB-1"))) == 1


def test_a_retry_after_a_failure_past_the_revision_finds_it_by_its_content(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 5: the signed note's revision was written, then the audit entry failed: the
    message says so, and a second `seal` completes that revision instead of a second note."""
    note = practice.practice.inbox / "note.md"
    note.write_text(note_text(note_id=None, status="signed"))
    with practice.vault() as vault:
        monkeypatch.setattr(vault.audit, "append", _fail_on("seal", vault.audit.append))
        with pytest.raises(SealIncomplete) as cut:
            file_note(vault, note)
        monkeypatch.undo()
    message = str(cut.value)
    assert "was written" in message and "no second one" in message and "nothing was changed" not in message
    again = practice.run("seal", str(note))
    assert again.code == 0, again.err
    assert "already sealed" in again.text and "now durable and audited" in again.text
    with practice.vault() as vault:
        assert len(vault.note_ids(vault.resolve("AB-1"))) == 1 and seal_entries(vault) == 1
        assert verify(vault) == []


@pytest.mark.parametrize(
    "twice, field",
    [("client: AB-1\nclient: ZZ-9\n", "client"), ("status: draft\nstatus: signed\n", "status")],
)
def test_a_front_matter_key_written_twice_names_both_lines_and_keeps_the_note(
    practice: Env, twice: str, field: str
) -> None:
    """Item 3, through check, seal and syncd alike."""
    note = practice.practice.inbox / "note.md"
    note.write_text(f"---\nid: {NOTE_ID}\ndate: 2026-11-20\n{twice}---\n\n## Summary\nFictional.\n")
    first, second = (4, 5)
    for args in (("check", str(note)), ("seal", str(note))):
        result = practice.run(*args)
        assert (
            result.code == 1
            and f"note.md:{second}: {field}: written twice, on lines {first} and {second}" in result.err
        )
    synced = practice.run("syncd", "--once")
    assert "written twice" in synced.err and note.exists()
    with practice.vault() as vault:
        assert all(not vault.revisions(c, NOTE_ID) for c in vault.client_ids())


def test_a_purge_cut_between_certificate_and_audit_entry_is_finished_by_a_rerun(
    practice: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 4: ENOSPC after the certificate is linked, before its audit entry."""
    with practice.vault() as vault:
        client_id = vault.add_client("GONE-1")
        retention_facts.register_client(vault, client_id, None)
        note = practice.practice.inbox / "old.md"
        note.write_text(note_text(client="GONE-1", date="2010-03-01", note_id=None))
        file_note(vault, note)
        retention_facts.set_closed(vault, client_id, dt.date(2011, 1, 1))
        policy = practice.practice.settings().policy()
        monkeypatch.setattr(vault.audit, "append", _fail_on(certificate.AUDIT_EVENT, vault.audit.append))
        first = purge_run(vault, policy, [], unattended=False)
        monkeypatch.undo()
        assert first.failed and certificate.path_for(vault, client_id).exists()
        assert any("no audit entry records" in p.why for p in certificate.problems(vault))
        purge_run(vault, policy, [], unattended=False)
        assert certificate.problems(vault) == [] and verify(vault) == []
        assert client_id not in vault.client_ids()
    assert practice.run("verify").code == 0 and practice.run("audit", "verify").code == 0
