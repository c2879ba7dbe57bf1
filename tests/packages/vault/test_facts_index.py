"""The facts index (vault/store/facts_index.py) and the profile index: what the nightly scan,
`retention status`, `status`, `todo` and `client list` read instead of the whole audit log,
every facts file and every profile. The index must say what reading everything says,
after every change (here or synced from another machine), and a damaged, stale or
swapped index must never show something else."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time

from conftest import PASSPHRASE, Env
from helpers.group_purge import (
    machines,  # noqa: F401 (a fixture)
    three,  # noqa: F401 (a fixture)
)
from helpers.retention_vault import Clock, add, clock, vault  # noqa: F401 (fixtures)
from notes import note_text, write_note

from retention import PRESETS, records
from retention.policy import Facts, decide
from retention.purge import Outlook, glance, outlook, run, scan
from syncd.filing import file_note
from vault import Passphrase, Vault, verify
from vault.store import facts_index, reading, status_summary
from vault.store.clients import PROFILE_RECORD_ID
from vault.store.profile_index import RACY_SECONDS, ProfileIndex, index_file, stat_stamp

APA = PRESETS["apa"]


def _by_reading_everything(store: Vault, today: dt.date) -> dict[str, Facts | None]:
    """Each client's facts as the scan found them before the index: every facts file opened
    and its signature checked, every seal entry of the whole log read."""
    logged = records.logged_sessions(store)
    return {cid: records.current(store, cid, logged=logged) for cid in store.client_ids()}


def _scanned(store: Vault, today: dt.date) -> dict[str, Facts]:
    rows = scan(store, APA, today, announce=False)
    return {row.client_id: row.facts for row in rows if row.facts is not None}


def _agrees(store: Vault, today: dt.date) -> None:
    everything = _by_reading_everything(store, today)
    assert _scanned(store, today) == everything
    # Each client's merged facts the index keeps (the next scan's, unless a file or a session
    # date changes) are what reading everything says, and so is the scan made from them.
    kept = facts_index.load(store).merged
    assert {c: records.facts_from_json(entry[2]) for c, entry in kept.items()} == {
        c: everything[c] for c in kept
    }
    held = {c for c, facts in everything.items() if facts is not None and facts.holds}
    assert set(kept) <= set(everything) - held  # a hold asks the ledger: never kept merged
    assert _scanned(store, today) == everything
    assert facts_index.check(store)  # what `casenotes verify` asks: rebuilt, it says the same


def test_the_index_follows_every_change_made_here(vault: Vault, clock: Clock) -> None:  # noqa: F811
    desk = vault
    client_id = add(desk, "AB-1", ["2010-01-15"])
    other = add(desk, "CD-2", ["2012-05-01"], born="1990-02-02")
    today = dt.date(2019, 1, 1)
    _agrees(desk, today)
    _scanned(desk, today)  # (`verify`'s rebuild, in _agrees, starts the merged part anew)
    assert set(facts_index.load(desk).merged) == {client_id, other}  # no hold: each kept merged
    assert _scanned(desk, today)[client_id].last_session == dt.date(2010, 1, 15)

    # A draft sealed, then the same note signed (its second revision), then an addendum-like
    # later note: each seal's session date reaches the index from the log's new lines only.
    inbox = desk.root.parent / "inbox"
    draft = inbox / "later.md"
    draft.write_text(note_text(client="AB-1", date="2011-03-03", note_id="00000000000000aa"))
    file_note(desk, draft)
    draft.write_text(note_text(client="AB-1", date="2011-03-03", note_id="00000000000000aa", status="signed"))
    file_note(desk, draft)
    assert _scanned(desk, today)[client_id].last_session == dt.date(2011, 3, 3)
    _agrees(desk, today)

    records.place_hold(desk, client_id, "a records request from a court")
    assert list(_scanned(desk, today)[client_id].holds.values()) == ["a records request from a court"]
    _agrees(desk, today)
    records.release_holds(desk, client_id)
    records.set_closed(desk, other, dt.date(2012, 6, 1))
    assert not _scanned(desk, today)[client_id].holds
    assert _scanned(desk, today)[other].closed == dt.date(2012, 6, 1)
    _agrees(desk, today)

    clock.set("2030-01-01T09:00:00")
    assert client_id in run(desk, APA, [], unattended=False).purged
    assert client_id not in _scanned(desk, clock().date())
    _agrees(desk, clock().date())


def test_facts_synced_from_another_machine_are_in_the_next_scan(machines) -> None:  # noqa: F811
    desk, laptop, sync, _ = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    sync()
    today = dt.date(2019, 1, 1)
    assert not _scanned(desk, today)[client_id].holds  # the desk's index is made
    records.place_hold(laptop, client_id, "subpoena")
    inbox = laptop.root.parent / "laptop-inbox"
    inbox.mkdir()
    file_note(
        laptop, write_note(inbox, "n.md", client="AB-1", date="2014-04-04", note_id=None, status="signed")
    )
    sync()
    facts = _scanned(desk, today)[client_id]
    assert list(facts.holds.values()) == ["subpoena"] and facts.last_session == dt.date(2014, 4, 4)
    _agrees(desk, today)
    index = facts_index.load(desk)
    assert index.shared() == [client_id]  # two devices sealed into it: `status` looks there for forks


def test_a_damaged_or_swapped_index_is_rebuilt_never_believed(machines) -> None:  # noqa: F811
    desk, _, _, _ = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    today = dt.date(2019, 1, 1)
    _scanned(desk, today)
    path = facts_index.index_path(desk)
    before_hold = path.read_bytes()
    assert b"2010-01-15" not in before_hold and client_id.encode() not in before_hold  # sealed

    records.place_hold(desk, client_id, "subpoena")
    _scanned(desk, today)
    path.write_bytes(before_hold)  # an older copy put back: it is folded on from where it was
    assert list(_scanned(desk, today)[client_id].holds.values()) == ["subpoena"]

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit flipped: it does not open, it is rebuilt
    path.write_bytes(bytes(data))
    assert list(_scanned(desk, today)[client_id].holds.values()) == ["subpoena"]
    _agrees(desk, today)

    # An index that opens but says something else (as a bug would leave it): `verify` says
    # so and rebuilds it, and the next scan shows the vault's facts.
    index = facts_index.load(desk)
    index.sessions[client_id] = {"note": "2029-12-31"}
    index.changed = True
    facts_index.save(desk, index)
    assert [p.why for p in verify(desk) if p.path == path] and facts_index.check(desk)
    assert _scanned(desk, today)[client_id].last_session == dt.date(2010, 1, 15)

    # The log cut back behind what the index folded in: folded again from the start, so the
    # index says what the log says now (and `audit verify` reports the cut).
    log = desk.audit.path
    lines = log.read_bytes().splitlines(keepends=True)
    kept = next(i for i, line in enumerate(lines) if b'"retention-record"' in line and b'"hold"' in line)
    log.write_bytes(b"".join(lines[:kept]))
    assert _scanned(desk, today) == _by_reading_everything(desk, today)


def test_a_facts_file_put_back_is_read_again_and_reported(machines) -> None:  # noqa: F811
    desk, _, _, _ = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    today = dt.date(2019, 1, 1)
    facts = records.path_for(desk, client_id, desk.device.device_id)
    older = facts.read_bytes()
    records.place_hold(desk, client_id, "subpoena")
    assert _scanned(desk, today)[client_id].holds
    shutil.copyfile(facts, facts.with_suffix(".tmp"))
    facts.with_suffix(".tmp").write_bytes(older)
    os.replace(facts.with_suffix(".tmp"), facts)  # the hold hidden by an older copy
    assert not _scanned(desk, today)[client_id].holds  # what reading every file shows, too
    index = facts_index.load(desk)
    reported = records.problems(desk, [client_id], index=index)
    assert [str(p) for p in reported] == [str(p) for p in records.problems(desk, [client_id])]
    assert "older than their last audited write" in str(reported[0])


# -- what the commands read ---------------------------------------------------------------------
def _opened(strace: list[str], env: Env, *args: str) -> list[str]:
    """The files a `casenotes` command opened (strace's openat), the command's exit checked."""
    log = env.practice.root.parent / "strace.log"
    tracer = [strace[0], "-f", "-qq", "-e", "trace=open,openat", "-o", str(log)]
    environment = {**env.env, "CASENOTES_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        [*tracer, sys.executable, "-m", "casenotes", *args],
        env=environment,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode()
    return re.findall(r'open(?:at)?\(.*?"([^"]+)"', log.read_text())


def _seal_notes(env: Env, handles: list[str], per_client: int) -> None:
    for handle in handles:
        if handle != "AB-1":
            assert env.run("client", "add", handle).code == 0
        for number in range(per_client):
            note = write_note(
                env.practice.inbox,
                f"{handle}-{number}.md",
                client=handle,
                date=f"2026-0{number + 1}-10",  # not due: no notice written
                note_id=None,
                status="signed",
            )
            assert env.run("seal", str(note)).code == 0
            note.unlink()


def test_status_todo_and_retention_status_open_no_note_and_no_facts_file_twice(
    practice: Env, strace: list[str]
) -> None:
    _seal_notes(practice, ["AB-1", "CD-2", "EF-3"], 3)
    notes = re.compile(r"/records/(?!0{16}/)[0-9a-f]{16}/\d{6}-[0-9a-f]{16}\.rev$")
    facts = re.compile(r"/retention/[0-9a-f]{16}\.json$")
    for command in (["status"], ["retention", "status"], ["retention", "status", "--no-names"], ["todo"]):
        first = _opened(strace, practice, *command)
        assert not [p for p in first if notes.search(p)], command  # never a note's revision
        again = _opened(strace, practice, *command)
        assert not [p for p in again if notes.search(p)], command
        assert not [p for p in again if facts.search(p)], command  # unchanged: not opened again
    # A note sealed since: still no note read, and only that client's change is folded in.
    _seal_notes(practice, ["AB-1"], 1)
    assert not [p for p in _opened(strace, practice, "status") if notes.search(p)]


def test_client_list_decrypts_each_profile_once_and_follows_new_clients(
    practice: Env, strace: list[str]
) -> None:
    _seal_notes(practice, ["AB-1", "CD-2"], 0)
    profiles = re.compile(r"/records/0{16}/\d{6}-[0-9a-f]{16}\.rev$")
    first = _opened(strace, practice, "client", "list")
    assert len([p for p in first if profiles.search(p)]) >= 2
    again = _opened(strace, practice, "client", "list")
    assert not [p for p in again if profiles.search(p)]  # each from the practitioner's index
    assert practice.run("client", "add", "GH-4", "--name", "Fictional Newcomer").code == 0
    listed = practice.run("client", "list").text
    assert [line.split()[0] for line in listed.splitlines()] == ["AB-1", "CD-2", "GH-4"]
    assert "Fictional Newcomer" in listed
    index = next((practice.practice.config_dir).rglob("profiles.*.sealed"))
    assert b"Newcomer" not in index.read_bytes() and b"GH-4" not in index.read_bytes()
    index.write_bytes(b"not an index")  # damaged: rebuilt from the profiles, never believed
    assert practice.run("client", "list").text == listed


def test_a_retired_devices_later_release_counts_for_nothing_in_the_index_either(three) -> None:  # noqa: F811
    desk, laptop, old, _, moment = three
    client_id = add(desk, "AB-1", ["2010-01-01"])
    records.place_hold(desk, client_id, "fictional subpoena")
    today = dt.date(2030, 1, 1)
    assert _scanned(desk, today)[client_id].holds  # the index is made before the retire
    moment.set("2030-01-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), old.device.device_id)
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    moment.set("2030-01-01T10:00:00")
    assert records.release_holds(old, client_id)  # written into the desk's folder
    assert list(_scanned(desk, today)[client_id].holds.values()) == ["fictional subpoena"]
    index = facts_index.load(desk)
    reported = records.problems(desk, [client_id], index=index)
    assert [str(p) for p in reported] == [str(p) for p in records.problems(desk, [client_id])]
    assert "after it was retired" in str(reported[0])


# -- the profile index's folder stamps ------------------------------------------------------------
def _age(store: Vault, client_id: str, seconds: float) -> None:
    """The client's access and profile folders as if last changed ``seconds`` ago: past the
    racy window, their stat stamps are what the index compares."""
    folder = store.client_dir(client_id)
    when = time.time() - seconds
    for path in (folder / "access", folder / "records" / PROFILE_RECORD_ID):
        os.utime(path, (when, when))


def _listed(store: Vault, practitioner, index: bool = True) -> dict[str, str]:
    where = store.device_dir / "index" if index else None
    return {p.client_id: p.handle for p in reading.profiles(store, practitioner, where)}


def test_the_profile_index_follows_access_files_by_the_folders_stat(vault: Vault) -> None:  # noqa: F811
    me = vault.unlock(Passphrase(PASSPHRASE))
    ab, cd = add(vault, "AB-1", []), add(vault, "CD-2", [])
    for client_id in (ab, cd):
        _age(vault, client_id, 3600)
    assert _listed(vault, me) == _listed(vault, me, index=False) == {ab: "AB-1", cd: "CD-2"}
    kept = ProfileIndex(index_file(vault.device_dir / "index", me), me).entries
    assert kept[ab][0] and kept[cd][0]  # old enough: stamped by their stat, not listed next time

    # CD-2's access file taken away (a revoke synced in): it is no longer listed, just changed
    # (the listing decides) and once settled (the new stat decides).
    access = vault.client_dir(cd) / "access"
    (sealed,) = access.glob("*.sealed")
    aside = vault.root.parent / sealed.name
    os.replace(sealed, aside)
    assert _listed(vault, me) == _listed(vault, me, index=False) == {ab: "AB-1"}
    _age(vault, cd, 1800)
    assert _listed(vault, me) == {ab: "AB-1"}

    # Put back with the folder's mtime set to what the index stamped: its ctime still moved,
    # so the stamp differs and the client is read again (a stamp is never fooled by a touch).
    stamped = os.stat(access)
    os.replace(aside, sealed)
    os.utime(access, ns=(stamped.st_atime_ns, stamped.st_mtime_ns))
    assert _listed(vault, me) == _listed(vault, me, index=False) == {ab: "AB-1", cd: "CD-2"}


def test_a_folder_changed_within_the_racy_window_gets_no_stat_stamp(vault: Vault) -> None:  # noqa: F811
    client_id = add(vault, "AB-1", [])
    folder = str(vault.client_dir(client_id) / "access")
    assert stat_stamp(folder) == ""  # just written: a change in the same tick could hide
    _age(vault, client_id, 3600)
    assert stat_stamp(folder) != "" and stat_stamp(folder) == stat_stamp(folder)
    when = time.time() - RACY_SECONDS / 4
    os.utime(folder, (when, when))
    assert stat_stamp(folder) == ""


def test_an_entry_longer_than_64_kb_is_folded_once_not_every_time(vault: Vault) -> None:  # noqa: F811
    """A career's `retention status` logs every client id whose name it read (95 KB at 5,000
    clients): the next reader still finds where its index left off, and folds only what
    came after, instead of every entry of the log again (seconds at 50,000 notes)."""
    client_id = add(vault, "AB-1", ["2010-01-15"])
    today = dt.date(2019, 1, 1)
    _scanned(vault, today)
    vault.audit.append("decrypt-profiles", clients=6000, client_ids=[f"{n:016x}" for n in range(6000)])
    assert _scanned(vault, today)[client_id].last_session == dt.date(2010, 1, 15)
    index = facts_index.load(vault)
    assert not index.changed  # nothing new: continued where it was, not folded again from the start
    _agrees(vault, today)


def test_lines_that_change_no_fact_do_not_rewrite_the_index_until_they_add_up(vault: Vault) -> None:  # noqa: F811
    """A `status` after a `client list` does not rewrite the whole index for a line that says
    nothing about retention: the next reader folds it again instead, until such lines pass
    UNSAVED_BYTES. A line that does change a fact is saved at once."""
    client_id = add(vault, "AB-1", ["2010-01-15"])
    today = dt.date(2019, 1, 1)
    _scanned(vault, today)
    path = facts_index.index_path(vault)
    saved = path.read_bytes()
    vault.audit.append("decrypt-profiles", clients=6000, client_ids=[f"{n:016x}" for n in range(6000)])
    assert _scanned(vault, today)[client_id].last_session == dt.date(2010, 1, 15)
    assert path.read_bytes() == saved  # not rewritten for it
    for _ in range(facts_index.UNSAVED_BYTES // 100_000 + 1):
        vault.audit.append("decrypt-profiles", clients=6000, client_ids=[f"{n:016x}" for n in range(6000)])
    _scanned(vault, today)
    assert path.read_bytes() != saved  # past UNSAVED_BYTES: saved, so no reader folds them all again
    saved = path.read_bytes()
    records.place_hold(vault, client_id, "a records request from a court")
    assert _scanned(vault, today)[client_id].holds
    assert path.read_bytes() != saved
    _agrees(vault, today)


def test_a_practice_reached_by_another_path_keeps_one_entry_a_file(vault: Vault, tmp_path) -> None:  # noqa: F811
    """The index names each facts file by its whole path: reached through a symlink (or the
    practice moved), the entries of the old path are dropped, not kept beside the new ones
    for every later reader to load and save."""
    client_id = add(vault, "AB-1", ["2010-01-15"])
    today = dt.date(2019, 1, 1)
    _scanned(vault, today)
    link = tmp_path / "elsewhere"
    link.symlink_to(vault.root.parent, target_is_directory=True)
    there = Vault(link / vault.root.name, vault.device_dir.parent, vault.clock)
    assert _scanned(there, today)[client_id].last_session == dt.date(2010, 1, 15)
    index = facts_index.load(there)
    assert index.files and all(path.startswith(str(link)) for path in index.files)
    assert index.folders and all(path.startswith(str(link)) for path in index.folders)


# -- the status summary (vault/store/status_summary.py): `status` at a glance ----------------
def _glance_agrees(store: Vault, today: dt.date) -> Outlook:
    """What `status` shows (the summary, or a scan when its stamp moved) is what a full
    scan says, and the summary it leaves is believed by the next status, which then loads
    no facts index at all."""
    full = outlook(store, APA, today, facts_index.rebuilt(store))  # may announce: first
    seen = glance(store, APA, today)
    assert seen.seen == full == outlook(store, APA, today, facts_index.rebuilt(store))
    glance(store, APA, today)  # nothing moved since: this one's stamp is kept
    loaded = facts_index.load
    facts_index.load = _no_index  # type: ignore[assignment]
    try:
        assert glance(store, APA, today).seen == full  # from the summary alone
    finally:
        facts_index.load = loaded  # type: ignore[assignment]
    return full


def _no_index(store: Vault) -> facts_index.FactsIndex:
    raise AssertionError("the summary's stamp did not move: no index should be read")


def test_status_at_a_glance_says_what_a_full_scan_says_after_every_change(
    vault: Vault,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    desk = vault
    client_id = add(desk, "AB-1", ["2016-01-15"])
    other = add(desk, "CD-2", ["2017-05-01"], born="1990-02-02")
    today = dt.date(2019, 1, 1)
    assert _glance_agrees(desk, today).due == 0  # nothing due yet

    inbox = desk.root.parent / "inbox"
    draft = inbox / "later.md"
    draft.write_text(note_text(client="AB-1", date="2017-03-03", note_id="00000000000000aa"))
    file_note(desk, draft)  # a seal
    _glance_agrees(desk, today)
    draft.write_text(note_text(client="AB-1", date="2017-03-03", note_id="00000000000000aa", status="signed"))
    file_note(desk, draft)  # the same note signed
    _glance_agrees(desk, today)

    records.place_hold(desk, client_id, "a records request from a court")
    assert _glance_agrees(desk, today).held == ((client_id, 1),)
    records.release_holds(desk, client_id)
    assert _glance_agrees(desk, today).held == ()
    records.set_closed(desk, other, dt.date(2017, 6, 1))
    _glance_agrees(desk, today)

    # A new day that crosses the due date: the same files, another answer.
    due = min(decide(f, APA, today).retain_until for f in _scanned(desk, today).values())
    clock.set(f"{due.isoformat()}T09:00:00")
    before = _glance_agrees(desk, due)
    crossed = due + dt.timedelta(days=1)
    clock.set(f"{crossed.isoformat()}T09:00:00")
    after = _glance_agrees(desk, crossed)
    assert (before.due, before.in_notice) != (after.due, after.in_notice)

    clock.set("2040-01-01T09:00:00")
    assert client_id in run(desk, APA, [], unattended=False).purged  # a purge
    assert client_id not in _glance_agrees(desk, clock().date()).due_ids


def test_status_at_a_glance_follows_files_synced_from_another_machine(machines) -> None:  # noqa: F811
    desk, laptop, sync, _ = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    sync()
    today = dt.date(2019, 1, 1)
    _glance_agrees(desk, today)
    records.place_hold(laptop, client_id, "subpoena")
    sync()  # the laptop's facts file and log, copied in place with their times (copy2)
    assert _glance_agrees(desk, today).held == ((client_id, 1),)
    inbox = laptop.root.parent / "laptop-inbox"
    inbox.mkdir()
    file_note(
        laptop, write_note(inbox, "n.md", client="AB-1", date="2014-04-04", note_id=None, status="signed")
    )
    sync()
    _glance_agrees(desk, today)
    assert glance(desk, APA, today).shared == [client_id]  # two devices sealed: forks are looked for


def test_a_summary_put_back_flipped_or_from_another_machine_is_not_believed(machines) -> None:  # noqa: F811
    desk, laptop, sync, _ = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    sync()
    today = dt.date(2019, 1, 1)
    _glance_agrees(desk, today)
    path = status_summary.summary_path(desk)
    unheld = path.read_bytes()
    assert client_id.encode() not in unheld  # sealed

    records.place_hold(desk, client_id, "subpoena")
    _glance_agrees(desk, today)
    path.write_bytes(unheld)  # the summary from before the hold put back: its stamp is old
    assert glance(desk, APA, today).seen.held == ((client_id, 1),)

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit flipped: it does not open
    path.write_bytes(bytes(data))
    assert status_summary.load(desk) is None
    assert glance(desk, APA, today).seen.held == ((client_id, 1),)

    # The laptop's summary, made before the hold reached it, put in the desk's place: it
    # opens (one practitioner's index key) but its stamp is of another device's files.
    _glance_agrees(laptop, today)
    assert glance(laptop, APA, today).seen.held == ()
    path.write_bytes(status_summary.summary_path(laptop).read_bytes())
    assert status_summary.load(desk) is not None
    assert glance(desk, APA, today).seen.held == ((client_id, 1),)

    # A facts file written over in place, its times put back (no rename: its folder's stat
    # is as it was): the file's ctime moved, the stamp with it, and the damage is shown.
    _glance_agrees(desk, today)
    facts = next((desk.client_dir(client_id) / "retention").glob(f"{desk.device.device_id}.json"))
    st = facts.stat()
    damaged = bytearray(facts.read_bytes())
    at = damaged.index(b'"box":"') + 12  # one character of the sealed facts, the size kept
    damaged[at] = ord("A") if damaged[at] != ord("A") else ord("B")
    with open(facts, "r+b") as handle:
        handle.write(bytes(damaged))
    os.utime(facts, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert glance(desk, APA, today).seen.damaged == 1
    assert _glance_agrees(desk, today).damaged == 1


def test_a_log_that_gained_only_reads_keeps_the_summary_and_any_other_line_remakes_it(
    vault: Vault,  # noqa: F811
) -> None:
    client_id = add(vault, "AB-1", ["2016-01-15"])
    today = dt.date(2019, 1, 1)
    _glance_agrees(vault, today)
    vault.audit.append("unlock")  # what `status` given the passphrase, a backup, `client list` add
    vault.audit.append("backup", target="somewhere")
    loaded, facts_index.load = facts_index.load, _no_index  # type: ignore[assignment]
    try:
        assert glance(vault, APA, today).seen.held == ()  # followed past them, no index read
        vault.audit.append("supervise", client=client_id)  # a line that is no reading
        try:
            glance(vault, APA, today)
        except AssertionError as exc:
            assert "no index should be read" in str(exc)
        else:
            raise AssertionError("a supervise line did not make the summary again")
    finally:
        facts_index.load = loaded  # type: ignore[assignment]
    assert glance(vault, APA, today).supervised == [client_id]
    _glance_agrees(vault, today)
