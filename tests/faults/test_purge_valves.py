"""Issue 31, the purge's parts: item 5 (no purge while the audit log fails to verify) and
item 13's purge faults (a purge cut short is finished by the next run, and leaves `verify`
clean; syncd's failed removal of a sealed note's plaintext is retried and reported).

Each test is the attack or the fault itself (a log edited or cut, a kill or an I/O error
injected by strace at the exact step), then what the practitioner runs next."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from conftest import Env
from helpers.commands import past_client, traced
from notes import write_note

from retention import certificate, records


def _due_tonight(practice: Env, handle: str = "OLD-1") -> str:
    """A client due for disposal by syncd too: discharged long ago, announced a whole
    notice period ago."""
    client_id = past_client(practice, handle)
    with practice.vault() as vault:
        records.note_notice(vault, client_id, vault.clock().date() - dt.timedelta(days=31))
    return client_id


def _files(root: Path) -> dict[str, str]:
    """Every file of the practice but the audit folder (a refusal is itself an entry) and
    syncd's own state and log: path -> SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "audit" not in p.relative_to(root).parts and ".casenotes" not in p.parts
    }


def _tamper(log: Path, how: str) -> None:
    """Edit an entry (its time moved back a day: the signature no longer matches) or cut
    one out, in the middle of the log, far from the client to be purged: so only the log's
    own check can stop the purge."""
    lines = log.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    if how == "edit":
        entry = json.loads(lines[middle])
        when = dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) - dt.timedelta(days=1)
        entry["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines[middle] = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    else:
        del lines[middle]
    log.write_bytes(b"".join(lines))


# -- item 5 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["edit", "cut"])
@pytest.mark.parametrize(
    "command", [("retention", "purge", "--confirm"), ("syncd", "--once")], ids=["purge-confirm", "syncd"]
)
def test_a_tampered_audit_log_stops_every_purge_and_nothing_is_destroyed(
    practice: Env, how: str, command: tuple[str, ...]
) -> None:
    """The log vouches for the holds and facts a purge obeys: with an entry edited or cut
    out of it (a hold's, say), a purge would act on what nobody vouches for any more. So a
    due client is not purged, by a person or by syncd at night, until `audit verify` passes."""
    client_id = _due_tonight(practice)
    with practice.vault() as vault:
        log = vault.audit.path
    _tamper(log, how)
    before = _files(practice.practice.root)
    done = practice.run(*command)
    assert done.code == 1 and "Traceback" not in done.err, done.err
    assert f"the audit log {log} fails to verify" in done.err, done.err
    assert "nothing was destroyed" in done.err and "`casenotes audit verify`" in done.err
    after = _files(practice.practice.root)
    lost = [path for path, digest in before.items() if after.get(path) != digest and "retention" not in path]
    assert not lost, f"destroyed or changed while the audit log failed to verify: {lost}"
    assert (practice.vault_dir / "clients" / client_id / "access").is_dir()
    with practice.vault() as vault:
        assert not certificate.all_certificates(vault) and client_id in vault.client_ids()
        assert not any(e.event == "purge-begin" for e in vault.audit.entries())


# -- item 13 (a): killed after the keys are shredded, then the device's first unlock --------------
@pytest.mark.parametrize(
    "next_run", [("syncd", "--once"), ("retention", "purge", "--confirm")], ids=["syncd", "purge"]
)
def test_a_purge_killed_after_shredding_then_a_first_unlock_does_not_leave_verify_red_for_good(
    strace: list[str], practice: Env, next_run: tuple[str, ...]
) -> None:
    """Before: the purge was killed once the client's keys were destroyed; the device's first
    unlock (which records the files an older casenotes left out of the ledger) recorded the
    half-purged client's handle-index entry as vouched for, and when the purge was finished
    `verify` reported it "recorded ... missing (deleted?)" for good. syncd did not finish
    the purge either until a whole notice period had passed. Now the first unlock records no
    file of a purged client, and the next run, syncd's included, finishes the purge."""
    client_id = past_client(practice, "OLD-1")  # due for a person; syncd's notice not yet begun
    access = practice.vault_dir / "clients" / client_id / "access"
    fault = ["-P", str(access), "-e", "trace=fsync", "-e", "inject=fsync:signal=SIGKILL"]
    done = traced(practice, strace, "retention", "purge", "--confirm", fault=fault)
    assert done.returncode != 0 and not list(access.glob("*.sealed")), "the kill missed its step"
    assert (practice.vault_dir / "clients" / client_id).is_dir()
    first = practice.run("client", "list")  # this device's first unlock
    assert first.code == 0, first.err
    again = practice.run(*next_run)
    assert again.code == 0, again.err
    assert not (practice.vault_dir / "clients" / client_id).exists(), "the half-purged client was left"
    with practice.vault() as vault:
        assert certificate.path_for(vault, client_id).exists()
    for command in (("verify",), ("audit", "verify")):
        checked = practice.run(*command)
        assert checked.code == 0, f"{command}: {checked.err}"


# -- item 13 (b): killed after the rename to .purged-<cid> -------------------------------------------
@pytest.mark.parametrize(
    "next_run",
    [("retention", "status"), ("retention", "purge", "--confirm"), ("verify",)],
    ids=["status", "purge", "verify"],
)
def test_a_purge_killed_after_its_rename_is_finished_by_the_next_retention_command_or_verify(
    strace: list[str], practice: Env, next_run: tuple[str, ...]
) -> None:
    """Before: killed after the client's folder was renamed to `.purged-<cid>`, the purge was
    finished only by the next syncd or backup run: the folder of ciphertext stayed, and the
    audit log never recorded the purge's end, whatever the practitioner ran to look."""
    client_id = past_client(practice, "OLD-1")
    clients = practice.vault_dir / "clients"
    fault = ["-P", str(clients), "-e", "trace=fsync", "-e", "inject=fsync:signal=SIGKILL"]
    done = traced(practice, strace, "retention", "purge", "--confirm", fault=fault)
    half = clients / f".purged-{client_id}"
    assert done.returncode != 0 and half.is_dir(), "the kill missed its step"
    again = practice.run(*next_run)
    assert again.code == 0, again.err
    assert f"finished the purge of client {client_id}" in again.err
    assert not half.exists(), "the half-removed folder was left"
    with practice.vault() as vault:
        assert vault.audit.has("purge-done", client=client_id)
    for command in (("verify",), ("audit", "verify")):
        checked = practice.run(*command)
        assert checked.code == 0 and "finished the purge" not in checked.err, f"{command}: {checked.err}"


# -- item 13 (c): the plaintext of a sealed note that could not be unlinked ---------------------------
def test_a_sealed_notes_plaintext_that_could_not_be_removed_is_reported_and_removed_next_time(
    strace: list[str], practice: Env
) -> None:
    """Before: syncd renamed the signed note's plaintext to `.casenotes-removing-<name>`, the
    unlink failed (EIO), and `syncd --once` exited 0 saying nothing: the plaintext stayed in
    the inbox under a hidden name, out of `status`'s sight. Now it is put back under its
    name, the run exits 1 naming it, and the next run removes it."""
    note = write_note(practice.practice.inbox, note_id="00000000000000e1", status="signed")
    aside = note.with_name(".casenotes-removing-" + note.name)
    fault = ["-P", str(aside), "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:error=EIO"]
    done = traced(practice, strace, "syncd", "--once", fault=fault)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, "syncd exited 0 over a plaintext it could not remove"
    assert "could not remove its plaintext (it is sealed) yet" in done.stderr and note.name in done.stderr
    assert note.exists() and not aside.exists(), "the plaintext was left out of sight"
    again = practice.run("syncd", "--once")
    assert again.code == 0, again.err
    assert not note.exists() and not aside.exists()
    with practice.vault() as vault:
        assert len(vault.revisions(vault.resolve("AB-1"), "00000000000000e1")) == 1
