"""File one note from the inbox into the vault: read, validate, resolve, seal.

The one path by which a Markdown note becomes a sealed revision, whether `casenotes
seal` asks for it or the daemon does. Needs no passphrase: only public keys are used.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from note_templates import NoteFields, NoteInvalid, read_note
from vault import SealedRevision, Vault
from vault.constants import MAX_PLAINTEXT_BYTES
from vault.encoding import new_id
from vault.errors import NoteTooLarge, UnknownClient


@dataclass(frozen=True, repr=False)
class FiledNote:
    fields: NoteFields
    sealed: SealedRevision
    id_was_assigned: bool  # the note had no `id:`; later saves will not join this note


def read_note_bytes(path: Path) -> bytes:
    """A regular file's bytes; symlinks, devices, FIFOs and huge files are refused."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise NoteInvalid(path, 1, None, "the file does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise NoteInvalid(path, 1, None, "not a regular file (symlink, folder or device): refused")
    if info.st_size > MAX_PLAINTEXT_BYTES:
        raise NoteTooLarge(path, MAX_PLAINTEXT_BYTES)
    with open(path, "rb") as handle:
        return handle.read(MAX_PLAINTEXT_BYTES + 1)


def file_note(vault: Vault, path: Path) -> FiledNote:
    raw = read_note_bytes(path)
    if len(raw) > MAX_PLAINTEXT_BYTES:  # it grew between stat and read
        raise NoteTooLarge(path, MAX_PLAINTEXT_BYTES)
    fields = read_note(raw, path)
    try:
        client_id = vault.resolve(fields.client)
    except UnknownClient as exc:
        raise NoteInvalid(path, fields.line_of("client"), "client", str(exc)) from None
    note_id = fields.note_id or new_id()
    sealed = vault.seal(client_id, note_id, raw, final=fields.signed)
    return FiledNote(fields, sealed, fields.note_id is None)
