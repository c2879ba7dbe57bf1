"""Reading: the newest revision of each note, and client profiles, decrypted and audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nacl.public import PrivateKey

from ..errors import TamperedFile, UnknownNote
from ..format import revision as revision_format
from ..format.encoding import is_id
from ..format.keys import Practitioner
from ..format.redact import Plaintext
from .clients import PROFILE_RECORD_ID, Profile

if TYPE_CHECKING:
    from .vault import Vault


@dataclass(frozen=True, repr=False)
class OpenedNote:
    """The newest revision of one note, decrypted."""

    note_id: str
    revision: int
    sealed_at: str
    final: bool
    body: Plaintext
    device: str = ""
    # A fork (vault/store/forks.py): the other machines' texts of this note, shown beside it.
    siblings: tuple[OpenedNote, ...] = ()

    def __repr__(self) -> str:
        return f"<OpenedNote {self.note_id} r{self.revision}>"


def open_revision(
    vault: Vault,
    path: Path,
    client_keys: list[PrivateKey],
    parsed: revision_format.ParsedRevision | None = None,
) -> tuple[revision_format.ParsedRevision, Plaintext]:
    """Check and decrypt one revision with whichever of the client's keys sealed it."""
    parsed = parsed or vault.load(path)
    vault.check_place(parsed, path)
    for key in client_keys[:-1]:
        try:
            return parsed, revision_format.decrypt(parsed, key, path)
        except TamperedFile:
            continue  # sealed under another generation of the client's key
    return parsed, revision_format.decrypt(parsed, client_keys[-1], path)


def read_notes(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    note_id: str | None = None,
    damaged: list[TamperedFile] | None = None,
) -> list[OpenedNote]:
    """The newest revision of each note of a client (or of one note), decrypted."""
    if note_id is not None and (not is_id(note_id) or note_id == PROFILE_RECORD_ID):
        raise UnknownNote(f"for client {client_id}", "with that id (ids are 16 hex digits)")
    keys = vault.keyring.client_keys(practitioner, client_id)
    note_ids = [note_id] if note_id else vault.note_ids(client_id)
    opened = []
    for nid in note_ids:
        revisions = vault.revisions(client_id, nid)
        if not revisions:
            if note_id is None:
                continue  # a folder a first write left empty: holds nothing (see leftovers)
            raise UnknownNote(f"for client {client_id}", nid)
        try:
            fork = vault.fork(client_id, nid) if len({n for n, _, _ in revisions}) < len(revisions) else None
            newest = revisions[-1][2] if fork is None else (fork.signed or fork.tips[0])
            parsed = vault.load(newest)
            if parsed.header.kind != "note":
                continue  # a consent or an attached document: not a session note
            parsed, body = open_revision(vault, newest, keys, parsed)
            siblings = tuple(
                _opened(nid, *open_revision(vault, tip, keys))
                for tip in (fork.tips if fork else ())
                if tip != newest
            )
        except TamperedFile as exc:
            if damaged is None:
                raise
            damaged.append(exc)  # the caller shows it as damaged, never drops it silently
            continue
        opened.append(_opened(nid, parsed, body, siblings))
    vault.audit.append(
        "decrypt",
        client=client_id,
        notes=len(opened),
        practitioner=practitioner.practitioner_id,
    )
    return opened


def _opened(
    note_id: str,
    parsed: revision_format.ParsedRevision,
    body: Plaintext,
    siblings: tuple[OpenedNote, ...] = (),
) -> OpenedNote:
    h = parsed.header
    return OpenedNote(note_id, h.revision, h.sealed_at, h.final, body, h.device, siblings)


def read_profile(vault: Vault, practitioner: Practitioner, client_id: str) -> Profile:
    """One client's profile, decrypted (audited)."""
    profile = _open_profile(vault, practitioner, client_id)
    vault.audit.append("decrypt-profile", client=client_id, practitioner=practitioner.practitioner_id)
    return profile


def _open_profile(vault: Vault, practitioner: Practitioner, client_id: str) -> Profile:
    revisions = vault.revisions(client_id, PROFILE_RECORD_ID)
    if not revisions:
        raise TamperedFile(vault.client_dir(client_id), "the client's profile is missing")
    _, body = open_revision(vault, revisions[-1][2], vault.keyring.client_keys(practitioner, client_id))
    return Profile.from_bytes(client_id, body)


def profiles(vault: Vault, practitioner: Practitioner) -> Iterator[Profile]:
    """Profiles of every client this practitioner may read (audited as one decryption)."""
    readable = [
        cid for cid in vault.client_ids() if practitioner.practitioner_id in vault.keyring.access_holders(cid)
    ]
    vault.audit.append("decrypt-profiles", clients=len(readable), practitioner=practitioner.practitioner_id)
    for cid in readable:
        yield _open_profile(vault, practitioner, cid)


def find(vault: Vault, practitioner: Practitioner, handle: str) -> Profile:
    return vault.read_profile(practitioner, vault.resolve(handle))
