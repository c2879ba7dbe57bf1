"""The handle index and adding clients: a practitioner's short name for a client, blinded.

``index/<blinded handle>-<client id>.json`` maps a handle, blinded with this practice's
index key, to a client id; the name carries the client so that two machines adding one
handle while apart write two files, and `resolve` sees both (docs/sharing.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from nacl.public import PrivateKey, SealedBox

from .. import durable
from ..errors import (
    HandleAmbiguous,
    HandleNotYours,
    HandleTaken,
    TamperedFile,
    UnknownClient,
    WriteFailed,
    reason,
)
from ..format import revision as revision_format
from ..format import sync_artefacts
from ..format.encoding import Clock, new_id, stamp
from ..format.keys import Device
from . import ledger, revisions, sealing
from .audit import AuditLog
from .authority import Judge
from .client_keys import Keyring
from .clients import (
    PROFILE_RECORD_ID,
    Profile,
    blind,
    client_record,
    index_name,
    index_paths,
    index_record,
    read_index_entry,
)
from .leftovers import ADDING, HalfMade, WriteLock
from .trust import Trust

#: Index entry -> (its stat, the device keys that checked it, its client): see `_client_of`.
IndexSeen = dict[Path, tuple[tuple[int, ...], object, str]]


class Indexed(Protocol):
    """What the handle index and adding clients use of a vault (`Vault` has it)."""

    @property
    def root(self) -> Path: ...
    @property
    def device(self) -> Device: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def trust(self) -> Trust: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def write_lock(self) -> WriteLock: ...
    @property
    def half_made(self) -> HalfMade: ...
    @property
    def index_seen(self) -> IndexSeen: ...


def add_client(
    vault: Indexed,
    handle: str,
    name: str | None = None,
    dob: str | None = None,
    on_created: Callable[[str], None] | None = None,
) -> str:
    """Create a client: needs no passphrase, since only public keys are used.

    All or nothing: the client is made in a hidden ``clients/.adding-<cid>/`` folder,
    renamed into place, ``on_created(client_id)`` adds what the layers above keep
    (retention facts), and only then is the handle written. A failure on the way removes
    what was made, so no orphan id is left and running the command again works (a kill
    leaves at most the hidden folder, recorded as this device's in its `HalfMade` journal,
    which syncd's sweep removes).
    """
    blinded = blind(handle, vault.device.index_key)
    if any(_taken(vault, path) for path in index_paths(vault.root, blinded)):
        raise HandleTaken("")
    with vault.write_lock.shared():
        return _add_client(vault, handle, name, dob, blinded, on_created)


def _add_client(
    vault: Indexed,
    handle: str,
    name: str | None,
    dob: str | None,
    blinded: str,
    on_created: Callable[[str], None] | None,
) -> str:
    client_id = new_id()
    # Named for the client too: another machine adding this handle while apart writes
    # a file of its own, and readers see both (resolve).
    index_path = vault.root / "index" / index_name(blinded, client_id)
    folder = vault.keyring.client_dir(client_id)
    staging = folder.with_name(f"{ADDING}{client_id}")
    try:
        with vault.half_made.making(staging):
            profile = _stage_client(vault, staging, client_id, Profile(client_id, handle, name, dob))
            try:
                os.rename(staging, folder)
            except OSError as exc:
                raise WriteFailed(folder, reason(exc)) from exc
        durable.fsync_dir(folder.parent)
        if on_created is not None:
            on_created(client_id)
        try:
            durable.write_new(index_path, index_record(blinded, client_id, vault.device))
        except FileExistsError:
            raise HandleTaken(" (another machine took it a moment ago)") from None
    except BaseException:
        for made in (staging, folder):
            shutil.rmtree(made, ignore_errors=True)
        raise
    profile = folder / profile.relative_to(staging)
    vault.audit.append(
        "seal",
        client=client_id,
        note=PROFILE_RECORD_ID,
        revision=1,
        final=False,
        file=str(profile.relative_to(vault.root)),
        sha256=hashlib.sha256(profile.read_bytes()).hexdigest(),
    )
    access = folder / "access" / f"{vault.device.practitioner_id}.sealed"
    vault.audit.append(
        "client-add",
        client=client_id,
        files=ledger.files(vault.root, access, index_path),
        sha256=ledger.digest(folder / "client.json"),  # what a retire of this device checks it by
    )
    return client_id


def _stage_client(vault: Indexed, staging: Path, client_id: str, profile: Profile) -> Path:
    """Write a new client's key records and first profile revision into ``staging``;
    returns the profile revision's path."""
    key = PrivateKey.generate()
    durable.write_new(
        staging / "client.json",
        client_record(client_id, key.public_key, vault.device, stamp(vault.clock())),
    )
    # Only the practitioner adding the client reads it; colleagues by `access grant`.
    own = vault.device.practitioner_id
    owner_key = vault.keyring.practitioner_box_keys()[own]
    durable.write_new(staging / "access" / f"{own}.sealed", SealedBox(owner_key).encrypt(bytes(key)))
    body = profile.to_bytes()
    header = revision_format.RevisionHeader(
        client_id, PROFILE_RECORD_ID, 1, vault.device.device_id, "profile", False,
        stamp(vault.clock()), sealing.content_mac(vault.device.index_key, body),
    )  # fmt: skip
    data, file_key = revision_format.seal(header, body, key.public_key, vault.device)
    path = staging / "records" / PROFILE_RECORD_ID / revisions.file_name(1, vault.device.device_id)
    durable.write_new(path, data)
    sealing.read_back(path, data, file_key, body)
    return path


def resolve(vault: Indexed, handle: str, own: bool = False) -> str:
    """Client id for a handle, without a passphrase (through the blinded index).

    Two machines that added one handle while apart made two clients of it. Then
    ``HANDLE@<start of a client id>`` says which; without it, the one this device's
    practitioner can read is taken if only one is; else `HandleAmbiguous`, and nothing
    is guessed (so syncd never seals into the other practitioner's client).

    ``own``: for writing (`new`, `check`, `seal`, syncd): only a client this device's
    practitioner holds a key to. A handle that names only a colleague's client is
    `HandleNotYours`: a note sealed there would be unreadable to its author."""
    handle, _, pick = handle.partition("@")
    candidates: list[str] = []
    for path in index_paths(vault.root, blind(handle, vault.device.index_key)):
        client_id = _client_of(vault, path)
        if client_id and client_id not in candidates:  # "": refused (verify names it)
            candidates.append(client_id)
    if not candidates:
        raise UnknownClient("")
    present = [c for c in candidates if vault.keyring.client_dir(c).exists()]
    if not present:
        raise UnknownClient(" (its records are gone: purged or not yet synced)")
    mine = vault.device.practitioner_id
    readable = [c for c in present if mine in vault.keyring.access_holders(c)]
    if pick:
        chosen = [c for c in present if c.startswith(pick.lower())]
        if len(chosen) != 1:
            raise UnknownClient(f" and a client id starting {pick}")
        if own and chosen[0] not in readable:
            raise HandleNotYours(chosen[0][:6], handle, chosen[0][:6])
        return chosen[0]
    if len(present) == 1 and not own:
        return present[0]
    if len(readable) == 1:
        return readable[0]
    if own and not readable:
        theirs = ", ".join(c[:6] for c in present)
        raise HandleNotYours(theirs, handle, present[0][:6])
    within = readable or present
    raise HandleAmbiguous(len(within), ", ".join(within), within[0][:6])


def _client_of(vault: Indexed, path: Path) -> str:
    """`read_index_record`, remembered while the file and the registered devices are
    unchanged: syncd resolves a handle for every save, and checking a signature each time
    was a tenth of a seal. A file replaced or rewritten has another inode, size or ctime."""
    keys = vault.trust.device_keys()
    try:
        info = path.stat()
        seen = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    except OSError:
        seen = None  # read_index_record says what is wrong
    cached = vault.index_seen.get(path)
    if seen is not None and cached is not None and cached[0] == seen and cached[1] is keys:
        return cached[2]
    client_id, device_id = read_index_entry(path, keys)
    why = index_refusal(vault, path, client_id, device_id)
    if why:
        client_id = ""
    if seen is not None:
        vault.index_seen[path] = (seen, keys, client_id)
    return client_id


def _taken(vault: Indexed, path: Path) -> bool:
    """Whether an index entry takes its handle: a refused one does not (a revoked colleague's
    machine cannot reserve handles), a damaged one does until verify's report is acted on."""
    try:
        return bool(_client_of(vault, path))
    except TamperedFile:
        return True


INDEX_FIX = "the handle is not taken to mean that client: remove the file"


def index_refusal(vault: Indexed, path: Path, client_id: str, device_id: str) -> str:
    """Why an index entry is not believed ("" if it is): its device's practitioner was not
    entitled to write the client it names, at the time the ledger recorded it written (now,
    if no entry did). A revoked colleague's machine cannot point a handle at a client, so it
    cannot make another client's handle ambiguous, nor steer a note into the wrong client."""
    judge = Judge(vault.keyring, client_id)
    try:
        if judge.owns(device_id):
            return ""
    except TamperedFile:
        return ""  # client.json does not check: nothing of the client opens; verify names it
    written = ledger.writers(vault.audit.entries()).get(str(path.relative_to(vault.root)))
    own = written is not None and written.device == device_id
    at = written.time if written is not None and own else stamp(vault.clock())
    return judge.device(device_id, at, "handle index entry", INDEX_FIX, written if own else None)


def upgrade_index(vault: Indexed) -> list[Path]:
    """A format-1 handle-index entry (``<blinded>.json``) that two machines wrote while
    apart comes back as a sync engine's conflict copy: file the copy's client under its
    own name (``<blinded>-<cid>.json``, recorded in the ledger) and remove the copy.
    Returns the entries written. syncd runs it with its leftover sweep.

    The entry keeps the bytes its own machine signed (a record names no file, so they
    check under the new name): the authority to point the handle at the client stays that
    machine's, whichever machine files it."""
    folder = vault.root / "index"
    written = []
    for copy in sorted(folder.iterdir()) if folder.is_dir() else []:
        if sync_artefacts.kind(copy.name) != "conflict":
            continue
        try:
            client_id, device_id = read_index_entry(copy, vault.trust.device_keys())
        except TamperedFile:
            continue  # verify reports it
        if index_refusal(vault, copy, client_id, device_id):
            continue  # verify reports it
        blinded = sync_artefacts.original_name(copy.name).removesuffix(".json")
        target = folder / index_name(blinded, client_id)
        if not target.exists():
            with vault.write_lock.shared():
                durable.write_new(target, copy.read_bytes())
            vault.audit.append("index-upgrade", client=client_id, files=ledger.files(vault.root, target))
            written.append(target)
        copy.unlink()
        durable.fsync_dir(folder)
    return written
