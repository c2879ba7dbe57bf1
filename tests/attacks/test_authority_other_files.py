# ruff: noqa: F811  (`practice` is the fixture imported from helpers/four_practitioners.py)
"""Authority on read beyond revisions (issue 28; DESIGN.md invariant 8): a hold's placement
and release, a supervision, a co-signature and a handle-index entry are believed only if
the practitioner whose device (or key) wrote them was entitled to the client at the time
they claim. Carol's machine is still registered (its signatures check), but Alex revoked
her from client AB-1. Her machine writes into its copy of the practice's folder; a sync
engine carries her files to Alex's machine (`sync`, file by file); there, what she had no
authority to write is never acted on, never shown, and `verify` names the file, her device
and her practitioner id."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import Env, Result
from helpers.four_practitioners import (
    LATER,
    PASSPHRASES,
    Practice,
    _machine,
    _revoke,
    practice,  # noqa: F401 (the fixture: shadows conftest's)
    sync,
)

from casenotes.config import Practice as PracticeFolders
from retention import records
from vault import Passphrase, Problem, durable, verify
from vault.format.constants import JSON_FORMAT_VERSION
from vault.format.encoding import new_id, stamp
from vault.format.keys import sign_record, signer
from vault.sharing import supervision
from vault.store import ledger
from vault.store.clients import blind, index_name, index_record

SUBPOENA = "subpoena: keep every record of this client"


def _carols_copy(practice: Practice) -> dict[str, bytes]:
    """Alex's and Bea's machines take their copies; the practice's first folder stays Carol's
    machine's (``practice.vault("carol")`` writes there). Returns the state all three share."""
    return practice.apart()


def _carried_to_alex(practice: Practice, base: dict[str, bytes]) -> None:
    """The sync engine meets Carol's machine and Alex's: each gets the other's new files."""
    sync(base, practice.root, practice.machines["alex"])


def _named(problems: list[Problem], path: Path, practice: Practice, times: int = 1) -> str:
    """The problems about ``path`` (``times`` of them), each naming Carol's device and
    practitioner id; their words, joined."""
    found = [p.why for p in problems if p.path.name == path.name]
    listed = [f"{p.path.name}: {p.why}" for p in problems]
    assert len(found) == times, f"{path.name} is not named {times} time(s): {listed}"
    with practice.vault("carol") as carol:
        device = carol.device.device_id
    for why in found:
        assert device in why and practice.ids["carol"] in why and "not entitled" in why
    return "\n".join(found)


def _casenotes_verify_on_alex(practice: Practice, base_env: dict[str, str], tmp_path: Path) -> Result:
    """`casenotes verify` on Alex's machine, laid out as a practice folder of its own."""
    folders = PracticeFolders(tmp_path / "alex-practice", practice.configs["alex"])
    shutil.copytree(practice.machines["alex"], folders.vault_dir)
    folders.create_layout()
    env = Env(
        folders,
        {**base_env, "CASENOTES_HOME": str(folders.root), "CASENOTES_CONFIG_DIR": str(folders.config_dir)},
    )
    return env.run("verify", passphrase=None)


def _verify_on_alex(practice: Practice) -> list[Problem]:
    """What `casenotes verify` reports on Alex's machine (the checks it runs)."""
    with practice.vault("alex", "alex") as vault:
        return verify(vault) + records.refused_facts(vault) + supervision.problems(vault)


# -- holds ---------------------------------------------------------------------------------


def test_a_revoked_colleague_cannot_release_a_legal_hold_from_her_still_registered_machine(
    practice: Practice, base_env: dict[str, str], tmp_path: Path
) -> None:
    with practice.vault("alex") as alex:
        subpoena = records.place_hold(alex, practice.client, SUBPOENA)
    with practice.vault("carol") as carol:  # while she holds the client: her hold stands
        hers = records.place_hold(carol, practice.client, "records requested by an insurer")
    _revoke(practice, "alex", "carol")
    base = _carols_copy(practice)
    with _machine(practice, "carol") as carol:  # the destruction of records under a hold begins here
        assert set(records.release_holds(carol, practice.client)) == {subpoena, hers}
    _carried_to_alex(practice, base)

    with practice.vault("alex", "alex") as alex:
        assert set(records.current(alex, practice.client).holds) == {subpoena, hers}  # both in force
        facts = records.path_for(alex, practice.client, carol.device.device_id)
    named = _named(_verify_on_alex(practice), facts, practice, times=2)  # each release
    assert named.count("release of hold") == 2 and "revoked" in named
    checked = _casenotes_verify_on_alex(practice, base_env, tmp_path)  # as the practitioner sees it
    lines = [line for line in checked.err.splitlines() if facts.name in line]
    assert checked.code == 1 and len(lines) == 2, checked.err
    assert all(carol.device.device_id in line and practice.ids["carol"] in line for line in lines)

    with practice.vault("bea", "bea") as bea:  # a colleague who holds the client still can
        records.release_holds(bea, practice.client)
    sync(base, practice.machines["bea"], practice.machines["alex"])
    with practice.vault("alex", "alex") as alex:
        assert records.current(alex, practice.client).holds == {}


def test_a_release_backdated_before_the_hold_it_releases_does_not_lift_it(practice: Practice) -> None:
    """Carol's clock, set back to before her revoke, makes her release look written while
    she held the client; but the hold was placed after the revoke, so a release dated
    before its placement cannot be a real one: the hold stays in force, and verify says why."""
    _revoke(practice, "alex", "carol")
    with practice.vault("alex") as alex:
        subpoena = records.place_hold(alex, practice.client, SUBPOENA)
    base = _carols_copy(practice)
    with _machine(practice, "carol", -dt.timedelta(days=1)) as carol:
        assert records.release_holds(carol, practice.client) == [subpoena]
    _carried_to_alex(practice, base)
    with practice.vault("alex", "alex") as alex:
        assert set(records.current(alex, practice.client).holds) == {subpoena}
        facts = records.path_for(alex, practice.client, carol.device.device_id)
    named = [p.why for p in _verify_on_alex(practice) if p.path.name == facts.name]
    assert len(named) == 1 and f"release of hold {subpoena}" in named[0] and "before" in named[0], named


def test_a_hold_placed_by_a_revoked_colleague_does_not_keep_the_client(practice: Practice) -> None:
    """A revoked colleague cannot keep a client from its disposal (its right to erasure)
    either: her hold counts for nothing, and verify says so, so that a real one is placed
    by someone who holds the client."""
    _revoke(practice, "alex", "carol")
    base = _carols_copy(practice)
    with _machine(practice, "carol") as carol:
        records.place_hold(carol, practice.client, "no reason")
    _carried_to_alex(practice, base)
    with practice.vault("alex", "alex") as alex:
        assert records.current(alex, practice.client).holds == {}
        facts = records.path_for(alex, practice.client, carol.device.device_id)
    assert "placement of hold" in _named(_verify_on_alex(practice), facts, practice)


def test_a_revoked_colleague_cannot_bring_a_disposal_forward(practice: Practice) -> None:
    """Her machine says the client closed 26 years ago and that the practitioner was told
    the client is due: believed, a purge would count its retention and its notice period
    from them. Alex's machine counts neither."""
    _revoke(practice, "alex", "carol")
    base = _carols_copy(practice)
    with _machine(practice, "carol") as carol:
        records.set_closed(carol, practice.client, dt.date(2000, 1, 3))
        records.note_notice(carol, practice.client, carol.clock().date())
    _carried_to_alex(practice, base)
    with practice.vault("alex", "alex") as alex:
        facts = records.current(alex, practice.client)
        assert facts.closed is None and facts.notices == ()
        path = records.path_for(alex, practice.client, carol.device.device_id)
    named = _named(_verify_on_alex(practice), path, practice, times=2)
    assert "the closing date" in named and "the notice of disposal" in named

    with practice.vault("bea", "bea") as bea:  # a colleague who holds the client still can
        records.set_closed(bea, practice.client, dt.date(2026, 1, 5))
    sync(base, practice.machines["bea"], practice.machines["alex"])
    with practice.vault("alex", "alex") as alex:
        assert records.current(alex, practice.client).closed == dt.date(2026, 1, 5)


# -- supervision and co-signatures ----------------------------------------------------------


def _signed_note(practice: Practice, text: str, ahead: dt.timedelta = dt.timedelta(0)) -> str:
    """A note Alex signs, his clock ``ahead`` of now."""
    note = new_id()
    with _machine(practice, "alex", ahead) as vault:
        vault.seal(practice.client, note, text.encode(), final=True)
    return note


@pytest.mark.parametrize("clock", [LATER, -dt.timedelta(days=1)], ids=["honest", "set-back"])
def test_a_revoked_supervisor_cannot_cosign_a_note_sealed_after_her_revoke(
    practice: Practice, clock: dt.timedelta
) -> None:
    """Her clock set back to before her revoke changes nothing: a co-signature cannot be
    older than the note it co-signs, whose time Alex's machine signed."""
    vault, alex = practice.unlock("alex")
    supervision.supervise(vault, alex, practice.client, vault.trust.colleague("Carol"))
    vault.close()
    before = _signed_note(practice, "Signed before the revoke.")
    vault, practitioner = practice.unlock("carol")
    supervision.cosign(vault, practitioner, before)  # while she supervises: it stands
    vault.close()
    _revoke(practice, "alex", "carol")
    after = _signed_note(practice, "Risk: high. Signed after the revoke.", LATER)
    base = _carols_copy(practice)
    with _machine(practice, "carol", clock) as machine:  # it co-signs a note it cannot even read
        carol = machine.unlock(Passphrase(PASSPHRASES["carol"]))
        [(number, _, path)] = machine.revisions(practice.client, after)
        record = {
            "format": supervision.COSIGN_FORMAT,
            "version": JSON_FORMAT_VERSION,
            "client_id": practice.client,
            "note": after,
            "revision": number,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "supervisor": carol.practitioner_id,
            "cosigned_at": stamp(machine.clock()),
        }
        forged = machine.client_dir(practice.client) / "cosign" / f"{after}-{carol.practitioner_id}.json"
        durable.write_new(forged, sign_record(record, signer(carol.signing_key)))
        machine.audit.append("cosign", client=practice.client, note=after, revision=number)
    _carried_to_alex(practice, base)

    with practice.vault("alex", "alex") as vault:
        shown = supervision.cosignatures(vault, practice.client)
    assert after not in shown  # never shown as co-signed
    assert [who for who, _ in shown[before]] == [practice.ids["carol"]]
    assert "revoked" in _named(_verify_on_alex(practice), forged, practice)


def test_a_revoked_colleague_cannot_make_anyone_a_supervisor_of_the_client(practice: Practice) -> None:
    """Carol's machine writes a supervision naming Dan (who holds the client) her
    supervisor: were it believed, Dan could co-sign Alex's notes though no one who holds
    the client asked, and `todo` would list them."""
    _revoke(practice, "alex", "carol")
    note = _signed_note(practice, "Signed by Alex.")
    base = _carols_copy(practice)
    with _machine(practice, "carol") as machine:
        carol = machine.unlock(Passphrase(PASSPHRASES["carol"]))
        dan = machine.trust.colleague("Dan")
        record = {
            "format": supervision.SUPERVISION_FORMAT,
            "version": JSON_FORMAT_VERSION,
            "client_id": practice.client,
            "supervisor": dan.practitioner_id,
            "supervisee": carol.practitioner_id,
            "since": stamp(machine.clock()),
        }
        forged = machine.client_dir(practice.client) / "supervision" / f"{dan.practitioner_id}.json"
        durable.write_new(forged, sign_record(record, signer(carol.signing_key)))
        machine.audit.append("supervise", client=practice.client, supervisor=dan.practitioner_id)
    _carried_to_alex(practice, base)

    vault, dan_key = practice.unlock("dan", "alex")
    with pytest.raises(supervision.NotSupervisor):
        supervision.cosign(vault, dan_key, note)
    vault.close()
    assert _named(_verify_on_alex(practice), forged, practice)


# -- the handle index ------------------------------------------------------------------------


def test_a_revoked_colleague_cannot_point_another_clients_handle_at_the_client(practice: Practice) -> None:
    """Carol's machine writes an index entry saying handle CD-2 (Alex's other client) means
    AB-1: believed, Alex's `new CD-2` and syncd would find two clients of one handle (notes of
    CD-2 held back) or, where he reads only AB-1, steer them into it."""
    with practice.vault("alex") as alex:
        own = alex.add_client("CD-2")
    _revoke(practice, "alex", "carol")
    base = _carols_copy(practice)
    with _machine(practice, "carol") as carol:  # as casenotes writes an entry, and records it
        for handle in ("CD-2", "EF-5"):  # EF-5: a handle no client has yet, taken ahead
            blinded = blind(handle, carol.device.index_key)
            forged = carol.root / "index" / index_name(blinded, practice.client)
            durable.write_new(forged, index_record(blinded, practice.client, carol.device))
            files = ledger.files(carol.root, forged)
            carol.audit.append("index-upgrade", client=practice.client, files=files)
    _carried_to_alex(practice, base)

    with practice.vault("alex", "alex") as alex:
        assert alex.resolve("CD-2", own=True) == own
        assert alex.resolve("CD-2") == own
        assert alex.resolve("AB-1", own=True) == practice.client
        new_client = alex.add_client("EF-5")  # the handle was not Carol's to take
        assert alex.resolve("EF-5", own=True) == new_client
    forged = (
        practice.machines["alex"]
        / "index"
        / index_name(blind("CD-2", carol.device.index_key), practice.client)
    )
    assert "handle index entry" in _named(_verify_on_alex(practice), forged, practice)
