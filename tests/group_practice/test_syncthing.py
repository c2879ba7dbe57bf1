"""A group practice on two machines joined by real Syncthing instances on 127.0.0.1 (Debian's
``syncthing``): Alex on one, Bea on the other, only ``vault/`` shared. Both seal notes
while connected and while apart; after they meet again every note is on both machines
exactly once, each practitioner reads all of theirs, `verify` and `audit verify` are
clean on both, and the engine left no conflict copy. A note both changed while apart is
shown as a fork on both machines until one resolves it; a handle both added is two
clients, each sealed into by its own practitioner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env
from helpers.two_engines import BEA_PASS, _machine, _practice_of_two, _read
from notes import note_text
from syncthing import Syncthing, converge, tree

from retention import certificate
from syncd.filing import file_note
from vault import Passphrase, Vault
from vault.errors import NoAccess
from vault.format import sync_artefacts
from vault.format.encoding import new_id
from vault.format.keys import unlock_practitioner
from vault.sharing import access
from vault.store.colleagues import identity_of, join_practice
from vault.store.practice import create_practice, register_device


def _seal(
    env: Env, passphrase: str, handle: str, tag: str, note_id: str | None = None, date: str = "2026-03-17"
) -> str:
    """A note sealed as syncd seals it, on this machine; returns its id."""
    note_id = note_id or new_id()
    path = env.practice.inbox / f"{tag}.md"
    path.write_text(note_text(client=handle, note_id=note_id, date=date, body=f"Fictional session {tag}."))
    with env.vault() as vault:
        file_note(vault, path)
    path.unlink()
    return note_id


def test_two_practitioners_seal_on_two_machines_joined_by_syncthing(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    st_a, st_b = engines
    a, b = _practice_of_two(engines, tmp_path, base_env)

    # Connected: both seal at once.
    alex_notes = [_seal(a, PASSPHRASE, "AB-1", f"a-online-{i}") for i in range(3)]
    bea_notes = [_seal(b, BEA_PASS, "BE-1", f"b-online-{i}") for i in range(3)]
    shared_notes = [_seal(b, BEA_PASS, "AB-1", "b-online-ab")]
    forked = shared_notes[0]
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    # Apart (each machine's folder paused): both keep working, then meet again.
    st_a.pause()
    st_b.pause()
    alex_notes += [_seal(a, PASSPHRASE, "AB-1", f"a-offline-{i}") for i in range(3)]
    bea_notes += [_seal(b, BEA_PASS, "BE-1", f"b-offline-{i}") for i in range(2)]
    shared_notes += [_seal(b, BEA_PASS, "AB-1", "b-offline-ab")]
    _seal(a, PASSPHRASE, "AB-1", "a-edit-of-shared", forked)  # both change one note...
    _seal(b, BEA_PASS, "AB-1", "b-edit-of-shared", forked)
    for env in (a, b):  # ...and both add one handle
        with env.vault() as vault:
            vault.add_client("EF-3", f"Fictional client of {env.practice.root.name}", None)
    ef3 = {
        env.practice.root.name: _seal(env, pw, "EF-3", f"{env.practice.root.name}-ef3")
        for env, pw in ((a, PASSPHRASE), (b, BEA_PASS))
    }
    st_a.resume()
    st_b.resume()
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    # The fork is shown on both machines, with both texts, until one of them resolves it.
    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        # Each command audits on its own machine: the other checks once Syncthing shows those
        # entries delivered (a checkpoint ahead of its log is "not yet synced", rightly).
        converge(st_a, a.vault_dir, st_b, b.vault_dir)
        shown = env.run("cat", "AB-1", "--note", forked, passphrase=passphrase)
        assert "a-edit-of-shared" in shown.text and "b-edit-of-shared" in shown.text, shown.err
        assert f"note {forked} was changed on two machines" in env.run("verify", passphrase=passphrase).err
    with a.vault() as vault:
        cid = vault.resolve("AB-1")
        fork = vault.fork(cid, forked)
        assert fork is not None
        bea_device = next(d for d in vault.trust.device_keys() if d != vault.device.device_id)
        [bea_tip] = [tip for tip in fork.tips if tip.stem.endswith(bea_device)]
        vault.resolve_fork(vault.unlock(Passphrase(PASSPHRASE)), cid, forked, bea_tip)
    # Each machine's EF-3 note lies in its own practitioner's EF-3.
    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        assert _read(env, passphrase, "EF-3") == [ef3[env.practice.root.name]]
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    assert tree(a.vault_dir) == tree(b.vault_dir)
    assert sorted(_read(a, PASSPHRASE, "AB-1")) == sorted(alex_notes + shared_notes)
    assert sorted(_read(b, BEA_PASS, "AB-1")) == sorted(alex_notes + shared_notes)
    assert sorted(_read(b, BEA_PASS, "BE-1")) == sorted(bea_notes)
    shown = b.run("cat", "AB-1", "--note", forked, passphrase=BEA_PASS)
    assert "b-edit-of-shared" in shown.text and "a-edit-of-shared" not in shown.text
    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        # Each command audits on its own machine: the other checks once Syncthing shows those
        # entries delivered (a checkpoint ahead of its log is "not yet synced", rightly).
        converge(st_a, a.vault_dir, st_b, b.vault_dir)
        for command in (["verify"], ["audit", "verify"]):
            result = env.run(*command, passphrase=passphrase)
            assert result.code == 0, f"{command} on {env.practice.root.name}: {result.err}"
        assert not [p for p, kind in sync_artefacts.find(env.vault_dir) if kind == "conflict"]
        with env.vault() as vault:
            for cid in vault.client_ids():
                for note in vault.note_ids(cid):
                    assert vault.fork(cid, note) is None
                    revisions = vault.revisions(cid, note)
                    assert len(revisions) == (4 if note == forked else 1)  # 1, 2 from each, the merge
    for env in (a, b):
        assert not list(env.practice.inbox.iterdir())  # drafts stay on their machine, sealed


def test_a_hold_placed_while_apart_survives_the_other_machines_purge(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Alex holds a client on his machine while it is off the network, and Bea runs
    `retention purge --confirm` on hers meanwhile: it records an intent and destroys nothing
    (issue 28: a group purge waits for every device's acknowledgement). Once they meet, Alex's
    syncd acknowledges the other due client and stops the held one; Bea's next purge disposes
    of the first only. The purge reaches Alex's machine; one certificate, by Bea's device.
    Bea confirmed it without the notice period: Alex's machine does not carry it out (its
    backups keep the client) until that period is over, and its verify says so, naming Bea's
    device; Bea's verifies clean."""
    st_a, st_b = engines
    a, b = _practice_of_two(engines, tmp_path, base_env)
    for handle in ("KEEP-1", "GONE-1"):
        with a.vault() as vault:
            vault.add_client(handle, f"Fictional {handle}", None)
        _seal(a, PASSPHRASE, handle, f"{handle}-old", date="2010-01-01")  # retention long over
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    with a.vault() as vault:
        alex_device = vault.device.device_id
        keep, gone = vault.resolve("KEEP-1"), vault.resolve("GONE-1")

    st_a.pause()
    st_b.pause()
    held = a.run("retention", "hold", "KEEP-1", "--reason", "fictional subpoena")
    assert held.code == 0, held.err
    apart = b.run("retention", "purge", "--confirm", passphrase=BEA_PASS)  # Bea cannot know the hold
    assert apart.code == 0, apart.err
    assert apart.text.count("purge intent recorded") == 2 and alex_device in apart.text
    with b.vault() as vault:
        assert {keep, gone} <= set(vault.client_ids())  # nothing destroyed: an intent only
    st_a.resume()
    st_b.resume()
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    waiting = b.run("retention", "status", "--no-names")
    assert f"waiting for device(s) {alex_device} to acknowledge" in waiting.text, waiting.text
    early = b.run("retention", "purge", "--confirm", passphrase=BEA_PASS)  # before Alex's answer
    assert early.code == 0 and "purged client" not in early.text, early.text

    ran = a.run("syncd", "--once")  # Alex's syncd sees the intents: acknowledges one, holds one
    assert ran.code == 0, ran.err
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    stopped = b.run("retention", "status", "--no-names").text
    assert f"client {keep} by device" in stopped and "hold(s) in force here" in stopped, stopped
    purge = b.run("retention", "purge", "--confirm", passphrase=BEA_PASS)
    assert purge.code == 0, purge.err
    assert f"purged client {gone}" in purge.text and keep not in purge.text.replace(f"client {keep}: the", "")
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    with b.vault() as vault:
        bea_device = vault.device.device_id
    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        # Each command audits on its own machine: the other checks once Syncthing shows those
        # entries delivered (a checkpoint ahead of its log is "not yet synced", rightly).
        converge(st_a, a.vault_dir, st_b, b.vault_dir)
        assert env.run("cat", "GONE-1", passphrase=passphrase).code != 0
        if env is a:
            assert "Fictional session KEEP-1-old." in env.run("cat", "KEEP-1").text
        with env.vault() as vault:
            certificates = certificate.all_certificates(vault)
            assert [(f["device"], p.name.split(".")[1]) for p, f in certificates.items()] == [
                (bea_device, bea_device)
            ]
            assert len(vault.client_ids()) == 3  # AB-1, BE-1 and KEEP-1: GONE-1 is gone
        if env is a:
            assert env.run("backup", "run").code == 0  # its first look at Bea's purge
            checked = env.run("verify")
            [refused] = [line for line in checked.err.splitlines() if "refused on this machine" in line]
            assert bea_device in refused and "less than a notice period ago" in refused
            assert "KEEP-1" not in checked.err
        for command in ([] if env is a else [["verify"]]) + [["audit", "verify"]]:
            result = env.run(*command, passphrase=passphrase)
            assert result.code == 0, f"{command} on {env.practice.root.name}: {result.err}"
        assert not [p for p, kind in sync_artefacts.find(env.vault_dir) if kind == "conflict"]


def test_a_retired_device_is_no_longer_waited_for_by_a_purge(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Alex registered an old laptop too, then lost it: Bea's purge waits for it after Alex's
    desk acknowledged, until Alex retires it (Bea may not: it is not her device)."""
    st_a, st_b = engines
    a, b = _practice_of_two(engines, tmp_path, base_env)
    with a.vault() as vault:
        vault.add_client("GONE-1", "Fictional GONE-1", None)
    _seal(a, PASSPHRASE, "GONE-1", "gone-old", date="2010-01-01")
    register_device(a.vault_dir, tmp_path / "alex-old-laptop", Passphrase(PASSPHRASE)).close()
    with a.vault() as vault:
        alex_device, gone = vault.device.device_id, vault.resolve("GONE-1")
        [lost] = [
            d
            for d in vault.trust.device_keys()
            if vault.trust.registrant(d) == vault.device.practitioner_id and d != alex_device
        ]
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    first = b.run("retention", "purge", "--confirm", passphrase=BEA_PASS)
    assert first.code == 0 and "purge intent recorded" in first.text, first.err
    assert alex_device in first.text and lost in first.text
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    assert a.run("syncd", "--once").code == 0  # Alex's desk acknowledges
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    waiting = b.run("retention", "status", "--no-names").text
    assert f"waiting for device(s) {lost} to acknowledge" in waiting, waiting
    assert "purged client" not in b.run("retention", "purge", "--confirm", passphrase=BEA_PASS).text

    not_hers = b.run("device", "retire", lost, passphrase=BEA_PASS)
    assert not_hers.code == 1 and "only they retire it" in not_hers.err, not_hers.err
    retire = a.run("device", "retire", lost, passphrase=PASSPHRASE)
    assert retire.code == 0, retire.err
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    purge = b.run("retention", "purge", "--confirm", passphrase=BEA_PASS)
    assert purge.code == 0 and f"purged client {gone}" in purge.text, purge.err
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    for env in (a, b):
        with env.vault() as vault:
            assert gone not in vault.client_ids()
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        converge(st_a, a.vault_dir, st_b, b.vault_dir)
        result = env.run("audit", "verify", passphrase=passphrase)
        assert result.code == 0, f"audit verify on {env.practice.root.name}: {result.err}"


def test_two_revokes_made_offline_on_two_machines_converge_under_syncthing(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    """Issue 16, item 3: Alex revokes Carol and Bea revokes Dan from one client while both
    machines are offline. Before, both wrote keys/000002.json and deleted each other's
    access files, and `cat` and `client list` failed on both."""
    st_a, st_b = engines
    a, b = _machine(tmp_path, base_env, "alex"), _machine(tmp_path, base_env, "bea")
    create_practice(a.vault_dir, a.practice.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    a.practice.create_layout()
    others = {name: f"fictional {name} passphrase" for name in ("carol", "dan")}
    with a.vault() as vault:
        alex = vault.unlock(Passphrase(PASSPHRASE))
        client = vault.add_client("AB-1", "Fictional Person A", None)
        people = {"alex": identity_of(alex)}
        for name, passphrase in [("bea", BEA_PASS), *others.items()]:
            people[name], _ = join_practice(a.vault_dir, Passphrase(passphrase), CHEAP_KDF)
            vault.trust.add_colleague(alex, name.title(), people[name])
            access.grant(vault, alex, client, vault.trust.colleague(name.title()))
    os.makedirs(b.vault_dir, mode=0o700)
    b.practice.create_layout()
    st_a.share(a.vault_dir, st_b)
    st_b.share(b.vault_dir, st_a)
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    with register_device(b.vault_dir, b.practice.config_dir, Passphrase(BEA_PASS)) as vault:
        bea = vault.unlock(Passphrase(BEA_PASS))
        for name in ("alex", *others):
            vault.trust.add_colleague(bea, name.title(), people[name])
    notes = [_seal(a, PASSPHRASE, "AB-1", "before")]
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    st_a.pause()
    st_b.pause()
    for env, passphrase, whom in ((a, PASSPHRASE, "Carol"), (b, BEA_PASS, "Dan")):
        with env.vault() as vault:
            access.revoke(vault, vault.unlock(Passphrase(passphrase)), client, vault.trust.colleague(whom))
        notes.append(_seal(env, passphrase, "AB-1", f"apart-{whom}"))  # each to its own new key
    st_a.resume()
    st_b.resume()
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    notes += [_seal(a, PASSPHRASE, "AB-1", "met-0"), _seal(b, BEA_PASS, "AB-1", "met-1")]
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        # Each command audits on its own machine: the other checks once Syncthing shows those
        # entries delivered (a checkpoint ahead of its log is "not yet synced", rightly).
        converge(st_a, a.vault_dir, st_b, b.vault_dir)
        shown = env.run("cat", "AB-1", passphrase=passphrase)
        assert shown.code == 0 and "session before" in shown.text and "session met-1" in shown.text, shown.err
        assert "AB-1" in env.run("client", "list", passphrase=passphrase).text
        for command in (["verify"], ["audit", "verify"]):
            result = env.run(*command, passphrase=passphrase)
            assert result.code == 0, f"{command} on {env.practice.root.name}: {result.err}"
        assert sorted(_read(env, passphrase, "AB-1")) == sorted(notes)
        assert not [p for p, kind in sync_artefacts.find(env.vault_dir) if kind == "conflict"]
    reading = tmp_path / "reading"  # who else can read: in a copy, since reading is audited
    shutil.copytree(a.vault_dir, reading)
    with Vault(reading, a.practice.config_dir) as vault:
        for name, passphrase in others.items():
            path = reading / "practitioners" / f"{people[name].practitioner_id}.json"
            with pytest.raises(NoAccess):
                vault.keyring.client_keys(unlock_practitioner(path, Passphrase(passphrase)), client)
