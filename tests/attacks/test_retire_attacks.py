# ruff: noqa: F811  (`machines` is the fixture imported from helpers.group_purge)
"""Attacks on the retire's authority rules (issue 28, vault/store/retired.py): the thief of
a retired laptop, holding its device key, its copy of the vault and the passphrase, tries
to get its files believed again on the desk, by the retire record, by the laptop's log, or
by a line it signs with the laptop's key. Two machines merged as a sync engine merges them
(tests/test_group_purge.py `Sync`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from conftest import PASSPHRASE
from helpers.four_practitioners import PASSPHRASES, four_practitioners
from helpers.group_purge import (
    APA,
    machines,  # noqa: F401
)
from helpers.retention_vault import add
from helpers.stolen_laptop import FORGED, GENUINE
from helpers.stolen_laptop import file_as_syncd as _file
from helpers.stolen_laptop import stolen as _stolen
from helpers.stolen_laptop import texts as _texts

from retention import records
from retention.purge import run
from vault import Passphrase, Vault, verify
from vault.format.encoding import b64, canonical, new_id
from vault.rights import requests
from vault.sharing import supervision
from vault.store import facts_index, retired
from vault.store.practice import register_device


# -- the retire record itself ----------------------------------------------------------------
def test_a_retire_record_the_thief_deletes_still_retires_the_laptop(machines) -> None:
    """The retire reaches the stolen laptop; its thief deletes the record, and the sync engine
    carries the deletion to the desk. The desk's signed ledger entry still says the laptop
    was retired, and where its log ended: its later note is never shown, its earlier one
    still is, and verify names the missing record."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    sync()
    record = retired.path_for(laptop.root, laptop.device.device_id)
    record.unlink()
    _file(laptop, "AB-1", "2019-01-14", FORGED)
    sync()
    assert not retired.path_for(desk.root, laptop.device.device_id).exists()
    assert laptop.device.device_id in desk.trust.retired()
    texts = _texts(desk, client_id)
    assert not any(FORGED in t for t in texts)
    assert any(GENUINE in t for t in texts)  # the ledger entry names the end of the log too
    assert retired.path_for(desk.root, laptop.device.device_id) in [p.path for p in verify(desk)]


def test_a_retire_record_the_thief_rewrites_with_the_passphrase_still_retires_the_laptop(machines) -> None:
    """The thief knows the passphrase, so it can sign a retire record of its own: it puts
    one in place of the desk's that retires the laptop only in 2030, beyond any entry. The
    desk's ledger entry recorded other bytes: the laptop stays retired as the desk retired
    it, and its note is refused."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    sync()
    practitioner = laptop.unlock(Passphrase(PASSPHRASE))
    record = retired.path_for(laptop.root, laptop.device.device_id)
    record.write_bytes(retired.record(laptop.device.device_id, practitioner, "2030-01-01T00:00:00Z", 10**6))
    _file(laptop, "AB-1", "2019-01-14", FORGED)
    sync()
    assert desk.trust.retired().get(laptop.device.device_id, "").startswith("2019-02-01")
    texts = _texts(desk, client_id)
    assert not any(FORGED in t for t in texts) and any(GENUINE in t for t in texts)


# -- a line signed with the retired laptop's key, numbered inside the retire's end -----------
def _renumbered(vault: Vault, seq: int) -> bytes:
    """The last line of the device's own log, numbered ``seq`` and signed again with its
    device key (the thief holds it): a line that says it lies before the retire."""
    log = vault.audit.path
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))  # taken out of its own log: nothing beyond the retire
    entry = json.loads(lines[-1])
    del entry["sig"]
    entry["seq"] = seq
    entry["sig"] = b64(vault.device.sign(canonical(entry)))
    return canonical(entry) + b"\n"


def test_a_stolen_laptops_close_renumbered_into_the_retired_part_of_its_log_closes_nothing(machines) -> None:
    """The thief closes a client's access request from the laptop, then signs the line again
    as entry 1 of the laptop's log and puts it in a log file of its own making (read first,
    so the genuine entry 1 looks like the copy). Entry 1 lies before the retire, but this is
    not the line the retire's hash fixes: the request stays open."""
    desk, laptop, sync, clock, client_id = _stolen(machines)
    clock.set("2019-02-01T10:00:00")
    asked = requests.add(desk, client_id, "access", dt.date(2019, 2, 1))
    sync()
    clock.set("2019-01-20T09:00:00")
    requests.close(laptop, requests.find(laptop, asked.request_id), "sent", dt.date(2019, 1, 20))
    forged = _renumbered(laptop, 1)
    (laptop.audit.directory / "0000.log").write_bytes(forged)
    sync()
    assert requests.find(desk, asked.request_id).closed is None


def test_a_cosignature_recorded_by_a_renumbered_line_of_the_retired_laptop_does_not_count(
    tmp_path: Path,
) -> None:
    """As tests/test_retired_authority.py's stolen co-signature, but the thief also signs
    its ``cosign`` entry again as entry 2 of the laptop's log (before the retire, by its
    number) and puts it in a log file of its own making (the laptop's own log stays a
    whole chain): the co-signature still counts for nothing."""
    practice = four_practitioners(tmp_path)
    carol_pass = Passphrase(PASSPHRASES["carol"])
    vault, alex = practice.unlock("alex")
    supervision.supervise(vault, alex, practice.client, vault.trust.colleague("Carol"))
    later = new_id()
    vault.seal(practice.client, later, b"Risk: high. Safety plan agreed.", final=True)
    vault.close()
    with practice.vault("carol") as laptop:
        stolen = laptop.device.device_id
        assert laptop.audit.path.read_bytes().count(b"\n") >= 2
    desk = register_device(practice.root, tmp_path / "carol-desk-config", carol_pass)
    desk.trust.retire(desk.unlock(carol_pass), stolen)
    desk.close()
    thief = Vault(
        practice.root, practice.configs["carol"], clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    )
    supervision.cosign(thief, thief.unlock(carol_pass), later)
    (thief.audit.directory / "0000.log").write_bytes(_renumbered(thief, 2))
    thief.close()

    with practice.vault("alex") as vault:
        shown = supervision.cosignatures(vault, practice.client)
    assert later not in shown


def test_a_line_the_thief_numbers_as_a_request_the_laptop_recorded_does_not_hide_that_request(
    machines,
) -> None:
    """The laptop recorded a client's access request (its legal deadline runs) before it was
    lost, and the desk had the entry. The thief signs another line with that entry's number
    and puts it in a log file read first: a reader that keeps one line per number drops the
    genuine one, and the request vanishes from `request list` and `todo` on the desk."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2019-01-01"])
    sync()
    clock.set("2019-01-10T09:00:00")
    asked = requests.add(laptop, client_id, "access", dt.date(2019, 1, 10))
    recorded = json.loads(laptop.audit.path.read_bytes().splitlines()[-1])["seq"]
    sync()
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    clock.set("2019-01-15T09:00:00")  # the thief's clock
    requests.close(laptop, requests.find(laptop, asked.request_id), "sent", dt.date(2019, 1, 15))
    (laptop.audit.directory / "0000.log").write_bytes(_renumbered(laptop, recorded))
    sync()
    found = requests.find(desk, asked.request_id)
    assert found.closed is None and found.kind == "access"


# -- the retiring machine's clock ------------------------------------------------------------
def test_a_retire_from_a_desk_whose_clock_is_far_behind_keeps_what_the_laptop_wrote_before(machines) -> None:
    """The desk's clock runs a year behind (a dead CMOS battery) when it retires the lost
    laptop. Everything the desk had of the laptop's log is before the retire, whatever
    either clock says: the laptop's note, dated by its own right clock, is still the
    client's record, and verify refuses nothing of it."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2019-01-01"])
    sync()
    clock.set("2019-01-10T09:00:00")
    _file(laptop, "AB-1", "2019-01-10", GENUINE)
    sync()
    clock.set("2018-01-10T09:00:00")  # the desk's clock, when it retires the laptop
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    clock.set("2019-02-01T09:00:00")
    assert any(GENUINE in t for t in _texts(desk, client_id))
    assert [p for p in verify(desk) if p.path.suffix == ".rev"] == []


def test_a_release_the_laptop_made_before_a_retire_from_a_desk_whose_clock_is_behind_still_counts(
    machines,
) -> None:
    """The same desk, a year behind, retires the laptop after the laptop lifted the desk's
    hold (the subpoena was withdrawn) and the desk had that write: the hold stays lifted."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    records.place_hold(desk, client_id, "fictional subpoena")
    sync()
    clock.set("2019-01-10T09:00:00")
    assert records.release_holds(laptop, client_id)
    sync()
    clock.set("2018-01-10T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    clock.set("2019-02-01T09:00:00")
    assert records.current(desk, client_id).holds == {}
    assert records.refused_facts(desk) == []


# -- a file the laptop wrote before its retire, put back -------------------------------------
def test_the_laptops_facts_from_before_its_hold_put_back_after_its_retire_lift_no_hold(machines) -> None:
    """The laptop placed a hold (a subpoena). Lost and retired, its thief puts back the
    laptop's facts file as it was before the hold: bytes an entry before the retire records,
    so the retire vouches for them. The log records a later write: the file is reported,
    and no purge destroys the client. (The retention overview, read from the facts index,
    does not check files against the log and shows no hold: not the retire's doing.)"""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    records.note_notice(laptop, client_id, clock().date())  # a first facts file of the laptop's
    facts = records.path_for(laptop, client_id, laptop.device.device_id)
    earlier = facts.read_bytes()
    records.place_hold(laptop, client_id, "fictional subpoena")
    sync()
    clock.set("2030-01-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    sync()
    facts.write_bytes(earlier)
    sync()
    assert run(desk, APA, [], unattended=False).purged == [] and desk.client_dir(client_id).exists()
    assert [p.path.name for p in records.problems(desk)] == [facts.name]  # `verify` and the purge name it


def test_a_colleagues_ledger_entry_naming_alexs_machine_retires_it_without_any_record(tmp_path: Path) -> None:
    """A lost record is stood for by the entry that recorded it (above): Carol, a member of
    the practice, writes only such an entry from her own machine, naming a retire record
    of Alex's machine that never existed. Only a device of the practitioner who registered
    a machine retires it: Alex's machine stays a machine of the practice everywhere."""
    practice = four_practitioners(tmp_path)
    carol_vault, _ = practice.unlock("carol")
    alex = practice.vault("alex")
    target = alex.device.device_id
    relative = str(retired.path_for(practice.root, target).relative_to(practice.root))
    carol_vault.audit.append(
        retired.EVENT, device=target, files={relative: "0" * 64}, last_seq=0, last_hash="0" * 64
    )
    assert target not in alex.trust.retired() and target not in carol_vault.trust.retired()


# -- a line nobody signed, numbered as a signed one ------------------------------------------
def test_an_unsigned_purge_line_numbered_as_a_signed_one_purges_no_other_client(machines) -> None:
    """A device's genuine purge of one client is line k of its log. Whoever can write the
    synced folder (no key needed) adds a line numbered k for that device in a log file of
    its own, naming another client, and deletes that client's retention facts (the file
    holding its hold): a purge line is believed by its device and number, so the client
    would count as purged and its missing facts file go unreported, its hold unseen."""
    desk, laptop, sync, clock = machines
    gone, kept = add(desk, "AB-1", ["2010-01-01"]), add(desk, "CD-2", ["2010-01-01"])
    desk.audit.append("purge-begin", client=gone, keys=[])  # as disposal.py writes it
    [line] = desk.audit.path.read_bytes().splitlines()[-1:]
    forged = json.loads(line)
    forged["data"] = {"client": kept, "keys": []}
    (desk.audit.directory / "0000.log").write_bytes(canonical(forged) + b"\n")
    facts = records.path_for(desk, kept, desk.device.device_id)
    facts.unlink()
    assert facts in [p.path for p in records.problems(desk)]
    assert facts in [p.path for p in records.problems(desk, index=facts_index.load(desk))]  # nightly scan's
