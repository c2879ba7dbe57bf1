"""Issue 28 item 1, as the thief tries it: a laptop, a watched passphrase, no key file, and
an older key record from the practice's own backups put back into the vault. A passphrase
or key-file change renews the practitioner's encryption key and every held client's key,
so the older record opens nothing sealed after the change, and unlock says why; what was
sealed before still reads with the current secret; a colleague's access and recovery
shares keep working; a kill at any step of the renewal leaves the vault whole."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nacl.exceptions
import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env
from helpers.key_renewal import (
    AFTER,
    BEFORE,
    NEW,
    apart_during_a_renewal,
    keys_an_old_record_opens,
    opens,
    record_of,
    renewed_since,
    seal,
    sync_new_files,
)
from helpers.people import BEA_PASS, People, ok, people  # noqa: F401 (people: a fixture)
from nacl.public import PrivateKey, SealedBox

from vault import Passphrase, verify
from vault.errors import KeyRecordOutdated, WrongPassphrase
from vault.format.redact import KeyFile
from vault.store import key_renewal


def backup_copy_of_record(practice: Env, tmp_path: Path) -> Path:
    """The key record as the oldest snapshot in practice/backups holds it, restored for real."""
    assert practice.run("backup", "run").code == 0
    listed = practice.run("backup", "list")
    name = listed.text.splitlines()[1].split()[0]
    into = tmp_path / "restored"
    done = practice.run("backup", "restore", name, str(into))
    assert done.code == 0, done.err
    return into / "vault" / "practitioners" / record_of(practice).name


@pytest.fixture
def usb(tmp_path: Path) -> Path:
    return tmp_path / "usb" / "casenotes.key"


def test_an_older_key_record_from_a_backup_opens_no_note_sealed_after_a_key_file_was_added(
    practice: Env, tmp_path: Path, usb: Path
) -> None:
    seal(practice, "00000000000000a1", BEFORE)
    old_copy = backup_copy_of_record(practice, tmp_path)
    added = practice.run("passphrase", "--key-file", str(usb))
    assert added.code == 0, added.err
    assert "notes sealed from now on open only with" in added.text
    seal(practice, "00000000000000a2", AFTER)
    # the thief: the laptop, the passphrase, no key file; the backup's key record put back
    shutil.copyfile(old_copy, record_of(practice))
    refused = practice.run("cat", "AB-1")
    assert refused.code == 2
    assert str(record_of(practice)) in refused.err and "casenotes verify" in refused.err
    assert "older practitioner key record" in refused.err
    assert AFTER.encode() not in refused.out and BEFORE.encode() not in refused.out
    assert practice.run("open", "AB-1", "--no-browser").code == 2
    said = practice.run("verify")
    assert said.code == 1 and str(record_of(practice)) in said.err and "older" in said.err
    # and by hand, past every check: the older record opens what was sealed before, not after
    keys = keys_an_old_record_opens(practice, old_copy, Passphrase(PASSPHRASE), "AB-1")
    assert opens(practice, keys, "00000000000000a1")
    assert not opens(practice, keys, "00000000000000a2")


def test_an_older_key_record_opens_nothing_sealed_after_a_passphrase_change(
    practice: Env, tmp_path: Path
) -> None:
    seal(practice, "00000000000000b1", BEFORE)
    old_copy = tmp_path / "copy-before.json"
    shutil.copyfile(record_of(practice), old_copy)  # a sync engine's version folder, say
    changed = practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None)
    assert changed.code == 0, changed.err
    seal(practice, "00000000000000b2", AFTER)
    shutil.copyfile(old_copy, record_of(practice))
    refused = practice.run("cat", "AB-1", passphrase=PASSPHRASE)
    assert refused.code == 2 and "older practitioner key record" in refused.err
    assert AFTER.encode() not in refused.out
    with pytest.raises(KeyRecordOutdated):
        practice.vault().unlock(Passphrase(PASSPHRASE))
    keys = keys_an_old_record_opens(practice, old_copy, Passphrase(PASSPHRASE), "AB-1")
    assert opens(practice, keys, "00000000000000b1") and not opens(practice, keys, "00000000000000b2")
    events = [e.event for e in practice.vault().audit.entries()]
    assert events.count("unlock-failed") >= 2 and "key-renew" in events


def test_every_note_reads_with_the_current_secret_after_two_changes(practice: Env, usb: Path) -> None:
    seal(practice, "00000000000000c1", BEFORE)
    assert practice.run("passphrase", "--key-file", str(usb)).code == 0
    seal(practice, "00000000000000c2", "between the two changes")
    changed = practice.run(
        "--key-file", str(usb), "passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None
    )
    assert changed.code == 0, changed.err
    seal(practice, "00000000000000c3", AFTER)
    both = practice.run("--key-file", str(usb), "cat", "AB-1", passphrase=NEW)
    assert both.code == 0, both.err
    for text in (BEFORE, "between the two changes", AFTER):
        assert text.encode() in both.out
    assert practice.run("--key-file", str(usb), "verify", passphrase=NEW).code == 0
    # each change made a new generation of the client; syncd seals to the newest
    vault = practice.vault()
    client = vault.resolve("AB-1")
    found, _ = vault.keyring.generations(client)
    assert len(found) == 3 and vault.keyring.current(client) == max(found)


def test_a_colleagues_access_survives_either_ones_renewal(people: People) -> None:  # noqa: F811
    alex, bea = people.alex, people.bea
    seal(alex, "00000000000000d1", BEFORE)
    ok(alex, "access", "grant", "AB-1", "Bea")
    bea_copy = bea.vault_dir / "bea-record-before.json"
    shutil.copyfile(bea.vault().practitioner_file, bea_copy)
    assert alex.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    seal(alex, "00000000000000d2", AFTER)
    read = bea.run("cat", "AB-1", passphrase=BEA_PASS)
    assert read.code == 0, read.err
    assert BEFORE.encode() in read.out and AFTER.encode() in read.out
    # Bea renews hers; a client Alex grants her afterwards is sealed to her new key
    bea_new = "quince ladder velvet harbour tangent"
    assert bea.run("passphrase", stdin=f"{BEA_PASS}\n{bea_new}\n{bea_new}\n", passphrase=None).code == 0
    ok(alex, "client", "add", "CD-2", passphrase=NEW)
    seal(alex, "00000000000000d3", "a later client's first note", handle="CD-2")
    ok(alex, "access", "grant", "CD-2", "Bea", passphrase=NEW)
    later = bea.run("cat", "CD-2", passphrase=bea_new)
    assert later.code == 0 and b"a later client's first note" in later.out, later.err
    # Bea's older key record opens none of the keys of the client granted after her change
    assert keys_an_old_record_opens(bea, bea_copy, Passphrase(BEA_PASS), "CD-2") == []
    assert bea.run("verify", passphrase=bea_new).code == 0
    assert alex.run("verify", passphrase=NEW).code == 0


def test_recovery_shares_open_notes_sealed_after_a_renewal(practice: Env, usb: Path) -> None:
    seal(practice, "00000000000000e1", BEFORE)
    made = practice.run("recovery", "create", "--shares", "3", "--threshold", "2")
    assert made.code == 0, made.err
    shares = made.text.splitlines()
    assert practice.run("passphrase", "--key-file", str(usb)).code == 0
    seal(practice, "00000000000000e2", AFTER)
    used = practice.run("recovery", "use", stdin=f"{shares[2]}\n{shares[0]}\n", passphrase=NEW)
    assert used.code == 0, used.err
    both = practice.run("cat", "AB-1", passphrase=NEW)
    assert both.code == 0 and BEFORE.encode() in both.out and AFTER.encode() in both.out
    # the passphrase the custodians replaced opens nothing, with or without the key file
    assert practice.run("--key-file", str(usb), "cat", "AB-1", passphrase=PASSPHRASE).code == 2
    assert practice.run("verify", passphrase=NEW).code == 0


def make_an_older_recovery_set(practice: Env, shares: int, threshold: int) -> None:
    """A recovery set as an older casenotes made it: no key to seal a renewed secret to."""
    from vault.format.encoding import canonical
    from vault.store import ledger

    made = practice.run("recovery", "create", "--shares", str(shares), "--threshold", str(threshold))
    assert made.code == 0, made.err
    copy = next((practice.vault_dir / "practitioners").glob("*.recovery"))
    record = json.loads(copy.read_bytes())
    del record["box_public"]  # as an older casenotes wrote it
    copy.write_bytes(canonical(record))
    with practice.vault() as vault:  # recorded as an older casenotes would have
        vault.audit.append("recovery-replaced", files=ledger.files(vault.root, copy))


def test_a_recovery_set_from_before_renewals_is_named_after_a_change(practice: Env) -> None:
    make_an_older_recovery_set(practice, 1, 1)
    changed = practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None)
    assert changed.code == 0 and "make a new set with `casenotes recovery create`" in changed.err


def recovery_said(practice: Env, *command: str) -> str:
    done = practice.run(*command, passphrase=None)
    return "\n".join(line for line in (done.text + done.err).splitlines() if "recovery" in line.lower())


def test_doctor_and_todo_say_when_the_recovery_set_is_older_than_a_key_renewal(practice: Env) -> None:
    """An older set cannot follow a renewal: its shares open only notes sealed before it.
    Days later the change's own warning is gone; doctor and todo still say it, with the
    command that makes the same set again. A set made now follows every renewal."""
    remake = "casenotes recovery create --shares 3 --threshold 2"
    make_an_older_recovery_set(practice, 3, 2)
    assert "older than your key renewal" not in recovery_said(practice, "doctor")  # not renewed yet
    assert "older than your key renewal" not in recovery_said(practice, "todo")
    assert practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    today = practice.vault().clock().strftime("%Y-%m-%d")
    for command in ("doctor", "todo"):
        said = recovery_said(practice, command)
        assert f"older than your key renewal of {today}" in said and remake in said, (command, said)
    made = practice.run("recovery", "create", "--shares", "3", "--threshold", "2", passphrase=NEW)
    assert made.code == 0, made.err
    newer = "quince ladder velvet harbour tangent"
    assert practice.run("passphrase", stdin=f"{NEW}\n{newer}\n{newer}\n", passphrase=None).code == 0
    for command in ("doctor", "todo"):
        said = recovery_said(practice, command)
        assert "older than" not in said and remake not in said, (command, said)
    assert "2 of 3 custodians' shares reset the passphrase" in recovery_said(practice, "doctor")


# -- a kill at each step -----------------------------------------------------------------
RENAMES = "rename,renameat,renameat2"


def change_under_strace(strace: list[str], practice: Env, when: int | None, log: Path) -> int:
    """`casenotes passphrase` from old to NEW, killed at its WHEN-th rename (None: not)."""
    tracer = [strace[0], "-f", "-qq", "-o", str(log), "-e", f"trace={RENAMES}"]
    if when is not None:
        tracer += ["-e", f"inject={RENAMES}:signal=SIGKILL:when={when}"]
    env = {k: v for k, v in practice.env.items() if k != "CASENOTES_PASSPHRASE"}
    done = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", "passphrase"],
        input=f"{PASSPHRASE}\n{NEW}\n{NEW}\n".encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    return done.returncode


def readable(practice: Env, secret: str) -> bool:
    """Whether SECRET unlocks the key (finishing a renewal cut short) and both clients' notes
    then read: in this process, as `cat` would, to keep a run per kill cheap."""
    with practice.vault() as vault:
        try:
            practitioner = vault.unlock(Passphrase(secret))
        except WrongPassphrase:
            return False
        for handle, note_id, text in (
            ("AB-1", "00000000000000f1", BEFORE),
            ("CD-2", "00000000000000f2", "second"),
        ):
            client = vault.resolve(handle)
            keys = vault.keyring.client_keys(practitioner, client)
            path = vault.revisions(client, note_id)[-1][2]
            assert text.encode() in vault.open_revision(path, keys)[1]
    return True


def test_a_kill_at_any_step_of_a_renewal_leaves_every_note_readable(
    practice: Env, strace: list[str], tmp_path: Path
) -> None:
    ok(practice, "client", "add", "CD-2")
    seal(practice, "00000000000000f1", BEFORE)
    seal(practice, "00000000000000f2", "the second client's note", handle="CD-2")
    assert readable(practice, PASSPHRASE)
    template = tmp_path / "template"
    shutil.copytree(practice.practice.root, template / "practice", symlinks=True)
    shutil.copytree(practice.practice.config_dir, template / "config", symlinks=True)
    assert change_under_strace(strace, practice, None, tmp_path / "whole.log") == 0
    renames = (tmp_path / "whole.log").read_text().count("rename")
    assert renames >= 6  # journal, switch, pin, index, entry, each client, journal
    outcomes, cut_short = set(), False
    for when in range(1, renames + 1):
        for side in ("practice", "config"):
            shutil.rmtree(getattr(practice.practice, "root" if side == "practice" else "config_dir"))
            shutil.copytree(
                template / side,
                practice.practice.root if side == "practice" else practice.practice.config_dir,
                symlinks=True,
            )
        assert change_under_strace(strace, practice, when, tmp_path / f"{when}.log") != 0
        with practice.vault() as vault:  # before any unlock: a change cut short, not a swapped key
            said = [p.why for p in verify(vault)]
            assert not [w for w in said if "swapped" in w or "replaced" in w], (
                f"killed at rename {when}: {said}"
            )
            cut_short |= any("was cut short before it was recorded" in w for w in said)
        secret = PASSPHRASE if readable(practice, PASSPHRASE) else NEW
        assert secret == PASSPHRASE or readable(practice, NEW), f"killed at rename {when}: neither opens"
        outcomes.add(secret)
        with practice.vault() as vault:
            assert verify(vault) == [], f"killed at rename {when}"
            assert not key_renewal.journal_path(vault).exists()
    assert outcomes == {PASSPHRASE, NEW}  # kills fell both before and after the switch
    assert cut_short  # and between the switch and its audit entry, which verify names


def test_the_core_refuses_an_older_record_even_when_the_device_never_pinned_the_newer(
    practice: Env, tmp_path: Path
) -> None:
    """A second machine of the same practitioner has the old pin: the ledger still says."""
    old_copy = tmp_path / "copy.json"
    shutil.copyfile(record_of(practice), old_copy)
    vault = practice.vault()
    vault.change_passphrase(Passphrase(PASSPHRASE), Passphrase(PASSPHRASE, KeyFile.from_bytes(b"k" * 64)))
    shutil.copyfile(old_copy, record_of(practice))
    pid = vault.device.practitioner_id
    vault.device.trusted_box.pop(pid)  # as if pinned by nothing
    with pytest.raises(KeyRecordOutdated):
        vault.unlock(Passphrase(PASSPHRASE))


def test_a_second_machine_of_the_same_practitioner_follows_a_renewal_and_refuses_the_older(
    practice: Env, tmp_path: Path
) -> None:
    from casenotes.config import Practice
    from vault.store.practice import register_device

    seal(practice, "00000000000000a7", BEFORE)
    config = tmp_path / "second-laptop"
    register_device(practice.vault_dir, config, Passphrase(PASSPHRASE)).close()
    second = Env(
        Practice(practice.practice.root, config), {**practice.env, "CASENOTES_CONFIG_DIR": str(config)}
    )
    old_copy = tmp_path / "copy-before.json"
    shutil.copyfile(record_of(practice), old_copy)
    assert practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    seal(practice, "00000000000000a8", AFTER)
    read = second.run("cat", "AB-1", passphrase=NEW)
    assert read.code == 0, read.err
    assert BEFORE.encode() in read.out and AFTER.encode() in read.out
    assert second.run("verify", passphrase=NEW).code == 0
    shutil.copyfile(old_copy, record_of(practice))
    refused = second.run("cat", "AB-1", passphrase=PASSPHRASE)
    assert refused.code == 2 and "older practitioner key record" in refused.err
    assert AFTER.encode() not in refused.out


def test_a_renewal_another_machine_did_not_record_is_not_pinned(practice: Env, tmp_path: Path) -> None:
    """A record with a new key that the signing key signed but no signed audit line
    records (written by whoever can write the folder, with a stolen old record's signing
    key) stays refused as swapped: only the ledger makes a renewal."""
    from vault.format.encoding import canonical
    from vault.format.keys import renewed, wrap_practitioner

    vault = practice.vault()
    forged = renewed(vault.unlock(Passphrase(PASSPHRASE)))
    record = wrap_practitioner(forged, Passphrase(PASSPHRASE), CHEAP_KDF)
    record_of(practice).write_bytes(canonical(record))
    refused = practice.run("cat", "AB-1")
    assert refused.code == 1 and "not the ones this device pinned" in refused.err


def test_a_colleagues_key_record_planted_with_a_new_key_redirects_no_grant(people: People) -> None:  # noqa: F811
    """Whoever holds Bea's old record (her signing key in it) writes a record with a key of
    their own, signed, into the vault; no device of hers recorded it: Alex's grant is still
    sealed to the key Bea's identity names, which the planted key does not open."""
    from vault.format.encoding import canonical
    from vault.format.keys import renewed, wrap_practitioner

    bea_vault = people.bea.vault()
    planted = renewed(bea_vault.unlock(Passphrase(BEA_PASS)))
    bea_vault.practitioner_file.write_bytes(canonical(wrap_practitioner(planted, Passphrase("x"), CHEAP_KDF)))
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    alex_vault = people.alex.vault()
    client = alex_vault.resolve("AB-1")
    [granted] = [p for pid, _, p in alex_vault.keyring.access_files(client) if pid == planted.practitioner_id]
    with pytest.raises(nacl.exceptions.CryptoError):
        SealedBox(planted.box_key).decrypt(granted.read_bytes())
    assert SealedBox(planted.retired[0]).decrypt(granted.read_bytes())  # Bea's real key opens it


@pytest.mark.parametrize("registering", ["0000000000000000", "ffffffffffffffff"])
def test_a_device_registered_in_the_second_of_a_renewal_does_not_put_the_replaced_record_back(
    registering: str,
) -> None:
    """Two machines' clocks within one second cannot order their entries: the device
    registered elsewhere records the key record it saw (the replaced one). Whichever device
    id sorts first, the ledger expects the renewed record, and the replaced one stays older."""
    from vault.store import ledger
    from vault.store.audit import Entry

    path, old, new = "practitioners/p.json", "a" * 64, "b" * 64
    index, old_index, new_index = "practitioners/p.index", "c" * 64, "d" * 64
    second = "2026-12-08T01:23:23Z"
    entries = [
        Entry(1, second, "8888888888888888", "init", {"files": {path: old, index: old_index}}),
        Entry(
            2,
            second,
            "8888888888888888",
            "passphrase-changed",
            {
                "files": {path: new, index: new_index},
                "replaces": old,
                "replaces_files": {index: old_index},
                "renewed": "k",
                "practitioner": "p",
            },
        ),
        Entry(1, second, registering, "device-registered", {"files": {path: old, index: old_index}}),
    ]
    expected = ledger.expected(entries)
    assert expected[path][-1] == new and old in expected[path]
    assert expected[index][-1] == new_index and old_index in expected[index]  # the index it re-sealed too


# -- a forged "replaces" line: the practitioner locked out of their own current record ------
def test_a_replaces_line_from_a_colleagues_device_or_an_unsigned_log_locks_no_one_out(
    people: People,  # noqa: F811
) -> None:
    """Bea's still-registered machine signs an entry claiming Alex's current key record was
    replaced; whoever can write the folder, with no key at all, drops a log holding the same
    line. Neither is a renewal of Alex's: Alex still unlocks and reads."""
    import json

    from vault.store import ledger

    alex, bea = people.alex, people.bea
    seal(alex, "00000000000000a9", BEFORE)
    record = record_of(alex)
    relative = str(record.relative_to(alex.vault_dir))
    current = ledger.digest(record)
    with bea.vault() as bea_vault:  # signed by a registered device, but not one of Alex's
        bea_vault.audit.append(
            "passphrase-changed",
            practitioner=alex.vault().device.practitioner_id,
            renewed="x",
            replaces=current,
            files={relative: current},
        )
    read = alex.run("cat", "AB-1")
    assert read.code == 0, read.err
    assert BEFORE.encode() in read.out
    planted = alex.vault_dir / "audit" / "00000000000000ee.log"
    line = {"seq": 1, "time": "2026-01-01T00:00:00Z", "device": "00000000000000ee"}
    planted.write_text(
        json.dumps({**line, "event": "e", "data": {"p": relative, "replaces": current}}) + "\n"
    )
    read = alex.run("cat", "AB-1")
    assert read.code == 0, read.err
    assert BEFORE.encode() in read.out


def test_verify_takes_no_colleagues_replaces_line_for_a_renewal(people: People) -> None:  # noqa: F811
    """The same line, signed by Bea's machine, naming Alex's current key record (or his
    handle-index key) as replaced: verify calls neither an older file put back."""
    from vault.store import ledger

    alex, bea = people.alex, people.bea
    assert alex.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    record = record_of(alex)
    for target in (record, record.with_suffix(".index")):  # each holds two recorded states now
        with bea.vault() as bea_vault:
            bea_vault.audit.append(
                "passphrase-changed",
                practitioner=alex.vault().device.practitioner_id,
                renewed="x",
                replaces=ledger.digest(target),
            )
    said = alex.run("verify", passphrase=NEW)
    assert said.code == 0 and "older" not in said.err, said.err
    assert alex.run("cat", "AB-1", passphrase=NEW).code == 0


def test_a_client_added_on_a_second_machine_offline_during_a_renewal_is_renewed_once_they_meet(
    practice: Env, tmp_path: Path
) -> None:
    """Once the machines meet, notes of the client the second laptop added while apart,
    sealed from then on, do not open with the older key record and the old passphrase."""
    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    met = practice.run("cat", "AB-1", passphrase=NEW)  # the first machine unlocks once
    assert met.code == 0, met.err
    assert "gave 1 client(s) a new key" in met.err
    seal(practice, "00000000000000a6", AFTER, handle="CD-2")
    keys = keys_an_old_record_opens(practice, old_copy, Passphrase(PASSPHRASE), "CD-2")
    assert keys  # what the laptop sealed while apart still opens with the old record: no more
    assert opens(practice, keys, "00000000000000b0", handle="CD-2")
    assert not opens(practice, keys, "00000000000000a6", handle="CD-2")
    read = practice.run("cat", "CD-2", passphrase=NEW)
    assert read.code == 0 and AFTER.encode() in read.out and BEFORE.encode() in read.out, read.err
    vault = practice.vault()
    renewals = [e for e in vault.audit.entries() if e.event == "key-renew"]
    assert vault.resolve("CD-2") in {e.data["client"] for e in renewals}
    again = practice.run("cat", "CD-2", passphrase=NEW)  # once: the next unlock renews nothing
    assert again.code == 0 and "new key" not in again.err
    said = practice.run("verify", passphrase=NEW)
    assert said.code == 0, said.err


def test_a_client_of_a_colleague_is_never_renewed_by_a_practitioners_catch_up(
    people: People,  # noqa: F811
) -> None:
    """After Alex's renewal, Bea adds a client she does not share with him. A line planted in
    the folder names an access file of Alex's for it, and a file sealed to his old key (its
    public half is in every older record) lies there holding a key of the planter's. Alex's
    unlock gives that client no new generation: a line or a file is a hint, not a holding."""

    from nacl.public import SealedBox

    from vault.format import key_generations as kg

    alex, bea = people.alex, people.bea
    old_public = alex.vault().unlock(Passphrase(PASSPHRASE)).box_key.public_key
    assert alex.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    ok(bea, "client", "add", "GH-4", passphrase=BEA_PASS)
    seal(bea, "00000000000000c4", BEFORE, handle="GH-4")
    vault = alex.vault()
    client = vault.resolve("GH-4")
    pid = vault.device.practitioner_id
    planted = vault.client_dir(client) / "access" / kg.access_name(pid, kg.FIRST, "00000000000000ee")
    planted.write_bytes(SealedBox(old_public).encrypt(bytes(PrivateKey.generate())))
    relative = str(planted.relative_to(alex.vault_dir))
    line = {"seq": 1, "time": "2026-01-01T00:00:00Z", "device": "00000000000000ee", "event": "client-add"}
    log = alex.vault_dir / "audit" / "00000000000000ee.log"
    log.write_text(json.dumps({**line, "data": {"files": {relative: "0" * 64}}}) + "\n")
    before = sorted(vault.keyring.generations(client)[0])
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "new key" not in met.err, met.err
    vault = alex.vault()
    vault.unlock(Passphrase(NEW))
    assert vault.caught_up.renewed == vault.caught_up.waiting == []  # and nothing left to retry
    assert sorted(vault.keyring.generations(client)[0]) == before
    assert not [e for e in vault.audit.entries() if e.event == "key-renew" and e.data["client"] == client]
    read = bea.run("cat", "GH-4", passphrase=BEA_PASS)
    assert read.code == 0 and BEFORE.encode() in read.out, read.err


def test_a_client_whose_files_arrive_after_its_log_line_is_renewed_once_they_do(
    practice: Env, tmp_path: Path
) -> None:
    """A sync engine carries files in no set order: the laptop's log, naming the client it
    added, arrives first. That unlock cannot tell yet and renews nothing (and `cat` works);
    the next one after the client's files arrived renews it."""
    from vault.store import renewal_catchup

    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2", meet=False)
    apart = tmp_path / "apart" / "vault"
    first = practice.vault().device.device_id
    [log] = [p for p in (apart / "audit").glob("*.log") if p.stem != first]  # the laptop's own
    shutil.copyfile(log, practice.vault_dir / "audit" / log.name)
    early = practice.run("cat", "AB-1", passphrase=NEW)
    assert early.code == 0, early.err  # the client it cannot tell about yet stops nothing
    assert "new key" not in early.err
    with practice.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert len(vault.caught_up.waiting) == 1 and vault.caught_up.renewed == []
        assert json.loads(renewal_catchup.state_path(vault).read_bytes())["pending"]
    sync_new_files(apart, practice.vault_dir, log.stem)
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000a4")


def cat_under_strace(strace: list[str], practice: Env, kill: tuple[str, int] | None, log: Path) -> int:
    """`casenotes cat AB-1` with the new passphrase, killed at the Nth call of one durable
    step (rename, link or fsync: between a key file's link and its audit entry too)."""
    tracer = [strace[0], "-f", "-qq", "-o", str(log), "-e", "trace=rename,link,fsync"]
    if kill is not None:  # strace counts each system call apart: one kind at a time
        tracer += ["-e", f"inject={kill[0]}:signal=SIGKILL:when={kill[1]}"]
    env = {**practice.env, "CASENOTES_PASSPHRASE": NEW}
    done = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", "cat", "AB-1"], capture_output=True, env=env, timeout=120
    )
    return done.returncode


def test_a_catch_up_killed_at_any_step_is_finished_by_the_next_unlock(
    practice: Env, strace: list[str], tmp_path: Path
) -> None:
    """Two clients the second laptop added while apart; the first unlock after the meeting
    is killed at each durable step in turn. The clients stay readable, and the next unlock gives
    each its new generation: the old record opens no note sealed afterwards."""
    from vault.store import renewal_catchup

    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2", "EF-3")
    template = tmp_path / "template"
    shutil.copytree(practice.practice.root, template / "practice", symlinks=True)
    shutil.copytree(practice.practice.config_dir, template / "config", symlinks=True)
    assert cat_under_strace(strace, practice, None, tmp_path / "whole.log") == 0
    calls = [line.split()[1].split("(")[0] for line in (tmp_path / "whole.log").read_text().splitlines()]
    steps = [(kind, n) for kind in ("rename", "link", "fsync") for n in range(1, calls.count(kind) + 1)]
    assert calls.count("rename") >= 5 and calls.count("link") >= 2  # the list, each client's files
    killed_midway = False
    for kill in steps:
        when = f"the {kill[1]}th {kill[0]}"
        for side, target in (("practice", practice.practice.root), ("config", practice.practice.config_dir)):
            shutil.rmtree(target)
            shutil.copytree(template / side, target, symlinks=True)
        assert cat_under_strace(strace, practice, kill, tmp_path / f"{kill[0]}{kill[1]}.log") != 0
        with practice.vault() as vault:
            state = renewal_catchup.state_path(vault)
            killed_midway |= state.exists() and bool(json.loads(state.read_bytes())["pending"])
            practitioner = vault.unlock(Passphrase(NEW))  # the next unlock: finishes
            assert vault.caught_up.waiting == [], f"killed at {when}"
            for number, handle in enumerate(("CD-2", "EF-3")):
                client = vault.resolve(handle)
                path = vault.revisions(client, f"00000000000000b{number}")[-1][2]
                keys = vault.keyring.client_keys(practitioner, client)
                assert BEFORE.encode() in vault.open_revision(path, keys)[1], f"killed at {when}"
            assert verify(vault) == [], f"killed at {when}"
        for number, handle in enumerate(("CD-2", "EF-3")):
            assert renewed_since(practice, old_copy, handle, f"00000000000000c{number}"), (
                f"killed at {when}: {handle} still opens with the old record"
            )
    assert killed_midway  # some kills fell between finding the clients and renewing them


def test_an_older_access_file_of_a_client_a_colleague_shared_opens_nothing_sealed_after(
    people: People,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Bea's client, granted to Alex: his renewal gives it a new generation too (Bea keeps
    reading and writing it), so his older record and his older access file of that client,
    with the old passphrase, open none of its notes sealed after his change."""
    alex, bea = people.alex, people.bea
    ok(bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    ok(bea, "access", "grant", "EF-3", "Alex", passphrase=BEA_PASS)
    old_copy = tmp_path / "alex-before.json"
    shutil.copyfile(record_of(alex), old_copy)
    assert alex.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    seal(bea, "00000000000000a5", AFTER, handle="EF-3")
    keys = keys_an_old_record_opens(alex, old_copy, Passphrase(PASSPHRASE), "EF-3")
    assert keys and not opens(alex, keys, "00000000000000a5", handle="EF-3")
    for who, secret in ((bea, BEA_PASS), (alex, NEW)):
        read = who.run("cat", "EF-3", passphrase=secret)
        assert read.code == 0 and AFTER.encode() in read.out, read.err
