"""File one note into the vault: read, validate, resolve, seal.

The one path by which a Markdown note becomes a sealed revision, whether `casenotes
seal` asks for it or the daemon does. Needs no passphrase: only public keys are used.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import note_templates
from note_templates import Kind, NoteFields, NoteInvalid, read_note
from retention import group
from retention import records as retention_facts
from vault import SealedRevision, Vault
from vault.errors import NoteTooLarge, UnknownClient
from vault.format.constants import MAX_PLAINTEXT_BYTES
from vault.format.encoding import new_id

from .errors import ClientNotResolved
from .limits import MAX_NOTE_BYTES

assert MAX_NOTE_BYTES <= MAX_PLAINTEXT_BYTES


@dataclass(frozen=True, repr=False)
class FiledNote:
    fields: NoteFields
    sealed: SealedRevision
    id_was_assigned: bool  # the note had no `id:` line


def read_note_bytes(path: Path, max_bytes: int = MAX_NOTE_BYTES) -> bytes:
    """A regular file's bytes. Symlinks, hard links, devices, FIFOs and huge files are refused:
    a link would let a note leave (or enter) the inbox behind the practitioner's back."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise NoteInvalid(path, 1, None, "the file does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise NoteInvalid(path, 1, None, "not a regular file (a symlink, folder, FIFO or device): refused")
    if info.st_nlink > 1:
        raise NoteInvalid(path, 1, None, "a hard link to a file elsewhere: refused; copy the note instead")
    if info.st_size > max_bytes:
        raise NoteTooLarge(path, max_bytes)
    # O_NOFOLLOW: the name cannot be swapped for a symlink between lstat and open.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew between lstat and read
        raise NoteTooLarge(path, max_bytes)
    return raw


def file_note(
    vault: Vault,
    path: Path,
    raw: bytes | None = None,
    fallback_id: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    fields: NoteFields | None = None,
) -> FiledNote:
    """Seal a note's bytes as its next revision (``fallback_id`` for notes without `id:`).

    A note marked signed is sealed for good, so it must be finished first: NoteUnfinished
    names each required section or field still blank (``kinds``: the practice's, by default
    the built-in ones), and nothing is sealed.
    """
    if raw is None:
        raw = read_note_bytes(path)
    kinds = note_templates.kinds() if kinds is None else kinds
    if fields is None:  # syncd has read them already, to choose the note's id
        fields = read_note(raw, path, kinds)
    if fields.signed:
        from note_templates.signing import ready_to_sign  # a draft never loads the signing checks

        ready_to_sign(raw, path, kinds, fields)
    try:
        client_id = vault.resolve(fields.client, own=True)
    except UnknownClient as exc:
        raise ClientNotResolved(path, fields.line_of("client"), "client", str(exc)) from None
    # Another machine's purge, its deletions still arriving (read once a burst: once_per_commit).
    if client_id in vault.once_per_commit("purged", lambda: group.purged(vault)):
        raise NoteInvalid(
            path,
            fields.line_of("client"),
            "client",
            f"client {client_id} was purged on another machine (`casenotes retention certificates` "
            "lists it): nothing is sealed into it; this draft stays in the inbox until you move or delete it",
        )
    note_id = fields.note_id or fallback_id
    if note_id is None:
        # No id to file it under (`casenotes seal` of a note without `id:`): a run cut short
        # may have sealed these exact bytes already, and left an empty folder behind.
        vault.remove_leftovers(client_id)
        note_id = vault.find_by_content(client_id, raw) or new_id()
    # The session date, which dates a disposal, rides sealed in the seal's audit entry.
    session = retention_facts.session_fact(vault, client_id, note_id, fields.kind, fields.date)
    sealed = vault.seal(client_id, note_id, raw, final=fields.signed, audit_extra=session)
    return FiledNote(fields, sealed, fields.note_id is None)
