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
from collections.abc import Iterable
from pathlib import Path

from ..errors import Problem
from ..format import sync_artefacts
from .audit import Entry

REMOVED = None  # the ledger's value for a path whose last recorded change deleted it


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(root: Path, *paths: Path) -> dict[str, str]:
    """The ``files`` field of an audit entry: each path relative to the vault, and its hash."""
    return {str(p.relative_to(root)): digest(p) for p in paths}


def expected(entries: Iterable[Entry]) -> dict[str, list[str | None]]:
    """Every recorded state of each vouched-for path, oldest first (None: deleted).

    Entries are ordered by time across devices, then by each device's own sequence."""
    purged = set()
    ordered = []
    for entry in entries:
        if entry.event == "purge-begin":
            purged.add(entry.data.get("client"))
        if "files" in entry.data or "removed" in entry.data:
            ordered.append(entry)
    ordered.sort(key=lambda e: (e.time, e.device, e.seq))
    states: dict[str, list[str | None]] = {}
    for entry in ordered:
        if entry.data.get("client") in purged:
            continue
        recorded = entry.data.get("files")
        for path, sha in recorded.items() if isinstance(recorded, dict) else ():
            states.setdefault(str(path), []).append(str(sha))
        removed = entry.data.get("removed")
        for path in removed if isinstance(removed, list) else ():
            states.setdefault(str(path), []).append(REMOVED)
    return states


def check(root: Path, relative: str, history: list[str | None]) -> Problem | None:
    """What is wrong with one vouched-for path, if anything."""
    path = root / relative
    latest = history[-1]
    if latest is REMOVED:
        return None  # deleted by a revoke; a later grant records it again
    if not path.is_file():
        return Problem(path, "a key or index file the audit log recorded is missing (deleted?)")
    found = digest(path)
    if found == latest:
        return None
    if found in history:
        return Problem(path, "is an older key or index file than the audit log recorded (put back?)")
    return Problem(path, "differs from the key or index file the audit log recorded (replaced?)")


def check_file(root: Path, path: Path, entries: Iterable[Entry]) -> Problem | None:
    """`check` for one file, if the log recorded it (None also when it did not)."""
    history = expected(entries).get(str(path.relative_to(root)))
    return check(root, str(path.relative_to(root)), history) if history else None


def problems(root: Path, entries: Iterable[Entry]) -> list[Problem]:
    found = []
    for relative, history in sorted(expected(entries).items()):
        problem = check(root, relative, history)
        if problem is not None:
            found.append(problem)
    return found


def vouched_paths(root: Path) -> list[Path]:
    """Every file the ledger is meant to vouch for, as they lie in the vault now."""
    patterns = ["practitioners/*.json", "practitioners/*.index", "index/*.json", "clients/*/access/*.sealed"]
    return sorted(
        p
        for pattern in patterns
        for p in root.glob(pattern)
        if p.is_file() and not any(sync_artefacts.is_artefact(part) for part in p.relative_to(root).parts)
    )


def unrecorded(root: Path, entries: Iterable[Entry]) -> list[Path]:
    """Files the ledger should vouch for that no entry has recorded (an older casenotes made
    them, or a colleague's machine did before it was registered here)."""
    known = expected(entries)
    return [p for p in vouched_paths(root) if str(p.relative_to(root)) not in known]
