"""The ledger: which key, access and index files the signed audit log vouches for.

A practitioner key, a sealed handle-index key, a client's sealed access keys and the
handle index are not signed by themselves (a sealed box is made with a public key alone),
so whoever can write to the vault folder could delete or swap one without a trace. Every
command that writes or deletes such a file therefore names it in its audit entry:
``files`` maps each path (relative to the vault) to its SHA-256, ``removed`` lists the
paths it deleted. The log is hash-chained and signed by registered devices, so `verify`
can say of each such file that it is missing, replaced or an older copy put back, and a
new device can check the handle-index key before it trusts it.

Files of a client the log shows purged are not expected (crypto-shredding removes them).
Vaults made by an older casenotes have no such entries: `unrecorded` finds what is there
and not vouched for, and the vault records it after the practitioner's next unlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import Problem
from ..format import sync_artefacts
from .audit import Entry

REMOVED = None  # the ledger's value for a path whose last recorded change deleted it
AGREED = "purge-agreed"  # this device checked another device's purge and carries it out
REFUSED = "purge-refused"  # ... and does not: every file of the client is kept here


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(root: Path, *paths: Path) -> dict[str, str]:
    """The ``files`` field of an audit entry: each path relative to the vault, and its hash."""
    return {str(p.relative_to(root)): digest(p) for p in paths}


def expected(
    entries: Iterable[Entry], registrant: Callable[[str], str | None] | None = None
) -> dict[str, list[str | None]]:
    """Every recorded state of each vouched-for path, oldest first (None: deleted);
    ``registrant``: whose device each is (`Trust.registrant`)."""
    entries = list(entries)
    gone = purged_clients(entries)
    states: dict[str, list[str | None]] = {}
    for entry in _in_order(entries):
        recorded = entry.data.get("files")
        for path, sha in recorded.items() if isinstance(recorded, dict) else ():
            if not of_client(str(path), gone):
                states.setdefault(str(path), []).append(str(sha))
        removed = entry.data.get("removed")
        for path in removed if isinstance(removed, list) else ():
            if not of_client(str(path), gone):
                states.setdefault(str(path), []).append(REMOVED)
    # A deleted access file is never written again under its name (the name carries the
    # generation and the device that wrote it; a grant again is to a newer generation), so
    # a deletion is its last state, even when another device's clock, or one second shared
    # by both, puts the write after it.
    # A key record a renewal replaced (its entry names the digest) is older than every
    # other state, whatever the clocks say: a device registered on another machine in the
    # same second as a passphrase change records the record it saw, which time cannot
    # place before or after the change (key records never repeat: each holds a new key).
    # Only a renewal's line, for the key record of the practitioner whose device wrote it
    # (``registrant``, when the caller knows the devices; else the practitioner it names): a
    # colleague's machine cannot make a current key, index or access file look put back.
    replaced: dict[str, set[str]] = {}
    for e in entries:
        if "replaces" in e.data and "renewed" in e.data:
            owner = registrant(e.device) if registrant is not None else str(e.data.get("practitioner"))
            replaced.setdefault(f"practitioners/{owner}.json", set()).add(str(e.data["replaces"]))
            others = e.data.get("replaces_files")  # the .index and .recovery it rewrote
            for other, digest in others.items() if isinstance(others, dict) else ():
                if str(other) in (f"practitioners/{owner}.index", f"practitioners/{owner}.recovery"):
                    replaced.setdefault(str(other), set()).add(str(digest))
    return {
        path: _replaced_first(_removal_last(history), replaced.get(path, set()))
        for path, history in states.items()
    }


def _replaced_first(history: list[str | None], replaced: set[str]) -> list[str | None]:
    if not replaced or not any(state in replaced for state in history):
        return history
    return [s for s in history if s in replaced] + [s for s in history if s not in replaced]


def purged_clients(entries: Iterable[Entry]) -> set[str]:
    """Clients whose purge the log shows begun: none of their files is expected any more."""
    return {str(e.data.get("client")) for e in entries if e.event == "purge-begin"}


def of_client(relative: str, clients: set[str]) -> bool:
    """Whether a vault path is one of these clients' files: under ``clients/<cid>/``, or a
    handle-index entry ``index/<blinded>-<cid>.json`` pointing at one. An entry that names
    no client (a first unlock's ``ledger-record``) may still have recorded such a file."""
    parts = Path(relative).parts
    if len(parts) >= 2 and parts[0] == "clients":
        return parts[1] in clients
    if len(parts) == 2 and parts[0] == "index":
        return Path(parts[1]).stem.rpartition("-")[2] in clients
    return False


def writers(entries: Iterable[Entry]) -> dict[str, Entry]:
    """The last entry that recorded each path as written: whose device vouches for it."""
    found: dict[str, Entry] = {}
    for entry in _in_order(entries):
        recorded = entry.data.get("files")
        for path in recorded if isinstance(recorded, dict) else ():
            found[str(path)] = entry
    return found


def agreed_purges(entries: Iterable[Entry], own_device: str) -> list[Entry]:
    """``entries`` without the purge lines of another device for a client this device has
    not agreed to purge (its own ``purge-agreed``; vault/store/purged.py): another machine's
    word alone excuses no missing file of a client here, nor unrecords its files."""
    entries = list(entries)
    agreed: dict[str, bool] = {}
    for e in entries:
        if e.device == own_device and e.event in (AGREED, REFUSED):
            agreed[str(e.data.get("client"))] = e.event == AGREED
    return [
        e
        for e in entries
        if not (
            e.event in ("purge-begin", "purge-done")
            and e.device != own_device
            and not agreed.get(str(e.data.get("client")))
        )
    ]


def _in_order(entries: Iterable[Entry]) -> list[Entry]:
    """The entries that record files, of clients not purged, in ledger order.

    Each device's entries keep their own order (its sequence), whatever its clock did;
    devices are interleaved by time, each entry counting as late as the latest entry its
    device wrote before it (a clock set back cannot put a newer entry before an older one)."""
    purged = set()
    ordered = []
    for entry in entries:
        if entry.event == "purge-begin":
            purged.add(entry.data.get("client"))
        if "files" in entry.data or "removed" in entry.data:
            ordered.append(entry)
    ordered.sort(key=lambda e: (e.device, e.seq))
    latest: dict[str, str] = {}
    keyed = []
    for entry in ordered:
        latest[entry.device] = max(latest.get(entry.device, entry.time), entry.time)
        keyed.append(((latest[entry.device], entry.device, entry.seq), entry))
    return [
        entry
        for _, entry in sorted(keyed, key=lambda pair: pair[0])
        if entry.data.get("client") not in purged
    ]


def _removal_last(history: list[str | None]) -> list[str | None]:
    if REMOVED not in history or history[-1] is REMOVED:
        return history
    return [state for state in history if state is not REMOVED] + [REMOVED]


def check(root: Path, relative: str, history: list[str | None]) -> Problem | None:
    """What is wrong with one vouched-for path, if anything."""
    path = root / relative
    latest = history[-1]
    if latest is REMOVED:  # deleted by a revoke; a later grant records it again
        if path.is_file():  # a revoked colleague's kept copy would make them a holder again
            return Problem(path, "is back, though the audit log recorded it deleted (put back?)")
        return None
    if not path.is_file():
        return Problem(path, "a key or index file the audit log recorded is missing (deleted?)")
    found = digest(path)
    if found == latest:
        return None
    if found in history:
        return Problem(path, "is an older key or index file than the audit log recorded (put back?)")
    return Problem(path, "differs from the key or index file the audit log recorded (replaced?)")


def check_file(
    root: Path, path: Path, entries: Iterable[Entry], registrant: Callable[[str], str | None] | None = None
) -> Problem | None:
    """`check` for one file, if the log recorded it (None also when it did not)."""
    history = expected(entries, registrant).get(str(path.relative_to(root)))
    return check(root, str(path.relative_to(root)), history) if history else None


def problems(
    root: Path, entries: Iterable[Entry], registrant: Callable[[str], str | None] | None = None
) -> list[Problem]:
    entries = list(entries)
    found = []
    for relative, history in sorted(expected(entries, registrant).items()):
        problem = check(root, relative, history)
        if problem is not None:
            found.append(problem)
    known = expected(entries)
    for path in _must_be_recorded(root, entries):
        if str(path.relative_to(root)) not in known:
            found.append(Problem(path, _UNRECORDED[path.suffix]))
    return found


def _must_be_recorded(root: Path, entries: list[Entry]) -> list[Path]:
    """Files this casenotes records whenever it writes one: a recorded client's access files,
    and, in a vault whose `init` recorded its files, every handle-index key."""
    paths = _access_files(root, recorded_clients(entries))
    if any(e.event == "init" and "files" in e.data for e in entries):
        paths += sorted(p for p in (root / "practitioners").glob("*.index") if p.is_file())
    return paths


UNRECORDED_ACCESS = (
    "a sealed client key the audit log never recorded (planted? a revoke cut short leaves one "
    "too: run it again)"
)
_UNRECORDED = {
    ".sealed": UNRECORDED_ACCESS,
    ".index": "a handle-index key the audit log never recorded (planted?)",
}


def recorded_clients(entries: Iterable[Entry]) -> set[str]:
    """Clients whose creation the ledger recorded, not purged since: every access file of
    theirs was recorded when it was written, so one that was not is not theirs to hold."""
    added, purged = set(), set()
    for entry in entries:
        if entry.event == "client-add" and "files" in entry.data:
            added.add(str(entry.data.get("client")))
        elif entry.event == "purge-begin":
            purged.add(str(entry.data.get("client")))
    return added - purged


def _access_files(root: Path, clients: Iterable[str]) -> list[Path]:
    """A client's access files; a sync engine's conflict copy among them is verify's to
    report as such (vault/format/sync_artefacts.py), not as a planted key."""
    found = (p for c in clients for p in (root / "clients" / c / "access").glob("*.sealed"))
    return sorted(p for p in found if p.is_file() and not sync_artefacts.is_artefact(p.name))


def vouch(root: Path, path: Path, entries: Iterable[Entry]) -> Problem | None:
    """What is wrong with one key or access file as the log sees it (None: vouched for, or
    a file of an older casenotes the log could not record)."""
    entries = list(entries)
    relative = str(path.relative_to(root))
    history = expected(entries).get(relative)
    if history:
        return check(root, relative, history)
    if path in _must_be_recorded(root, entries):
        return Problem(path, _UNRECORDED[path.suffix])
    return None


def vouched_paths(root: Path) -> list[Path]:
    """Every file the ledger is meant to vouch for, as they lie in the vault now."""
    patterns = [
        "practitioners/*.json",
        "practitioners/*.index",
        "practitioners/*.recovery",
        "index/*.json",
        "clients/*/access/*.sealed",
    ]
    return sorted(
        p
        for pattern in patterns
        for p in root.glob(pattern)
        if p.is_file() and not any(sync_artefacts.is_artefact(part) for part in p.relative_to(root).parts)
    )


def unrecorded(root: Path, entries: Iterable[Entry]) -> list[Path]:
    """Files the ledger should vouch for that no entry has recorded (an older casenotes made
    them, or a colleague's machine did before it was registered here)."""
    entries = list(entries)
    known = expected(entries)
    # What this casenotes records when it writes it, and was not, is reported by verify,
    # never vouched for here (a new device's first unlock would else launder a planted file).
    recorded = set(_must_be_recorded(root, entries))
    # Nor a purged client's files: a purge cut short leaves its index entry (or its key),
    # and a first unlock that recorded them had the purge's end reported by verify as a
    # recorded file deleted, for good.
    gone = purged_clients(entries)
    return [
        p
        for p in vouched_paths(root)
        if str(p.relative_to(root)) not in known
        and p not in recorded
        and not of_client(str(p.relative_to(root)), gone)
    ]
