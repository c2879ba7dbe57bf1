"""Client records: the public key, the sealed private key per practitioner, the handle index.

Names, handles and birth dates live only inside the client's encrypted profile (a
record sealed like a note). syncd must still find a client from the handle in a note's
front matter without any passphrase, so the vault keeps a *blinded* handle index:
``index/<BLAKE2b(handle, key=index_key)>.json`` -> client id. The index key lives in each
device's key file (outside the vault) and, sealed to each practitioner, in the vault.

What that exposes: the vault alone reveals nothing of a handle. Someone holding both the
vault and a device's key file can test guessed handles one by one (not names or notes);
handles should therefore be pseudonyms, and the device file stays at mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.public import PublicKey
from nacl.signing import VerifyKey

from ..errors import InvalidHandle, TamperedFile
from ..format import key_generations, sync_artefacts
from ..format.constants import (
    CLIENT_FORMAT,
    CLIENT_KEY_FORMAT,
    HANDLE_BLIND_BYTES,
    HANDLE_BLIND_PERSON,
    HANDLE_INDEX_FORMAT,
    JSON_FORMAT_VERSION,
)
from ..format.encoding import b64, canonical, is_id, unb64
from ..format.key_generations import Generation
from ..format.keys import Device, check_record, sign_record

HANDLE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PROFILE_RECORD_ID = "0" * 16  # the profile is sealed as record 0000000000000000


@dataclass(frozen=True, repr=False)
class Profile:
    """Who a client is. Decrypted only in memory; never logged (hence the repr)."""

    client_id: str
    handle: str
    name: str | None = None
    dob: str | None = None
    closed_on: str | None = None

    def __repr__(self) -> str:
        return f"<Profile {self.client_id}>"

    def to_bytes(self) -> bytes:
        return canonical(
            {"handle": self.handle, "name": self.name, "dob": self.dob, "closed_on": self.closed_on}
        )

    @classmethod
    def from_bytes(cls, client_id: str, data: bytes) -> Profile:
        fields = json.loads(data)
        return cls(
            client_id,
            fields["handle"],
            fields.get("name"),
            fields.get("dob"),
            fields.get("closed_on"),
        )


def normalize_handle(handle: str) -> str:
    """Handles compare case-insensitively; refuse anything that is not a plain token."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.match(handle):
        raise InvalidHandle()
    return handle.casefold()


def blind(handle: str, index_key: bytes) -> str:
    return hashlib.blake2b(
        normalize_handle(handle).encode(),
        key=index_key,
        digest_size=HANDLE_BLIND_BYTES,
        person=HANDLE_BLIND_PERSON,
    ).hexdigest()


def _public_key_record(
    fmt: str, client_id: str, public: PublicKey, device: Device, created: str, **extra: Any
) -> bytes:
    record = {
        "format": fmt,
        "version": JSON_FORMAT_VERSION,
        "client_id": client_id,
        "box_public": b64(bytes(public)),
        "created": created,
        "device": device.device_id,
        **extra,
    }
    return sign_record(record, device.sign)


def _box_public(record: dict[str, Any], path: Path) -> PublicKey:
    try:
        return PublicKey(unb64(record.get("box_public"), 32))
    except ValueError as exc:
        raise TamperedFile(path, "client public key is damaged") from exc


def client_record(client_id: str, public: PublicKey, device: Device, created: str) -> bytes:
    return _public_key_record(CLIENT_FORMAT, client_id, public, device, created)


def read_first_generation(path: Path, device_keys: dict[str, VerifyKey]) -> Generation:
    """Generation 1 (client.json), with the device that made the client."""
    record = check_record(path, CLIENT_FORMAT, device_keys)
    if record.get("client_id") != path.parent.name:
        raise TamperedFile(path, "client record was moved from another client's folder")
    return Generation(
        key_generations.FIRST,
        _box_public(record, path),
        (),
        None,
        by=str(record["device"]),
        made=str(record.get("created", "")),
    )


def key_record(client_id: str, generation: Generation, device: Device, created: str) -> bytes:
    """A newer key pair for a client (a revoke or a merge): revisions from now on are sealed
    to it. ``generation`` is the number, ``after``, ``holders`` and ``revoked`` it names."""
    return _public_key_record(
        CLIENT_KEY_FORMAT,
        client_id,
        generation.public,
        device,
        created,
        generation=generation.number,
        after=list(generation.after),
        holders=sorted(generation.holders or ()),
        revoked=sorted(generation.revoked),
    )


def read_key_record(path: Path, device_keys: dict[str, VerifyKey]) -> Generation:
    """A generation, if a registered device signed it for this client under this very name
    (``<NNNNNN>-<did>.json`` by device ``did``; an older vault's ``<NNNNNN>.json``)."""
    record = check_record(path, CLIENT_KEY_FORMAT, device_keys)
    match = key_generations.KEY_NAME.match(path.name)
    gid = match[1] if match else ""
    if (
        not match
        or record.get("client_id") != path.parent.parent.name
        or record.get("generation") != int(gid[:6])
        or ("-" in gid and record.get("device") != gid[7:])
    ):
        raise TamperedFile(path, "client key record was moved, renamed or is out of order")
    public = _box_public(record, path)
    made = str(record.get("created", ""))
    if "-" not in gid:  # an older vault's: after the one before it, held as its files say
        return Generation(
            gid, public, key_generations.legacy_after(gid), None, by=str(record["device"]), made=made
        )
    after, holders, revoked = (_ids(record.get(name), path) for name in ("after", "holders", "revoked"))
    return Generation(gid, public, after, frozenset(holders), frozenset(revoked), str(record["device"]), made)


def _ids(value: object, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TamperedFile(path, "client key record is damaged")
    return tuple(value)


def index_record(blinded: str, client_id: str, device: Device) -> bytes:
    record = {
        "format": HANDLE_INDEX_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "blinded_handle": blinded,
        "client_id": client_id,
        "device": device.device_id,
    }
    return sign_record(record, device.sign)


def index_name(blinded: str, client_id: str) -> str:
    """``<blinded>-<client id>.json``: named for its client too, so two machines that add one
    handle while apart write two files, not one file twice (format 1 wrote ``<blinded>.json``)."""
    return f"{blinded}-{client_id}.json"


def read_index_record(path: Path, device_keys: dict[str, VerifyKey]) -> str:
    """The client id of an index entry; its name must be the one its record states (a sync
    engine's conflict copy of a format-1 entry is read under the name it was copied from)."""
    return read_index_entry(path, device_keys)[0]


def read_index_entry(path: Path, device_keys: dict[str, VerifyKey]) -> tuple[str, str]:
    """`read_index_record`, and the device that signed the entry."""
    record = check_record(path, HANDLE_INDEX_FORMAT, device_keys)
    client_id, blinded = record.get("client_id"), record.get("blinded_handle")
    name = sync_artefacts.original_name(path.name)
    if not is_id(client_id) or name not in (f"{blinded}.json", index_name(str(blinded), str(client_id))):
        raise TamperedFile(path, "handle index entry was moved or damaged")
    return str(client_id), str(record.get("device"))


def index_paths(root: Path, blinded: str) -> list[Path]:
    """Every index entry of one blinded handle: each client's (``<blinded>-<cid>.json``), a
    format-1 entry (``<blinded>.json``), and sync engines' conflict copies of that one."""
    folder = root / "index"
    if not folder.is_dir():
        return []
    old = f"{blinded}.json"
    return sorted(
        p
        for p in folder.glob(f"{blinded}*.json")
        if p.name == old
        or (p.name.startswith(f"{blinded}-") and not sync_artefacts.is_artefact(p.name))
        or (sync_artefacts.kind(p.name) == "conflict" and sync_artefacts.original_name(p.name) == old)
    )
