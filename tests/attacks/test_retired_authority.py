# ruff: noqa: F811  (`machines` is the fixture imported from helpers.group_purge)
"""A retired device is judged by its audit log, not by its clock (issue 28): the laptop is
stolen, the desk retires it (the retire names the last entry of the laptop's log the desk
had, and that line's hash). The thief, with the laptop's device key and its copy of the
vault, sets its clock back to before the retire and writes as the practitioner would: a
note, an addendum, a release of a hold. Two machines, merged as a sync engine merges them
(tests/test_group_purge.py `Sync`). Whatever date those files claim, they lie beyond the
retire in the laptop's log (or in no entry at all): the desk never shows them as the
client's record, never acts on them, and `verify` names each with device and practitioner.
What the laptop wrote before it was lost, and the desk had seen, stands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import PASSPHRASE
from helpers.four_practitioners import PASSPHRASES, four_practitioners
from helpers.group_purge import APA, Sync, machines  # noqa: F401
from helpers.retention_vault import add
from helpers.stolen_laptop import FORGED, GENUINE, file_as_syncd, stolen, texts

from checkup import keys
from retention import group, records
from retention.purge import run
from vault import Passphrase, Vault, verify
from vault.format.encoding import new_id
from vault.rights import requests
from vault.sharing import supervision
from vault.store import ledger, retired
from vault.store.audit import GENESIS, line_hash
from vault.store.practice import register_device

_file, _stolen, _texts = file_as_syncd, stolen, texts


def _revisions_of(vault: Vault, device: Vault, client_id: str) -> list[Path]:
    folder = vault.client_dir(client_id) / "records"
    return sorted(folder.glob(f"*/*-{device.device.device_id}.rev"))


def test_a_stolen_laptops_note_dated_before_its_retire_is_refused_and_its_earlier_note_stands(
    machines,
) -> None:
    desk, laptop, sync, clock, client_id = _stolen(machines)
    _file(laptop, "AB-1", "2019-01-14", FORGED)  # sealed, signed, audited: all dated 2019-01-15
    sync()
    clock.set("2019-02-02T09:00:00")

    texts = _texts(desk, client_id)
    assert any(GENUINE in t for t in texts)  # sealed before the loss: the desk had its entry
    assert not any(FORGED in t for t in texts)
    [forged] = [p for p in _revisions_of(desk, laptop, client_id) if FORGED in _body_of(desk, client_id, p)]
    refused = {p.path: p.why for p in verify(desk)}
    assert set(refused) == {forged}, refused
    why = refused[forged]
    assert laptop.device.device_id in why and desk.device.practitioner_id in why and "retired" in why


def _body_of(vault: Vault, client_id: str, path: Path) -> str:
    """A revision's text, opened directly (the test's own check of which file is which)."""
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    keys = vault.keyring.client_keys(practitioner, client_id)
    return bytes(vault.revision_files.open(path, keys)[1]).decode()


def test_a_stolen_laptops_addendum_to_a_signed_note_dated_before_its_retire_is_not_shown(machines) -> None:
    """An addendum supersedes what it corrects (invariant 9): one from the stolen laptop
    would rewrite the desk's signed note's risk. It is refused like any revision."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    [note_id] = [n for n in desk.revision_files.note_ids(client_id) if _sealed_by(desk, client_id, n, desk)]
    addendum = _file(laptop, "AB-1", "2019-01-14", FORGED, extra=f"template: addendum\namends: {note_id}\n")
    sync()
    texts = _texts(desk, client_id)
    assert not any(FORGED in t for t in texts) and any(GENUINE in t for t in texts)
    assert [p.path.parent.name for p in verify(desk)] == [addendum]


def _sealed_by(vault: Vault, client_id: str, note_id: str, device: Vault) -> bool:
    return any(d == device.device.device_id for _, d, _ in vault.revisions(client_id, note_id))


def test_a_log_the_thief_rewrote_to_record_its_note_before_the_retire_vouches_for_nothing(machines) -> None:
    """The thief holds the laptop's device key: it cuts the log back and signs the seal of
    its note as the entry the retire names. The retire also names that entry's hash, so the
    rewritten log vouches for nothing of the laptop: the forged note is refused, and so,
    the safe way round, is what the laptop sealed before (restore its log from a backup)."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    log = laptop.root / "audit" / f"{laptop.device.device_id}.log"
    lines = log.read_bytes().splitlines(keepends=True)
    record = json.loads(
        (desk.root / "devices" / f"{laptop.device.device_id}.retired").read_text(encoding="utf-8")
    )
    last = int(record["last_seq"])
    assert line_hash(lines[last - 1].rstrip(b"\n")) == record["last_hash"]
    log.write_bytes(b"".join(lines[: last - 1]))  # the entry the retire names, cut off ...
    _file(laptop, "AB-1", "2019-01-14", FORGED)  # ... and its seal signed in its place
    rewritten = log.read_bytes().splitlines()
    seal = json.loads(rewritten[last - 1])
    assert seal["seq"] == last and seal["event"] == "seal"
    assert json.loads(rewritten[0])["prev"] == GENESIS  # a whole, signed chain: it verifies
    assert laptop.audit.verify(laptop.trust.device_keys()) == []
    sync()
    texts = _texts(desk, client_id)
    assert not any(FORGED in t for t in texts) and not any(GENUINE in t for t in texts)
    refused = [p for p in verify(desk) if p.path.suffix == ".rev"]
    assert len(refused) == 2 and all(laptop.device.device_id in p.why for p in refused)


def test_a_stolen_laptops_release_dated_before_its_retire_lifts_no_hold_anywhere(machines) -> None:
    """The desk's hold (a subpoena) travels to the laptop before it is lost; the thief
    releases it with the clock set back. Neither the desk's retention status nor a purge
    takes the hold as lifted; verify names the laptop's facts."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    records.place_hold(laptop, client_id, "fictional subpoena")  # the laptop placed it
    sync()
    clock.set("2030-01-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    clock.set("2029-06-01T09:00:00")  # the thief's clock
    assert records.release_holds(laptop, client_id)
    sync()
    clock.set("2030-01-02T09:00:00")
    facts = records.current(desk, client_id)
    assert list(facts.holds.values()) == ["fictional subpoena"]  # in force here
    why = [p.why for p in records.refused_facts(desk)]
    assert any(laptop.device.device_id in w and "retired" in w for w in why), why
    report = run(desk, APA, [], unattended=False)
    assert report.purged == [] and desk.client_dir(client_id).exists()


# -- who may retire -------------------------------------------------------------------------
def _retire_by_hand(vault: Vault, target: str, last_seq: int | None = None, audited: bool = True) -> Path:
    """A retire written as a changed casenotes would write it, past `Trust.retire`'s checks:
    signed with the practitioner's key (the thief has the passphrase), and recorded in the
    writing device's own log (its device key) unless ``audited`` is False. ``last_seq``:
    the end of the target's log it claims to have seen (else the one it has)."""
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    path = retired.path_for(vault.root, target)
    seq, head = retired.log_head(vault.audit.directory, target)
    if last_seq is not None:
        lines = (vault.audit.directory / f"{target}.log").read_bytes().splitlines()
        seq, head = last_seq, line_hash(lines[last_seq - 1])
    path.write_bytes(retired.record(target, practitioner, "2019-01-20T09:00:00Z", seq, head))
    if audited:
        vault.audit.append(retired.EVENT, device=target, files=ledger.files(vault.root, path))
    return path


def test_a_passphrase_holder_on_the_retired_laptop_cannot_retire_the_desk(machines) -> None:
    """The desk retires the stolen laptop and the retire reaches it. Its thief knows the
    passphrase: `device retire` refuses on a retired machine, and a retire written past
    that check, by hand, carries no authority anywhere: the desk stays a machine of the
    practice, and verify names the record with the laptop that wrote it."""
    desk, laptop, sync, clock = machines
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    sync()
    target = desk.device.device_id
    with pytest.raises(retired.NotRetirable, match="this machine was itself retired"):
        laptop.trust.retire(laptop.unlock(Passphrase(PASSPHRASE)), target)

    path = _retire_by_hand(laptop, target, audited=False)  # the record alone: no device recorded it
    sync()
    assert target not in desk.trust.retired() and target not in laptop.trust.retired()
    path.unlink()
    sync()
    path = _retire_by_hand(laptop, target)  # recorded by the laptop, beyond its own retire
    sync()
    assert target not in desk.trust.retired() and target not in laptop.trust.retired()
    assert laptop.device.device_id in desk.trust.retired()
    assert desk.trust.retire_circles() == ()
    [why] = [p.why for p in verify(desk) if p.path == retired.path_for(desk.root, target)]
    assert laptop.device.device_id in why and desk.device.practitioner_id in why and "retires nothing" in why
    assert target in group.devices(laptop, list(laptop.audit.entries()))  # still waited for

    # It claims instead to have seen the desk's log only up to before the desk's retire:
    # the two retires cannot be told apart from two made while apart. Both stand, the
    # conflict is reported: the laptop gains nothing, and keeps no authority.
    path.unlink()
    sync()
    _retire_by_hand(laptop, target, last_seq=1)
    sync()
    assert set(desk.trust.retired()) == {target, laptop.device.device_id}
    assert [p.conflict for p in verify(desk) if target in p.why and laptop.device.device_id in p.why] == [
        True
    ]


def test_two_machines_that_retired_each_other_while_apart_both_stay_retired_and_verify_names_both(
    machines,
) -> None:
    """Apart, the desk retires the stolen laptop and the thief, with the passphrase, retires
    the desk from the laptop with casenotes itself. Neither had seen the other's retire:
    which machine was lost cannot be told. Both stay retired (neither one's later files
    carry authority: the laptop's note dated before its retire is refused), and verify
    reports the conflict naming both devices."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2019-01-01"])
    sync()
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    laptop.trust.retire(laptop.unlock(Passphrase(PASSPHRASE)), desk.device.device_id)
    clock.set("2019-01-15T09:00:00")
    _file(laptop, "AB-1", "2019-01-14", FORGED)
    sync()
    both = {desk.device.device_id, laptop.device.device_id}
    for machine in (desk, laptop):
        assert set(machine.trust.retired()) == both
        assert machine.trust.retire_circles() == (tuple(sorted(both)),)
    [conflict] = [p for p in verify(desk) if p.conflict]
    assert all(d in conflict.why for d in both) and "device register" in conflict.why
    doctor = keys.device_registered(desk)  # `casenotes doctor` on the desk says so too
    assert doctor.status == "fail" and laptop.device.device_id in doctor.detail, doctor
    assert not any(FORGED in t for t in _texts(desk, client_id))


# -- what the practitioner's own key signs from a retired machine ---------------------------
def test_a_cosignature_from_the_supervisors_retired_laptop_does_not_count(tmp_path: Path) -> None:
    """Carol supervises Alex's client from her laptop; it is stolen, and she retires it from
    her new desk machine. Its thief knows her passphrase and co-signs Alex's risk note with
    its clock set back: signed with her practitioner key, so only the audit log can tell
    which machine wrote it. It is never shown as co-signed, and verify names it; what she
    co-signed from the laptop before the retire still counts."""
    practice = four_practitioners(tmp_path)
    carol_pass = Passphrase(PASSPHRASES["carol"])
    vault, alex = practice.unlock("alex")
    supervision.supervise(vault, alex, practice.client, vault.trust.colleague("Carol"))
    earlier, later = new_id(), new_id()
    vault.seal(practice.client, earlier, b"Session one.", final=True)
    vault.seal(practice.client, later, b"Risk: high. Safety plan agreed.", final=True)
    vault.close()
    with practice.vault("carol") as laptop:
        supervision.cosign(laptop, laptop.unlock(carol_pass), earlier)  # before it was lost
        stolen = laptop.device.device_id
    desk = register_device(practice.root, tmp_path / "carol-desk-config", carol_pass)
    desk.trust.retire(desk.unlock(carol_pass), stolen)
    desk.close()
    thief = Vault(
        practice.root, practice.configs["carol"], clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    forged = supervision.cosign(thief, thief.unlock(carol_pass), later)
    thief.close()

    with practice.vault("alex") as vault:
        shown = supervision.cosignatures(vault, practice.client)
        problems = supervision.problems(vault)
    assert later not in shown and [who for who, _ in shown[earlier]] == [practice.ids["carol"]]
    [why] = [p.why for p in problems if p.path == forged]
    assert stolen in why and practice.ids["carol"] in why and "retired" in why


def test_a_stolen_laptops_close_of_a_request_dated_before_its_retire_closes_nothing(machines) -> None:
    """A client's access request, with its legal deadline: the thief closes it from the
    retired laptop with the clock set back, so that it would drop off `todo`. It stays open."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    clock.set("2019-02-01T10:00:00")
    asked = requests.add(desk, client_id, "access", dt.date(2019, 2, 1))
    sync()  # the request reaches the laptop (its retire too, which it ignores)
    clock.set("2019-01-20T09:00:00")
    requests.close(laptop, requests.find(laptop, asked.request_id), "sent", dt.date(2019, 1, 20))
    sync()
    assert requests.find(desk, asked.request_id).closed is None


def test_a_supervision_the_supervisees_retired_laptop_writes_makes_no_one_a_supervisor(
    tmp_path: Path,
) -> None:
    """Alex's laptop is stolen and he retires it from his new desk machine. Its thief knows
    his passphrase and, with the clock set back to before the retire, makes Carol supervisor
    of his client: the record is signed with Alex's practitioner key, so only the audit log
    can tell which machine wrote it. It stands nowhere (no co-signature of hers would count)
    and verify names it; a supervision Alex made from the laptop before the loss stands."""
    practice = four_practitioners(tmp_path)
    alex_pass = Passphrase(PASSPHRASES["alex"])
    with practice.vault("alex") as laptop:
        supervision.supervise(
            laptop, laptop.unlock(alex_pass), practice.client, laptop.trust.colleague("Bea")
        )
        stolen = laptop.device.device_id
    desk_config = tmp_path / "alex-desk-config"
    desk = register_device(practice.root, desk_config, alex_pass)
    desk.trust.retire(desk.unlock(alex_pass), stolen)
    desk.close()
    thief = Vault(
        practice.root, practice.configs["alex"], clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    supervision.supervise(thief, thief.unlock(alex_pass), practice.client, thief.trust.colleague("Carol"))
    forged = thief.client_dir(practice.client) / "supervision" / f"{practice.ids['carol']}.json"
    thief.close()
    assert forged.exists()

    with Vault(practice.root, desk_config) as desk:
        standing = [s["supervisor"] for s in supervision._supervisions(desk, practice.client)]
        problems = supervision.problems(desk)
    assert standing == [practice.ids["bea"]]  # Bea's, made before the loss, and not Carol's
    [why] = [p.why for p in problems if p.path == forged]
    assert stolen in why and practice.ids["alex"] in why and "retired" in why
