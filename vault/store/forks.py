"""Forks: one note changed on two machines while they were apart.

Revision files are write-once and named ``<rev>-<device>.rev``, so two machines that both
seal revision 2 of a note while apart leave ``000002-<A>.rev`` and ``000002-<B>.rev``
side by side once a sync engine has carried them over. Neither is hidden: the note is
**forked** from that number on, and each machine's line ends in its *tip* (its newest
revision of the note from the fork on).

- A fork is shown: `Vault.read_notes` opens every tip (`OpenedNote.siblings`), and
  `cat`, `open`, `status` and `verify` show both texts or name the note.
- A fork blocks: sealing the next revision of a forked note raises `NoteForked` (syncd
  keeps the draft in the inbox) until it is resolved.
- It is resolved by a **merge revision**: the next number, sealed with the text the
  practitioner chose, whose header names (``merges``) every revision from the fork on.
  A revision sealed later at the fork's number by a third machine forks it again.
- A **signed** tip locks the note: it is the note's text, is never hidden behind an
  unsigned sibling, and nothing follows it; the unsigned sibling is shown beside it as a
  change made after signing, to be written as an addendum.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..format import revision as revision_format
from .revisions import Revisions


class HasRevisions(Protocol):
    """What finding forks uses of a vault: its revision files (file names and headers)."""

    @property
    def revision_files(self) -> Revisions: ...


@dataclass(frozen=True)
class Fork:
    client_id: str
    note_id: str
    at: int  # the revision number two machines both sealed
    tips: tuple[Path, ...]  # the newest revision of each machine's line, newest first
    signed: Path | None  # a signed tip: the note is locked to it
    names: tuple[str, ...]  # stems of every revision from the fork on: what a merge names


def find(vault: HasRevisions, client_id: str, note_id: str) -> Fork | None:
    """The note's unresolved fork, if it has one (headers are read only where two
    revisions share a number, so an unforked note costs one folder listing)."""
    files = vault.revision_files
    revisions = files.of(client_id, note_id)
    by_number: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for number, device, path in revisions:
        by_number[number].append((device, path))
    headers: dict[Path, revision_format.RevisionHeader] = {}

    def header(path: Path) -> revision_format.RevisionHeader:
        if path not in headers:
            headers[path] = files.load(path).header
        return headers[path]

    for at in sorted(n for n, files in by_number.items() if len(files) > 1):
        forked = {path.stem for _, path in by_number[at]}
        later = [path for number, _, path in revisions if number > at]
        if any(forked <= set(header(path).merges) for path in later):
            continue  # a merge revision settled this one
        devices = {device for device, _ in by_number[at]}
        tips = [
            max((r for r in revisions if r[1] == device and r[0] >= at), key=lambda r: r[0])[2]
            for device in devices
        ]
        tips.sort(key=lambda p: (header(p).sealed_at, p.name), reverse=True)
        signed = next((p for p in tips if header(p).final), None)
        names = tuple(path.stem for number, _, path in revisions if number >= at)
        return Fork(client_id, note_id, at, tuple(tips), signed, names)
    return None


def everywhere(vault: HasRevisions) -> list[Fork]:
    """Every unresolved fork in the vault (folder listings; headers only where forked)."""
    files = vault.revision_files
    found = []
    for client_id in files.client_ids():
        for note_id in files.note_ids(client_id):
            revisions = files.of(client_id, note_id)
            if len({n for n, _, _ in revisions}) < len(revisions):
                fork = find(vault, client_id, note_id)
                if fork is not None:
                    found.append(fork)
    return found


def describe(fork: Fork) -> str:
    """What happened to a forked note, and what to do (ids only)."""
    tips = " and ".join(p.stem for p in fork.tips)
    if fork.signed is not None:
        others = ", ".join(p.stem for p in fork.tips if p != fork.signed)
        return (
            f"note {fork.note_id} was signed on one machine ({fork.signed.stem}) and changed on another "
            f"({others}) while they were apart: the signed text stands; write the other change as an "
            f"addendum, then `casenotes resolve {fork.note_id} --keep {fork.signed.stem}`"
        )
    return (
        f"note {fork.note_id} was changed on two machines while they were apart ({tips}): "
        f"`casenotes cat CLIENT --note {fork.note_id}` shows both texts; "
        f"`casenotes resolve {fork.note_id} --keep REVISION` chooses one"
    )
