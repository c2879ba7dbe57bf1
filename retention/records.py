"""Retention facts in the vault: what syncd needs to date a disposal, without the passphrase.

Per client and device, one file ``clients/<cid>/retention/<did>.json``, rewritten only by
that device (so a file-sync engine never sees two writers). Its bytes are the vault's
(vault/format/retention_facts.py: sealed under a key derived from the device file's index
key, so syncd can read it after a reboot and someone with the vault alone learns nothing,
not a date of birth, not a session date, not a hold's reason; signed by the device), and
the vault writes it (vault/store/retention_files.py), each write an audit entry carrying
the file's SHA-256, so a swapped, replayed or deleted file is caught before a purge
obeys it (``problems``).

Inside: ``created``, ``sessions`` (template -> latest session date), ``born``,
``closed`` (each with when it was set, so the newest wins across devices), ``holds`` and,
once the client is past retention, ``noticed`` (the day this device first said so).

A sealed note's session date is not written here: it rides, sealed under the same key, in
the seal's own audit entry (field ``session``, see ``session_fact``), which the seal makes
durable anyway. So a seal costs no second file and no second audit entry, and the date is
exactly as well protected as the revision's own record: signed, hash-chained, checkpointed.
Readers merge those facts with the files' (``logged_sessions``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.exceptions

from vault import Entry, Problem, Vault, durable
from vault.errors import TamperedFile
from vault.format import retention_facts
from vault.format.encoding import new_id
from vault.store import retention_files
from vault.store.authority import Judge

if TYPE_CHECKING:  # the policies load when facts are merged, not for every seal
    from vault.store.facts_index import FactsIndex

    from .policy import Facts

AUDIT_EVENT = retention_files.FACTS_EVENT
SESSION_FIELD = retention_facts.SESSION_FIELD


def retention_key(vault: Vault) -> bytes:
    return retention_facts.key(vault.device.index_key)


@dataclass
class DeviceFacts:
    """One device's view of a client; ``merge`` combines every device's."""

    created: str | None = None
    sessions: dict[str, str] = field(default_factory=dict)
    born: list[Any] = field(default_factory=lambda: [None, ""])  # [value, set at]
    closed: list[Any] = field(default_factory=lambda: [None, ""])
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> reason, placed, released
    noticed: str | None = None  # the day this device first said the client is past retention

    def to_json(self) -> dict[str, Any]:
        found = {
            "created": self.created,
            "sessions": self.sessions,
            "born": self.born,
            "closed": self.closed,
            "holds": self.holds,
        }
        if self.noticed is not None:  # absent until needed: older readers see the old shape
            found["noticed"] = self.noticed
        return found


def path_for(vault: Vault, client_id: str, device_id: str) -> Path:
    return retention_files.facts_path(vault.root, client_id, device_id)


def _read(vault: Vault, path: str, key: bytes, signed: bool = True) -> tuple[int, DeviceFacts]:
    """One device's facts. ``signed=False`` skips the signature (the scan: the AEAD already
    proves a device of this practice wrote it, and a purge re-checks every file against
    the signed audit log before it acts)."""
    record = retention_facts.read(path, vault.trust.device_keys() if signed else None)
    *_, client_id, _, name = path.split(os.sep)
    seq, facts = retention_facts.open_facts(record, key, client_id, name.removesuffix(".json"), path)
    try:
        return seq, DeviceFacts(**facts)
    except TypeError as exc:
        raise TamperedFile(path, "retention facts do not decrypt: damaged or forged") from exc


def update(vault: Vault, client_id: str, change: str, edit: Callable[[DeviceFacts, str], bool]) -> None:
    """Change this device's facts of a client; ``edit`` returns False when nothing changed.

    A lock file beside the device key orders syncd and the command line on this machine.
    """
    vault.keyring.client_public(client_id)  # an unknown or damaged client raises here
    with durable.locked(vault.device_dir / "retention.lock"):
        path = path_for(vault, client_id, vault.device.device_id)
        seq, facts = _read(vault, str(path), retention_key(vault)) if path.exists() else (0, DeviceFacts())
        if edit(facts, vault_stamp(vault)):
            retention_files.write_facts(vault, client_id, seq + 1, facts.to_json(), change)


def vault_stamp(vault: Vault) -> str:
    return vault.clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the changes ---------------------------------------------------------------------------
def register_client(vault: Vault, client_id: str, born: dt.date | None) -> None:
    def edit(facts: DeviceFacts, now: str) -> bool:
        facts.created = now[:10]
        if born is not None:
            facts.born = [born.isoformat(), now]
        return True

    update(vault, client_id, "created", edit)


def note_session(vault: Vault, client_id: str, kind: str | None, day: dt.date) -> None:
    """Remember a sealed note's date, if it is the latest of its template for this client."""
    kind = kind or "note"

    def edit(facts: DeviceFacts, now: str) -> bool:
        if facts.sessions.get(kind, "") >= day.isoformat():
            return False
        facts.sessions[kind] = day.isoformat()
        return True

    update(vault, client_id, "session", edit)  # reads this device's facts once, writes if later


def set_closed(vault: Vault, client_id: str, day: dt.date | None) -> None:
    def edit(facts: DeviceFacts, now: str) -> bool:
        facts.closed = [day.isoformat() if day else None, now]
        return True

    update(vault, client_id, "closed" if day else "reopened", edit)


def note_notice(vault: Vault, client_id: str, day: dt.date) -> None:
    """Record that casenotes told the practitioner, on ``day``, that the client is past
    retention: the notice period an unattended disposal waits for counts from here."""

    def edit(facts: DeviceFacts, now: str) -> bool:
        facts.noticed = day.isoformat()
        return True

    update(vault, client_id, "notice", edit)


def place_hold(vault: Vault, client_id: str, reason: str) -> str:
    hold_id = new_id()

    def edit(facts: DeviceFacts, now: str) -> bool:
        facts.holds[hold_id] = {"reason": reason, "placed": now, "released": None}
        return True

    update(vault, client_id, "hold", edit)
    return hold_id


def release_holds(vault: Vault, client_id: str) -> list[str]:
    """Release every hold in force on a client (placed on any device); returns their ids."""
    in_force = dict(current(vault, client_id).holds)

    def edit(facts: DeviceFacts, now: str) -> bool:
        for hold_id, reason in in_force.items():
            facts.holds.setdefault(hold_id, {"reason": reason, "placed": None})["released"] = now
        return bool(in_force)

    update(vault, client_id, "release", edit)
    return sorted(in_force)


def session_fact(
    vault: Vault, client_id: str, note_id: str, kind: str | None, day: dt.date
) -> dict[str, str]:
    """The audit field that dates a disposal for this note: for ``Vault.seal(audit_extra=)``.

    XChaCha20-Poly1305 under the retention key, bound to the client and note (a fact copied
    into another entry does not open), padded so that every template name gives one size.
    """
    fact = retention_facts.seal_session(
        retention_key(vault), client_id, note_id, kind or "note", day.isoformat()
    )
    return {SESSION_FIELD: fact}


Sessions = dict[str, str]  # template -> latest session date (ISO)


def logged_sessions(
    vault: Vault, key: bytes | None = None, entries: Iterable[Entry] | None = None
) -> dict[str, Sessions | TamperedFile]:
    """Per client, the latest session date of each template that seal entries carry (every
    device's log; unverified: a purge verifies the log first). A fact that does not open
    marks its client damaged, so it is never purged on a guess."""
    key = key or retention_key(vault)
    found: dict[str, Sessions | TamperedFile] = {}
    for entry in vault.audit.entries() if entries is None else entries:
        if entry.event != "seal" or SESSION_FIELD not in entry.data:
            continue
        client_id, note_id = str(entry.data.get("client")), str(entry.data.get("note"))
        sessions = found.setdefault(client_id, {})
        if isinstance(sessions, TamperedFile):
            continue
        try:
            fact = retention_facts.open_session(entry.data[SESSION_FIELD], key, client_id, note_id)
            kind, day = str(fact["kind"]), dt.date.fromisoformat(fact["day"]).isoformat()
        except (ValueError, TypeError, KeyError, nacl.exceptions.CryptoError):
            where = vault.audit.directory / f"{entry.device}.log"
            found[client_id] = TamperedFile(
                where, f"the session fact of seal entry {entry.seq} does not open"
            )
            continue
        if sessions.get(kind, "") < day:
            sessions[kind] = day
    return found


# -- reading -------------------------------------------------------------------------------
def device_files(vault: Vault, client_id: str) -> list[str]:
    return retention_files.facts_files(vault.root, client_id)


def merge(views: list[DeviceFacts], created: dt.date) -> Facts:
    """One client's facts from every device's view (``created``: when no view says)."""
    from .policy import Facts

    sessions: dict[str, dt.date] = {}
    holds: dict[str, str] = {}
    released: set[str] = set()
    born: list[Any] = [None, ""]
    closed: list[Any] = [None, ""]
    known = [dt.date.fromisoformat(view.created) for view in views if view.created]
    created = min(known, default=created)
    placed = placements(views)
    for view in views:
        for kind, day in view.sessions.items():
            sessions[kind] = max(sessions.get(kind, dt.date.min), dt.date.fromisoformat(day))
        born = max(born, view.born, key=lambda v: v[1])
        closed = max(closed, view.closed, key=lambda v: v[1])
        for hold_id, hold in view.holds.items():
            if hold.get("released") and not released_before_placed(hold, placed.get(hold_id)):
                released.add(hold_id)
            elif hold.get("reason") is not None:
                holds[hold_id] = str(hold["reason"])
    return Facts(
        created=created,
        last_sessions=sessions,
        born=dt.date.fromisoformat(born[0]) if born[0] else None,
        closed=dt.date.fromisoformat(closed[0]) if closed[0] else None,
        holds={k: v for k, v in holds.items() if k not in released},
        notices=tuple(sorted(dt.date.fromisoformat(view.noticed) for view in views if view.noticed)),
    )


def placements(views: list[DeviceFacts]) -> dict[str, str]:
    """When each hold was placed (the earliest placement any believed view records)."""
    placed: dict[str, str] = {}
    for view in views:
        for hold_id, hold in view.holds.items():
            if hold.get("placed") and (hold_id not in placed or str(hold["placed"]) < placed[hold_id]):
                placed[hold_id] = str(hold["placed"])
    return placed


def released_before_placed(hold: Mapping[str, Any], placed: str | None) -> bool:
    """Whether a release claims a time before its hold was placed: no real release can, so
    it is a clock set back (a revoked colleague's, to look entitled) and does not count.
    Two honest clocks seconds apart can refuse a release too: the hold stays in force, the
    safe side, and releasing it again later counts."""
    return placed is not None and str(hold["released"]) < placed


def indexed_sessions(vault: Vault, index: FactsIndex) -> dict[str, Sessions | TamperedFile]:
    """``logged_sessions`` as the facts index folded it from the log (vault/store/facts_index.py)."""
    found: dict[str, Sessions | TamperedFile] = {c: dict(s) for c, s in index.sessions.items()}
    for client_id, (device, seq) in index.damaged.items():
        where = vault.audit.directory / f"{device}.log"
        found[client_id] = TamperedFile(where, f"the session fact of seal entry {seq} does not open")
    return found


def current(
    vault: Vault,
    client_id: str,
    key: bytes | None = None,
    signed: bool = True,
    logged: Mapping[str, Sessions | TamperedFile] | None = None,
    index: FactsIndex | None = None,
) -> Facts:
    """Every device's facts of one client, merged with the session dates its seal entries
    carry (``logged``: ``logged_sessions`` read once for many clients; else read here). A
    damaged or forged file or fact raises TamperedFile. ``index`` (only with ``signed=False``,
    the scan): the files as the facts index last read them, while their stat is unchanged."""
    key = key or retention_key(vault)
    if index is not None and not signed:
        return _current_indexed(vault, client_id, key, index, logged)
    judge = Judge(vault.keyring, client_id)
    paths, own = device_files(vault, client_id), vault.device.device_id
    views = [
        believed(judge, _device_of(path), _read(vault, path, key, signed)[1], own, path)[0] for path in paths
    ]
    sessions = (logged_sessions(vault, key) if logged is None else logged).get(client_id, {})
    if isinstance(sessions, TamperedFile):
        raise sessions
    views.append(DeviceFacts(sessions=dict(sessions)))
    if any(view.created for view in views):
        return merge(views, dt.date.max)
    return merge(views, _created_from_record(vault, client_id))


def _current_indexed(
    vault: Vault,
    client_id: str,
    key: bytes,
    index: FactsIndex,
    logged: Mapping[str, Sessions | TamperedFile] | None,
) -> Facts:
    """`current` from the facts index: the files as it last read them while their stat is
    unchanged, and the client's merged facts as it kept them while every file's digest and
    the client's session dates are those they were merged from (vault/store/facts_index.py)."""
    sessions = (indexed_sessions(vault, index) if logged is None else logged).get(client_id, {})
    if isinstance(sessions, TamperedFile):
        raise sessions
    paths = index.facts_files(vault.root, client_id)
    files = [(_device_of(path), index.facts_file(path, key)) for path in paths]
    stamp = [[device, found.sha256] for device, found in files]
    kept = index.merged_facts(client_id, stamp, sessions)
    if kept is not None:
        return facts_from_json(kept)
    own, judge = vault.device.device_id, Judge(vault.keyring, client_id)
    views = [(device, _view(path, found.facts)) for path, (device, found) in zip(paths, files, strict=True)]
    judged = any(asks_judge(device, view, own) for device, view in views)
    merged = [
        believed(judge, device, view, own, path)[0] for path, (device, view) in zip(paths, views, strict=True)
    ]
    merged.append(DeviceFacts(sessions=dict(sessions)))
    if not any(view.created for view in merged):
        index.keep_merged(client_id, None)  # dated from client.json: not kept
        return merge(merged, _created_from_record(vault, client_id))
    facts = merge(merged, dt.date.max)
    # What authority says can change with no file of the client changing: kept only if unasked.
    index.keep_merged(client_id, None if judged else [stamp, dict(sessions), facts_json(facts)])
    return facts


def _view(path: str, facts: Mapping[str, Any]) -> DeviceFacts:
    try:
        return DeviceFacts(**facts)
    except TypeError as exc:
        raise TamperedFile(path, "retention facts do not decrypt: damaged or forged") from exc


def facts_json(facts: Facts) -> dict[str, Any]:
    """A client's merged facts as the facts index keeps them (`facts_from_json` reads them)."""
    day = dt.date.isoformat
    return {
        "created": day(facts.created),
        "last_sessions": {kind: day(d) for kind, d in facts.last_sessions.items()},
        "born": day(facts.born) if facts.born else None,
        "closed": day(facts.closed) if facts.closed else None,
        "holds": dict(facts.holds),
        "notices": [day(d) for d in facts.notices],
    }


def facts_from_json(kept: Mapping[str, Any]) -> Facts:
    from .policy import Facts

    day = dt.date.fromisoformat
    return Facts(
        created=day(kept["created"]),
        last_sessions={kind: day(d) for kind, d in kept["last_sessions"].items()},
        born=day(kept["born"]) if kept["born"] else None,
        closed=day(kept["closed"]) if kept["closed"] else None,
        holds=dict(kept["holds"]),
        notices=tuple(day(d) for d in kept["notices"]),
    )


def _device_of(path: str) -> str:
    return os.path.basename(path).removesuffix(".json")


STEP_WORD = {"placed": "placement", "released": "release"}
HOLD_FIX = {
    "placed": "it does not hold the client here: if the hold is real, a practitioner who holds the "
    "client places it (`casenotes retention hold`)",
    "released": "the hold stays in force here: a practitioner who holds the client releases it",
}


def believed(
    judge: Judge, device_id: str, view: DeviceFacts, own: str | None = None, path: str | None = None
) -> tuple[DeviceFacts, list[str]]:
    """``view`` (device ``device_id``'s facts) without what it wrote at a time its
    practitioner had no authority over the client (DESIGN.md invariant 8), and why each was
    refused: a hold's placement or release (a revoked colleague's machine neither lifts a
    legal hold nor keeps a client from disposal), and, from another device than ``own``
    (this one), a closing date, a birth date or a notice (nor brings a disposal forward).
    The ledger is asked only of a view that has such a fact, of a device not the owner's.

    ``path``: the view's file. Of a retired device, a file its log records only beyond the
    retire (`Judge.beyond_retire`) was written after it, whatever dates it holds: which of
    its facts are older cannot be told, so its releases, closing and birth dates and notice
    count for nothing; its placements still hold (a hold only ever keeps records)."""
    if not asks_judge(device_id, view, own):
        return view, []  # nothing in it a judge or a retire could refuse
    refused: list[str] = []
    late = judge.beyond_retire(device_id, Path(path), "retention facts", FACT_FIX) if path else ""
    # a file the retire's end of the log records: before the retire, whatever dates it holds
    vouched = bool(path) and not late and judge.logged_before(device_id)
    if late:
        refused.append(late)
        view = replace(
            view,
            holds={i: {**h, "released": None} for i, h in view.holds.items()},
            closed=[None, ""],
            born=[None, ""],
            noticed=None,
        )
    holds = _believed_holds(judge, device_id, view, refused, vouched)
    changed: dict[str, Any] = {} if holds is view.holds else {"holds": holds}
    if device_id != own:
        for name in ("closed", "born"):
            value, at = getattr(view, name)
            if at and (
                why := judge.device(device_id, str(at), f"the {FACT_WORD[name]}", FACT_FIX, vouched=vouched)
            ):
                refused.append(why)
                changed[name] = [None, ""]
        if view.noticed and (
            why := judge.practice_wide(
                device_id, f"{view.noticed}T23:59:59Z", "the notice of disposal", FACT_FIX, vouched
            )
        ):  # a day: taken at its end, so that a notice of the revoke's day counts for nothing
            refused.append(why)
            changed["noticed"] = None
    return (replace(view, **changed) if changed else view), refused


def asks_judge(device_id: str, view: DeviceFacts, own: str | None) -> bool:
    """Whether `believed` asks anything of the judge about this view: only of a hold, and of
    another device's closing date, birth date or notice. A view that asks nothing is believed
    as it is, whoever holds which authority (what the facts index may keep merged)."""
    return bool(view.holds) or (device_id != own and bool(view.closed[1] or view.born[1] or view.noticed))


FACT_WORD = {"closed": "closing date", "born": "birth date"}
FACT_FIX = "it does not count here; the facts of the devices that may write the client do"


def _believed_holds(
    judge: Judge, device_id: str, view: DeviceFacts, refused: list[str], vouched: bool = False
) -> dict[str, Any]:
    """The view's holds without refused placements and releases (the same dict if none);
    ``vouched``: as `Judge.device`'s."""
    if not view.holds:
        return view.holds
    holds: dict[str, dict[str, Any]] = {}
    before = len(refused)
    for hold_id, hold in view.holds.items():
        hold = dict(hold)
        for step in ("released", "placed"):
            at = hold.get(step)
            why = (
                judge.device(
                    device_id,
                    str(at),
                    f"the {STEP_WORD[step]} of hold {hold_id}",
                    HOLD_FIX[step],
                    vouched=vouched,
                )
                if at
                else ""
            )
            if why:
                refused.append(why)
                hold[step] = None
        if hold.get("placed") is None and hold.get("released") is None:
            continue  # nothing of it stands: a refused placement, or a refused release's copy
        holds[hold_id] = hold
    return holds if len(refused) > before else view.holds


def refused_facts(vault: Vault) -> list[Problem]:
    """Every retention fact written without authority (`believed`), for `casenotes verify`:
    named by its file, with the device and the practitioner."""
    key = retention_key(vault)
    found = []
    for client_id in vault.client_ids():
        judge = Judge(vault.keyring, client_id)
        views: dict[str, DeviceFacts] = {}
        for path in device_files(vault, client_id):
            try:
                view = _read(vault, path, key)[1]
            except TamperedFile:
                continue  # `problems` and the purge report it
            views[path], refused = believed(judge, _device_of(path), view, vault.device.device_id, path)
            found += [Problem(Path(path), why) for why in refused]
        placed = placements(list(views.values()))
        for path, view in views.items():
            for hold_id, hold in view.holds.items():
                if hold.get("released") and released_before_placed(hold, placed.get(hold_id)):
                    found.append(
                        Problem(
                            Path(path),
                            f"refused: the release of hold {hold_id} written by device {_device_of(path)} "
                            f"of practitioner {vault.trust.registrant(_device_of(path)) or 'unknown'} "
                            f"claims {hold['released']}, before the hold was placed ({placed[hold_id]}); "
                            f"{HOLD_FIX['released']}",
                        )
                    )
    return found


def _late_write(vault: Vault, device_id: str, at: str, digest: str) -> bool:
    """Whether a retired device's facts write, as the facts index folded it (dated ``at``,
    of a file with SHA-256 ``digest``), was after its retire: one the retire's end of its
    log records these bytes by is before it (the index keeps no whole entry, and a line
    the thief signs may claim any number); one dated after the retire is after it anyway."""
    if vault.trust.retired_after(device_id, at) is not None:
        return True
    before = vault.trust.before_retire(device_id)
    return before is not None and not before.vouches(digest)


def _created_from_record(vault: Vault, client_id: str) -> dt.date:
    """A client with no retention facts yet (added before retention existed, or its facts are
    still syncing from another machine): the signed client record's creation date."""
    vault.keyring.client_public(client_id)  # checks the signature
    record = json.loads((vault.client_dir(client_id) / "client.json").read_bytes())
    return dt.date.fromisoformat(str(record["created"])[:10])


def problems(
    vault: Vault,
    client_ids: list[str] | None = None,
    entries: Sequence[Entry] | None = None,
    index: FactsIndex | None = None,
    signed: Sequence[Entry] | None = None,
) -> list[Problem]:
    """Files that disagree with the audit log. Each device's file must be the last write the
    log recorded (same ``seq``, same bytes) or a later one (a crash between writing it and
    logging it; it is signed, and a purge checks the signature). An older copy put back,
    or a deleted file, is reported, and so is a file a retired device wrote after its
    retire (vault/store/retired.py: it might release a hold). Clients the log shows purged
    are skipped. ``index``: the log's writes and purges as the facts index folded them, and
    each file as it last read it while its stat is unchanged (no whole log parsed);
    ``signed``: the purge lines registered devices signed (`vault.store.purged.signed`),
    when read already."""
    from vault.store.purged import signed as signed_purges
    from vault.store.purged import trusted

    latest: dict[str, dict[str, tuple[int, str]]] = {}  # client -> device -> (seq, sha256)
    purged = set()
    retired = vault.trust.retired()
    late: dict[tuple[str, str], str] = {}  # (client, retired device) -> when it wrote after its retire
    if index is not None:
        for client, by in index.written.items():
            for device, (seq, digest, *when) in by.items():
                latest.setdefault(client, {})[device] = (int(seq), str(digest))
                if device in retired and when and _late_write(vault, device, str(when[0]), str(digest)):
                    late[client, device] = str(when[0])  # its clock may say before: not its log
        purged = index.purged(signed_purges(vault) if signed is None else signed)
    else:
        # Given ``entries`` are already trusted (read once per run, not once per client here).
        logged = trusted(vault.audit.entries(), signed_purges(vault)) if entries is None else entries
        for entry in logged:
            client = str(entry.data.get("client"))
            if entry.event == AUDIT_EVENT:
                write = (int(entry.data.get("seq", 0)), str(entry.data.get("sha256")))
                latest.setdefault(client, {})[entry.device] = write
                if entry.device in retired and vault.trust.retired_after(entry.device, entry.time, entry):
                    late[client, entry.device] = entry.time  # its clock may say before: not its log
            elif entry.event == "purge-begin":
                purged.add(client)
    found = []
    clients = os.path.join(vault.root, "clients")  # strings: a path object each cost more than the check
    for client_id in vault.client_ids() if client_ids is None else client_ids:
        if client_id in purged:
            continue
        for device_id, (seq, digest) in latest.get(client_id, {}).items():
            where = os.path.join(clients, client_id, "retention", f"{device_id}.json")
            if (client_id, device_id) in late:  # it may have released a hold: believed no more
                found.append(
                    Problem(
                        Path(where),
                        f"retention facts written by device {device_id} after it was retired "
                        f"({retired[device_id]}; its entry is dated {late[client_id, device_id]}, and a lost "
                        "machine's clock may be set back): a retired device keeps no authority; restore "
                        "this file from a backup made before the retire",
                    )
                )
                continue
            try:
                found_seq, found_digest = _seq_and_digest(where, index)
            except FileNotFoundError:
                found.append(
                    Problem(Path(where), "retention facts the audit log records are missing (deleted?)")
                )
                continue
            except (ValueError, KeyError, TypeError, TamperedFile):
                found.append(Problem(Path(where), "retention facts are damaged"))
                continue
            if found_seq < seq:
                found.append(
                    Problem(
                        Path(where), "retention facts are older than their last audited write (put back?)"
                    )
                )
            elif found_seq == seq and found_digest != digest:
                found.append(
                    Problem(Path(where), "retention facts differ from their last audited write (replaced?)")
                )
    return found


def _seq_and_digest(path: str, index: FactsIndex | None) -> tuple[int, str]:
    if index is not None:
        known = index.facts_file(path, index.key)
        return known.seq, known.sha256
    with open(path, "rb") as handle:
        data = handle.read()
    return int(json.loads(data)["seq"]), hashlib.sha256(data).hexdigest()
