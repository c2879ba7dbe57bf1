"""Reading: the newest revision of each note, and client profiles, decrypted and audited."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from nacl.public import PrivateKey

from ..errors import ReadStopped, TamperedFile, UnknownNote
from ..format import key_generations, sync_artefacts
from ..format import revision as revision_format
from ..format.encoding import is_id
from ..format.keys import Practitioner
from ..format.redact import Plaintext
from . import forks
from .audit import AuditLog
from .authority import Judge
from .client_keys import Keyring
from .clients import PROFILE_RECORD_ID, Profile
from .profile_index import ProfileIndex, index_file, names_in, stamp, stat_stamp
from .revisions import Checked, Revisions, listing, load


class Readable(Protocol):
    """What reading uses of a vault (`Vault` has it): the revision files, the client keys
    and the audit log, not the `Vault`."""

    @property
    def revision_files(self) -> Revisions: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def audit(self) -> AuditLog: ...


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


def read_notes(
    vault: Readable,
    practitioner: Practitioner,
    client_id: str,
    note_id: str | None = None,
    damaged: list[TamperedFile] | None = None,
    refused: list[TamperedFile] | None = None,
    others: list[tuple[str, str]] | None = None,
) -> list[OpenedNote]:
    """The standing revision of each note of a client (or of one note), decrypted;
    ``refused``: where revisions authority refuses are put (else they are damage).
    ``others``: given, gets (record id, kind) of each record passed over (a consent, an
    attached document), known from the header read anyway: no second pass to find them."""
    if note_id is not None and (not is_id(note_id) or note_id == PROFILE_RECORD_ID):
        raise UnknownNote(f"for client {client_id}", "with that id (ids are 16 hex digits)")
    keys = vault.keyring.client_keys(practitioner, client_id)
    if note_id is not None and not vault.revision_files.of(client_id, note_id):
        raise UnknownNote(f"for client {client_id}", note_id)
    note_ids = [note_id] if note_id else vault.revision_files.note_ids(client_id)
    opened = open_notes(vault, client_id, note_ids, keys, damaged, refused=refused, others=others)
    audit_decrypt(vault, practitioner, client_id, len(opened))
    return opened


def open_notes(
    vault: Readable,
    client_id: str,
    note_ids: list[str],
    keys: list[PrivateKey],
    damaged: list[TamperedFile] | None,
    checked: Checked | None = None,
    refused: list[TamperedFile] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    others: list[tuple[str, str]] | None = None,
) -> list[OpenedNote]:
    """Check and decrypt the standing revision of each note (vault/store/forks.py); no
    audit entry (the caller's). Revisions authority refuses go to ``damaged`` (shown as
    such), else to ``refused`` (named beside the notes), else raise. ``others`` gets (id,
    kind) of each record that is not a note (read_notes).

    The device keys are read once for all, and each note folder listed once."""
    files = vault.revision_files
    device_keys = files.device_keys()
    records = files.client_dir(client_id) / "records"
    judge = Judge(vault.keyring, client_id)
    own = vault.keyring.device.device_id
    opened: list[OpenedNote] = []
    for nid in note_ids:
        if stopped():
            raise ReadStopped(len(opened))
        revisions = listing(records / nid)
        if not revisions:
            continue  # a folder a first write left empty: holds nothing (see leftovers)
        try:
            # One revision by the practitioner who added the client: nothing to weigh.
            alone = len(revisions) == 1 and judge.owns(revisions[0][1])
            state = (
                forks.State(revisions[0][2], None)
                if alone
                else forks.state(vault, client_id, nid, judge, own)
            )
            for path, why in state.refused:  # never the client's record; reported, never silent
                found = damaged if damaged is not None else refused
                if found is None:
                    raise TamperedFile(path, why)
                found.append(TamperedFile(path, why))
            if state.shown is None:
                continue
            fork, newest = state.fork, state.shown
            parsed = load(newest, device_keys, checked)
            if parsed.header.kind != "note":
                if others is not None:
                    others.append((nid, parsed.header.kind))
                continue  # a consent or an attached document: not a session note
            parsed, body = files.open(newest, keys, parsed)
            siblings = tuple(
                _opened(nid, *files.open(tip, keys)) for tip in (fork.tips if fork else ()) if tip != newest
            )
        except TamperedFile as exc:
            if damaged is None:
                raise
            damaged.append(exc)  # the caller shows it as damaged, never drops it silently
            continue
        opened.append(_opened(nid, parsed, body, siblings))
    return opened


def audit_decrypt(vault: Readable, practitioner: Practitioner, client_id: str, notes: int) -> None:
    vault.audit.append("decrypt", client=client_id, notes=notes, practitioner=practitioner.practitioner_id)


def _opened(
    note_id: str,
    parsed: revision_format.ParsedRevision,
    body: Plaintext,
    siblings: tuple[OpenedNote, ...] = (),
) -> OpenedNote:
    h = parsed.header
    return OpenedNote(note_id, h.revision, h.sealed_at, h.final, body, h.device, siblings)


def read_profile(vault: Readable, practitioner: Practitioner, client_id: str) -> Profile:
    """One client's profile, decrypted (audited)."""
    profile = _open_profile(vault, practitioner, client_id)
    vault.audit.append("decrypt-profile", client=client_id, practitioner=practitioner.practitioner_id)
    return profile


def _open_profile(vault: Readable, practitioner: Practitioner, client_id: str) -> Profile:
    files = vault.revision_files
    judge = Judge(vault.keyring, client_id)
    revisions = files.of(client_id, PROFILE_RECORD_ID)
    # The newest revision its writer was entitled to (verify names the others).
    standing = [r for r in revisions if judge.owns(r[1]) or not judge(files.load(r[2]).header)]
    if not standing:
        raise TamperedFile(files.client_dir(client_id), "the client's profile is missing")
    _, body = files.open(standing[-1][2], vault.keyring.client_keys(practitioner, client_id))
    return Profile.from_bytes(client_id, body)


def profiles(vault: Readable, practitioner: Practitioner, index_dir: Path | None = None) -> Iterator[Profile]:
    """Profiles of every client this practitioner may read (audited as one decryption).
    ``index_dir``: where the practitioner's profile index lives (vault/store/profile_index.py):
    a client whose profile and access files are as when it was indexed is not decrypted again."""
    if index_dir is None:
        readable = [
            cid
            for cid in vault.revision_files.client_ids()
            if practitioner.practitioner_id in vault.keyring.access_holders(cid)
        ]
        pid = practitioner.practitioner_id
        # the ids: each client's access report lists this read of its name
        vault.audit.append(
            "decrypt-profiles", clients=len(readable), client_ids=sorted(readable), practitioner=pid
        )
        for cid in readable:
            yield _open_profile(vault, practitioner, cid)
        return
    index = ProfileIndex(index_file(index_dir, practitioner), practitioner)
    clients = os.path.join(vault.revision_files.root, "clients")  # strings: 5,000 clients
    found: dict[str, tuple[Profile | None, str, str]] = {}  # readable: profile if known, stamps
    every = vault.revision_files.client_ids()
    for cid in every:
        access = os.path.join(clients, cid, "access")
        record = os.path.join(clients, cid, "records", PROFILE_RECORD_ID)
        quick = stat_stamp(access, record)
        known, listing = index.get(cid, quick, partial(_listing_stamp, record, access))
        if known is None and practitioner.practitioner_id not in access_holders(names_in(access) or []):
            known = False
            index.put(cid, None, quick, listing)
        if known is not False:
            found[cid] = (known if isinstance(known, Profile) else None, quick, listing)
    vault.audit.append(  # the ids: each client's access report lists this read of its name
        "decrypt-profiles",
        clients=len(found),
        client_ids=sorted(found),
        practitioner=practitioner.practitioner_id,
    )
    for cid, (profile, quick, listing) in found.items():
        if profile is None:
            profile = _open_profile(vault, practitioner, cid)
            index.put(cid, profile, quick, listing)
        yield profile
    index.keep_only(set(every))
    index.save()


def _listing_stamp(*folders: str) -> str:
    return stamp(*(names_in(folder) for folder in folders))


def access_holders(names: list[str]) -> set[str]:
    """`Keyring.access_holders` from a listing of the access folder already made."""
    found = set()
    for name in names:
        if name.endswith(".sealed") and not sync_artefacts.is_artefact(name):
            parsed = key_generations.parse_access(name)
            if parsed is not None:
                found.add(parsed[0])
    return found
