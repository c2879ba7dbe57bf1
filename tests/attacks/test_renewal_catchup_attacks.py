# ruff: noqa: F811  (`people` is the fixture imported from helpers.people)
"""Issue 28, the key-renewal catch-up (vault/store/renewal_catchup.py) as an attacker tries
it: a colleague's still-registered machine writing into the synced folder, a client the
catch-up must not drop before it is renewed, a full disk, a state file tampered with.
What matters is whether a note sealed afterwards opens with the key record from before the
renewal and the old passphrase, and whether the command the user ran still works."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSPHRASE, Env
from helpers.key_renewal import (
    AFTER,
    BEFORE,
    NEW,
    apart_during_a_renewal,
    keys_an_old_record_opens,
    opens,
    record_of,
    renewed_since,
    sync_new_files,
)
from helpers.people import BEA_PASS, People, ok, people  # noqa: F401 (people: a fixture)
from helpers.people import seal as seal_note
from nacl.public import PrivateKey

from vault import Passphrase
from vault.format import key_generations as kg
from vault.format.encoding import stamp
from vault.store import renewal_catchup
from vault.store.clients import key_record


def forge_generation_over(people: People, handle: str, signed: bool) -> Path:
    """Bea's machine (registered, so it signs key files that check) writes a generation of
    a client she does not hold, replacing its only one: refused by `Keyring.entitled`. Not
    ``signed``: a key file that does not check (anyone who can write the folder; or a real
    one whose device's registration has not synced yet)."""
    alex, bea = people.alex.vault(), people.bea.vault()
    client = alex.resolve(handle)
    found, _ = alex.keyring.generations(client)
    [tip] = kg.tips(found)
    gid = kg.new_gid(max(g.number for g in found.values()) + 1, bea.device.device_id)
    generation = kg.Generation(
        gid, PrivateKey.generate().public_key, (tip,), frozenset({bea.device.practitioner_id}), frozenset()
    )
    path = alex.client_dir(client) / "keys" / f"{gid}.json"
    path.parent.mkdir(exist_ok=True)
    record = key_record(client, generation, bea.device, stamp(bea.clock()))
    if not signed:  # the signature no longer covers what it says
        record = record.replace(bea.device.practitioner_id.encode(), alex.device.practitioner_id.encode())
    path.write_bytes(record)
    assert bool(alex.keyring.generations(client)[1]) is not signed
    return path


@pytest.mark.parametrize("signed", [True, False], ids=["forged-by-a-colleague", "does-not-check"])
def test_a_forged_generation_over_an_old_key_client_does_not_make_the_catch_up_drop_it(
    people: People, tmp_path: Path, signed: bool
) -> None:
    """Alex's laptop, apart during his renewal, adds CD-2 (sealed to his old key). Before his
    first unlock after the meeting, Bea's machine lays a generation of CD-2 on top (she does
    not hold it: refused, and sealing to CD-2 stops meanwhile). Had the catch-up judged CD-2
    by that tip, it would drop it as "nothing to do"; once the forged file is gone, notes of
    CD-2 would again be sealed to the generation the old record opens."""
    alex = people.alex
    old_copy = apart_during_a_renewal(alex, tmp_path, "CD-2")
    forged = forge_generation_over(people, "CD-2", signed)
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0, met.err
    with alex.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert vault.caught_up.waiting == [vault.resolve("CD-2")]  # kept, not dropped
    forged.unlink()  # Bea takes it back (or verify named it and Alex removed it)
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(alex, old_copy, "CD-2", "00000000000000d1")
    with alex.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert json.loads(renewal_catchup.state_path(vault).read_bytes())["pending"] == {}


def damaged_states(practice: Env) -> list[dict[str, Any]]:
    """The state as a hand edit or a damaged disk leaves it: every log and the laptop's
    client given a field of the wrong shape."""
    vault = practice.vault()
    pid, client = vault.device.practitioner_id, vault.resolve("CD-2")
    whole = {"format": renewal_catchup.STATE_FORMAT, "practitioner_id": pid, "logs": {}, "pending": {}}
    logs = [log.name for log in vault.audit.logs()]
    return [
        {**whole, "logs": dict.fromkeys(logs, 5)},
        {**whole, "logs": dict.fromkeys(logs, ["5", None])},
        {**whole, "logs": dict.fromkeys(logs, [5])},
        {**whole, "logs": dict.fromkeys(logs, [-40, None])},
        {**whole, "pending": {client: 7}},
        {**whole, "pending": {client: [7]}},
    ]


@pytest.mark.parametrize("damage", range(6))
def test_a_damaged_state_file_stops_no_command_and_the_catch_up_still_renews(
    practice: Env, tmp_path: Path, damage: int
) -> None:
    """renewal-catchup.json, edited by hand or damaged on disk, well-formed JSON with fields
    of the wrong shape: `cat` works, and the client the laptop added apart is renewed."""
    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    state = renewal_catchup.state_path(practice.vault())
    state.write_bytes(json.dumps(damaged_states(practice)[damage]).encode())
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d2")


def cat_cd2(
    strace: list[str], practice: Env, log: Path, when: int | None
) -> subprocess.CompletedProcess[bytes]:
    """`casenotes cat CD-2` under strace, its renames logged; the WHENth fails with ENOSPC."""
    tracer = [strace[0], "-f", "-qq", "-o", str(log), "-e", "trace=rename"]
    if when is not None:
        tracer += ["-e", f"inject=rename:error=ENOSPC:when={when}"]
    env = {**practice.env, "CASENOTES_PASSPHRASE": NEW}
    command = [*tracer, sys.executable, "-m", "casenotes", "cat", "CD-2"]
    return subprocess.run(command, capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("write", [0, 1], ids=["the-list-of-clients", "after-a-renewal"])
def test_a_full_disk_at_the_catch_ups_state_file_stops_no_command(
    practice: Env, strace: list[str], tmp_path: Path, write: int
) -> None:
    """The disk refuses the catch-up's state file (ENOSPC at its rename): `cat` still prints
    the notes. Refused the list of clients to check, it renews nothing this time (nothing
    unlisted is renewed); refused the list once the client was renewed, the client stays
    listed and the next unlock finds nothing to do. Either way, with room again, the old
    record opens no note sealed afterwards."""
    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    template = tmp_path / "template"
    sides = (("practice", practice.practice.root), ("config", practice.practice.config_dir))
    for side, target in sides:
        shutil.copytree(target, template / side, symlinks=True)
    assert cat_cd2(strace, practice, tmp_path / "whole.log", None).returncode == 0
    renames = [line for line in (tmp_path / "whole.log").read_text().splitlines() if "rename(" in line]
    state = renewal_catchup.state_path(practice.vault())
    when = [n for n, line in enumerate(renames, start=1) if f'"{state}")' in line]
    assert len(when) == 2  # the list, then the client done
    for side, target in sides:
        shutil.rmtree(target)
        shutil.copytree(template / side, target, symlinks=True)
    full = cat_cd2(strace, practice, tmp_path / "full.log", when[write])
    assert "ENOSPC (No space left on device) (INJECTED)" in (tmp_path / "full.log").read_text()
    assert full.returncode == 0, full.stderr.decode()
    assert BEFORE.encode() in full.stdout
    with practice.vault() as vault:
        client = vault.resolve("CD-2")
        renewals = [e for e in vault.audit.entries() if e.event == "key-renew" and e.data["client"] == client]
    assert len(renewals) == write and (b"gave 1 client(s) a new key" in full.stderr) == bool(write)
    assert state.exists() == bool(write)
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and ("gave 1 client(s) a new key" in met.err) != bool(write), met.err
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d3")


def test_a_log_rewritten_under_the_saved_offset_costs_an_unlock_two_state_writes(
    practice: Env, strace: list[str], tmp_path: Path
) -> None:
    """Whoever can write the folder changes a byte of the practitioner's own log before where
    the catch-up had read it: the next unlock reads that log again from its start and checks
    every client it names (none needs a new key). The state is written twice (the list,
    then the end), not once per client: an fsync each made 300 clients a 5 s unlock."""
    handles = [f"K{n}-1" for n in range(6)]
    for handle in handles:
        ok(practice, "client", "add", handle)
    assert practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    assert practice.run("cat", "AB-1", passphrase=NEW).code == 0  # the state: read up to here
    vault = practice.vault()
    state = renewal_catchup.state_path(vault)
    offsets = json.loads(state.read_bytes())["logs"]
    own = vault.audit.path
    raw = bytearray(own.read_bytes())
    at = raw.rindex(b'"time":"', 0, offsets[own.name][0]) + len(b'"time":"')
    raw[at : at + 4] = b"1999"  # the saved tail no longer matches
    own.write_bytes(bytes(raw))
    log = tmp_path / "renames.log"
    env = {**practice.env, "CASENOTES_PASSPHRASE": NEW}
    tracer = [strace[0], "-f", "-qq", "-o", str(log), "-e", "trace=rename"]
    done = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", "cat", "AB-1"], capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0 and b"new key" not in done.stderr, done.stderr.decode()
    writes = [line for line in log.read_text().splitlines() if f'"{state}")' in line]
    assert len(writes) == 2, writes
    assert json.loads(state.read_bytes())["pending"] == {}
    # client ids and offsets: no other user of the machine reads or replaces them
    assert (state.stat().st_mode & 0o777, state.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_lines_planted_without_a_device_key_leave_the_catch_up_nothing_to_carry(
    practice: Env, tmp_path: Path
) -> None:
    """Whoever can write the folder, with no device key, plants lines naming access files of
    the practitioner's for clients that do not exist, in a log of its own, some naming a
    registered device (its signature does not check). Had they counted, each client would wait here for ever (50,000
    such lines added 1.4 s and a 5 MB state to every unlock). They are not signed: passed
    over, while the laptop's genuine line still has its client renewed."""
    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    vault = practice.vault()
    pid = vault.device.practitioner_id
    planted = b"".join(
        json.dumps(
            {
                "seq": 1,
                "time": "2026-01-01T00:00:00Z",
                "device": device,
                "event": "client-add",
                "data": {"files": {f"clients/{n:016x}/access/{pid}.000001-{device}.sealed": "0" * 64}},
                "prev": "0" * 64,
                "sig": "A" * 86 + "==",
            }
        ).encode()
        + b"\n"
        for n in range(200)
        for device in ("00000000000000ee", vault.device.device_id)
    )
    (practice.vault_dir / "audit" / "00000000000000ee.log").write_bytes(planted)
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    with practice.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert vault.caught_up.waiting == []
        assert json.loads(renewal_catchup.state_path(vault).read_bytes())["pending"] == {}
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d4")


@pytest.mark.parametrize("how", ["beside", "instead", "over"])
def test_a_thief_with_the_old_record_cannot_make_the_catch_up_pass_over_a_client(
    practice: Env, tmp_path: Path, how: str
) -> None:
    """The thief holds the key record from before the renewal and the old passphrase, and
    can write the synced folder (the second laptop, stolen). Before the first machine's
    next unlock, they open the access file of CD-2 (sealed to the old key) and lay one of
    the same generation sealed to the practitioner's new public key (public, in the key
    record) ``beside`` it, ``instead`` of it (the old one deleted: the log still names
    it), or ``over`` it (the same name, other bytes than the log recorded).
    Had one file opening with the current key been enough, CD-2 would never be renewed and
    its notes would go on opening with the old record (or the key the thief took); had a
    deleted file made its practitioner no holder, the renewal would be refused."""
    from nacl.public import SealedBox

    from vault.format.keys import unlock_practitioner

    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    vault = practice.vault()
    client, pid = vault.resolve("CD-2"), vault.device.practitioner_id
    old = unlock_practitioner(old_copy, Passphrase(PASSPHRASE))
    [(_, gid, path)] = vault.keyring.access_files(client)
    secret = old.open_sealed(path.read_bytes())
    new_public = vault.keyring.practitioner_box_keys()[pid]  # from the key record: no unlock
    laid = path if how == "over" else path.parent / kg.access_name(pid, gid, "00000000000000ee")
    if how == "instead":
        path.unlink()
    laid.write_bytes(SealedBox(new_public).encrypt(secret))
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d5")
    taken = [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
    assert not opens(practice, taken, "00000000000000d5", handle="CD-2")
    # and verify names what the thief did: the file laid there, and the one deleted
    said = practice.run("verify", passphrase=NEW)
    laid_said = {
        "over": "differs from the key or index file the audit log recorded (replaced?)",
        "beside": "a sealed client key the audit log never recorded",
        "instead": "a sealed client key the audit log never recorded",
    }[how]
    assert said.code == 1 and f"{laid}: {laid_said}" in said.err, said.err
    deleted = f"{path}: a key or index file the audit log recorded is missing (deleted?)"
    assert (deleted in said.err) is (how == "instead"), said.err


def test_a_file_laid_over_the_named_one_after_an_unlock_left_the_client_waiting_is_renewed(
    practice: Env, tmp_path: Path
) -> None:
    """The laptop's log arrives before CD-2's files: the unlock leaves CD-2 pending, and its
    line is not read again. Then the files arrive, the access file replaced in place by the
    thief (the old record opens the laptop's copy; the one laid under its name is sealed to
    the new key). The next unlock still tells it from the digest the log recorded."""
    from nacl.public import SealedBox

    from vault.format.keys import unlock_practitioner

    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2", meet=False)
    apart = tmp_path / "apart" / "vault"
    first = practice.vault().device.device_id
    [log] = [p for p in (apart / "audit").glob("*.log") if p.stem != first]  # the laptop's own
    shutil.copyfile(log, practice.vault_dir / "audit" / log.name)
    early = practice.run("cat", "AB-1", passphrase=NEW)
    assert early.code == 0 and "new key" not in early.err, early.err
    sync_new_files(apart, practice.vault_dir, log.stem)
    vault = practice.vault()
    client, pid = vault.resolve("CD-2"), vault.device.practitioner_id
    [(_, _, path)] = vault.keyring.access_files(client)
    secret = unlock_practitioner(old_copy, Passphrase(PASSPHRASE)).open_sealed(path.read_bytes())
    path.write_bytes(SealedBox(vault.keyring.practitioner_box_keys()[pid]).encrypt(secret))
    met = practice.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d7")
    taken = [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
    assert not opens(practice, taken, "00000000000000d7", handle="CD-2")


def test_both_machines_catching_up_the_same_client_leave_it_sealed_to_the_current_key_only(
    practice: Env, tmp_path: Path
) -> None:
    """The laptop that was apart gets the renewed key record, unlocks with the new
    passphrase and catches up CD-2 too, while the first machine does the same: two new
    generations made apart. Once they meet again, a note sealed on either opens with the
    current secret and not with the older record; verify is clean."""
    from casenotes.config import Practice

    old_copy = apart_during_a_renewal(practice, tmp_path, "CD-2")
    apart = tmp_path / "apart" / "vault"
    laptop = Env(
        Practice(tmp_path / "apart", tmp_path / "second-laptop"),
        {
            **practice.env,
            "CASENOTES_HOME": str(tmp_path / "apart"),
            "CASENOTES_CONFIG_DIR": str(tmp_path / "second-laptop"),
        },
    )
    first, second = practice.vault().device.device_id, laptop.vault().device.device_id
    for name in ("json", "index", "recovery"):  # the renewed record, as a sync engine carries it
        source = record_of(practice).with_suffix(f".{name}")
        if source.exists():
            shutil.copyfile(source, apart / "practitioners" / source.name)
    sync_new_files(practice.vault_dir, apart, first)
    for env in (practice, laptop):
        met = env.run("cat", "CD-2", passphrase=NEW)
        assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    sync_new_files(apart, practice.vault_dir, second)
    sync_new_files(practice.vault_dir, apart, first)
    with practice.vault() as vault:
        client = vault.resolve("CD-2")
        assert len(kg.tips(vault.keyring.generations(client)[0])) == 2  # made apart: a merge is due
    assert renewed_since(practice, old_copy, "CD-2", "00000000000000d6")
    again = practice.run("cat", "CD-2", passphrase=NEW)
    assert again.code == 0 and "new key" not in again.err and AFTER.encode() in again.out, again.err
    said = practice.run("verify", passphrase=NEW)
    assert said.code == 0, said.err


def test_a_catch_up_gives_back_no_access_the_practice_took_away(people: People, tmp_path: Path) -> None:
    """Bea's machine, apart while Alex renews, adds EF-3, grants it to Alex (sealed to the
    old key she knew), then revokes him. The sync engine carries the grant first: Alex's
    unlock renews EF-3 (he holds it, as far as his machine knows). Then the revoke arrives:
    the generation made by the revoke and Alex's renewal are merged without him, and a note
    Bea seals afterwards does not open for Alex, by the current secret or the old record."""
    from casenotes.config import Practice

    alex = people.alex
    bea_root = tmp_path / "bea-apart"
    shutil.copytree(alex.practice.root, bea_root, symlinks=True)
    bea = Env(
        Practice(bea_root, people.bea.practice.config_dir),
        {**people.bea.env, "CASENOTES_HOME": str(bea_root)},
    )
    ok(bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    ok(bea, "access", "grant", "EF-3", "Alex", passphrase=BEA_PASS)
    granted = tmp_path / "after-grant"
    shutil.copytree(bea.vault_dir, granted, symlinks=True)
    ok(bea, "access", "revoke", "EF-3", "Alex", passphrase=BEA_PASS)
    old_copy = tmp_path / "alex-before.json"
    shutil.copyfile(record_of(alex), old_copy)
    assert alex.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    device = bea.vault().device.device_id
    sync_new_files(granted, alex.vault_dir, device)  # the grant first
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    sync_new_files(bea.vault_dir, alex.vault_dir, device)  # then the revoke, and what it removed
    client = alex.vault().resolve("EF-3")
    for path in (alex.vault_dir / "clients" / client / "access").iterdir():
        if (
            path.name.endswith(f".{device}.sealed")
            and not (bea.vault_dir / path.relative_to(alex.vault_dir)).exists()
        ):
            path.unlink()
    sync_new_files(alex.vault_dir, bea.vault_dir, alex.vault().device.device_id)
    note = seal_note(bea, "2026-03-02", AFTER, client="EF-3")
    sync_new_files(bea.vault_dir, alex.vault_dir, device)
    read = alex.run("cat", "EF-3", passphrase=NEW)
    assert AFTER.encode() not in read.out, read.err
    with alex.vault() as vault:
        current = vault.keyring.client_keys(vault.unlock(Passphrase(NEW)), client)
    older = keys_an_old_record_opens(alex, old_copy, Passphrase(PASSPHRASE), "EF-3")
    assert current and not opens(alex, current + older, note, handle="EF-3")
    assert opens_for_bea(bea, note)


def opens_for_bea(bea: Env, note: str) -> bool:
    """The note reads on Bea's machine (the test's note is real, not one nobody can open)."""
    read = bea.run("cat", "EF-3", passphrase=BEA_PASS)
    return read.code == 0 and AFTER.encode() in read.out


def test_a_client_left_waiting_does_not_make_every_unlock_read_every_clients_keys(
    practice: Env, strace: list[str], tmp_path: Path
) -> None:
    """A client the catch-up waits for (its files not synced yet; or a forged key file over
    it, for as long as nobody removes it) is checked at every unlock. Finishing renewals cut
    short is asked for that client only: `cat AB-1` opens no other client's key files (with
    every client's, 300 clients added 0.13 s to each unlock meanwhile)."""
    handles = [f"K{n}-1" for n in range(4)]
    for handle in handles:
        ok(practice, "client", "add", handle)
    assert practice.run("passphrase", stdin=f"{PASSPHRASE}\n{NEW}\n{NEW}\n", passphrase=None).code == 0
    assert practice.run("cat", "AB-1", passphrase=NEW).code == 0
    vault = practice.vault()
    state = renewal_catchup.state_path(vault)
    saved = json.loads(state.read_bytes())
    waiting = "00000000000000ff"  # a client whose files have not arrived
    saved["pending"] = {waiting: [f"clients/{waiting}/access/{vault.device.practitioner_id}.sealed"]}
    state.write_bytes(json.dumps(saved).encode())
    others = {vault.resolve(handle) for handle in handles}
    log = tmp_path / "opens.log"
    env = {**practice.env, "CASENOTES_PASSPHRASE": NEW}
    tracer = [strace[0], "-f", "-qq", "-o", str(log), "-e", "trace=openat"]
    done = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", "cat", "AB-1"], capture_output=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    opened = [line for line in log.read_text().splitlines() if "/keys/" in line and "ENOENT" not in line]
    assert not [line for line in opened if any(f"/clients/{c}/keys/" in line for c in others)], opened
    with practice.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert vault.caught_up.waiting == [waiting]
