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

from conftest import PASSPHRASE, Env
from helpers.group_purge import (
    machines,  # noqa: F401 (a fixture)
    three,  # noqa: F401 (a fixture)
)
from helpers.retention_vault import Clock, add, clock, vault  # noqa: F401 (fixtures)
from notes import note_text, write_note

from retention import PRESETS, records
from retention.policy import Facts
from retention.purge import run, scan
from syncd.filing import file_note
from vault import Passphrase, Vault, verify
from vault.store import facts_index

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
    assert _scanned(store, today) == _by_reading_everything(store, today)
    assert facts_index.check(store)  # what `casenotes verify` asks: rebuilt, it says the same


def test_the_index_follows_every_change_made_here(vault: Vault, clock: Clock) -> None:  # noqa: F811
    desk = vault
    client_id = add(desk, "AB-1", ["2010-01-15"])
    other = add(desk, "CD-2", ["2012-05-01"], born="1990-02-02")
    today = dt.date(2019, 1, 1)
    _agrees(desk, today)
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
