"""One handle added on two machines while they were apart (Alex's and Bea's devices in a
group practice): two clients, two index entries under names of their own; readers merge
them; a command given the handle takes the client its practitioner can read, or asks
which; syncd never seals into the other practitioner's client. Made as a sync engine
would leave it: each machine adds the handle without seeing the other's entry."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from conftest import PASSPHRASE, Env
from helpers.people import BEA_PASS, People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice
from notes import note_text

from vault import Vault
from vault.format.encoding import new_id
from vault.store.clients import blind, index_record

DAY = dt.datetime.now(dt.UTC).date().isoformat()
CONFLICT = ".sync-conflict-20261120-101500-ABCDEF7"


def _add_apart(people: People) -> tuple[str, str]:
    """CD-2 added by Alex, and by Bea while Alex's entry had not reached her machine."""
    alex, bea = people.alex, people.bea
    added = alex.run("client", "add", "CD-2", "--name", "Fictional Person One")
    assert added.code == 0, added.err
    alex_cid = added.text.strip().split()[-1]
    index = alex.vault_dir / "index"
    aside = alex.vault_dir.parent / "aside"
    aside.mkdir()
    moved = [p for p in index.iterdir() if alex_cid in p.name]
    for path in moved:
        shutil.move(path, aside / path.name)
    added = bea.run("client", "add", "CD-2", "--name", "Fictional Person Two", passphrase=BEA_PASS)
    assert added.code == 0, added.err
    for path in moved:
        shutil.move(aside / path.name, path)
    return alex_cid, added.text.strip().split()[-1]


def _seal(env: Env, passphrase: str, handle: str, text: str) -> tuple[int, str, Path]:
    note_id = new_id()
    path = env.practice.inbox / f"{note_id}.md"
    path.write_text(note_text(client=handle, date=DAY, note_id=note_id, body=text))
    result = env.run("seal", str(path), passphrase=passphrase)
    return result.code, result.err, path


def _folder_of(env: Env, path: Path) -> str:
    note_id = path.stem
    return next(env.vault_dir.glob(f"clients/*/records/{note_id}")).parent.parent.name


def test_each_practitioner_seals_into_the_client_they_can_read(people: People) -> None:
    alex, bea = people.alex, people.bea
    alex_cid, bea_cid = _add_apart(people)
    assert alex_cid != bea_cid
    assert len(list((alex.vault_dir / "index").glob("*.json"))) == 3  # AB-1, and CD-2 twice

    code, err, draft = _seal(alex, PASSPHRASE, "CD-2", "Alex's session.")
    assert code == 0, err
    assert _folder_of(alex, draft) == alex_cid
    code, err, draft = _seal(bea, BEA_PASS, "CD-2", "Bea's session.")
    assert code == 0, err
    assert _folder_of(bea, draft) == bea_cid  # never into Alex's client
    assert "Fictional Person One" in alex.run("client", "show", "CD-2").text
    assert "Fictional Person Two" in bea.run("client", "show", "CD-2", passphrase=BEA_PASS).text
    for env, passphrase in ((alex, PASSPHRASE), (bea, BEA_PASS)):
        assert env.run("verify", passphrase=passphrase).code == 0
        assert env.run("audit", "verify", passphrase=passphrase).code == 0


def test_a_practitioner_who_reads_both_is_asked_and_syncd_guesses_nothing(people: People) -> None:
    alex, bea = people.alex, people.bea
    alex_cid, bea_cid = _add_apart(people)
    assert alex.run("access", "grant", "CD-2", "Bea").code == 0  # Alex's CD-2 for Alex: his own
    listed = bea.run("client", "list", passphrase=BEA_PASS).text
    assert alex_cid in listed and bea_cid in listed

    code, err, draft = _seal(bea, BEA_PASS, "CD-2", "Which one?")
    assert code == 1 and "names 2 clients" in err and alex_cid in err and bea_cid in err
    assert draft.exists()
    ran = bea.run("syncd", "--once", passphrase=BEA_PASS)
    assert draft.exists(), ran.err  # set aside in the inbox, sealed nowhere
    assert not list(bea.vault_dir.glob(f"clients/*/records/{draft.stem}"))
    assert "names 2 clients" in bea.run("status", passphrase=BEA_PASS).text

    shown = bea.run("client", "show", f"CD-2@{bea_cid[:6]}", passphrase=BEA_PASS)
    assert shown.code == 0 and "Fictional Person Two" in shown.text
    shown = bea.run("client", "show", f"CD-2@{alex_cid[:6]}", passphrase=BEA_PASS)
    assert shown.code == 0 and "Fictional Person One" in shown.text
    assert bea.run("client", "show", "CD-2", passphrase=BEA_PASS).code == 1


def test_a_format_1_entry_forked_by_a_sync_engine_is_read_and_filed_under_its_own_name(
    people: People,
) -> None:
    """Before entries were named for their client, both machines wrote index/<blinded>.json:
    the engine kept one and made a conflict copy of the other."""
    alex, bea = people.alex, people.bea
    alex_cid, bea_cid = _add_apart(people)
    index = alex.vault_dir / "index"
    vault = Vault(alex.vault_dir, alex.practice.config_dir)
    beas = Vault(bea.vault_dir, bea.practice.config_dir).device  # each entry signed by its own machine
    blinded = blind("CD-2", vault.device.index_key)
    for cid, name, device in (
        (alex_cid, f"{blinded}.json", vault.device),
        (bea_cid, f"{blinded}{CONFLICT}.json", beas),
    ):
        (index / f"{blinded}-{cid}.json").unlink()
        (index / name).write_bytes(index_record(blinded, cid, device))
    assert "Fictional Person Two" in bea.run("client", "show", "CD-2", passphrase=BEA_PASS).text
    assert "Fictional Person One" in alex.run("client", "show", "CD-2").text

    checked = alex.run("verify")
    assert checked.code == 1 and "same handle was added on two machines" in checked.err
    assert alex.run("syncd", "--once").code == 0
    assert not list(index.glob(f"*{CONFLICT}*"))
    assert (index / f"{blinded}-{bea_cid}.json").exists()
    assert "Fictional Person Two" in bea.run("client", "show", "CD-2", passphrase=BEA_PASS).text
    del vault
