"""A practitioner's index of the client profiles they may read, so `client list` and the
names in `retention status` and `status` decrypt one file, not one profile per client.

``<config dir>/<practice>/index/profiles.<practitioner>.sealed``: per client, the profile
(handle, name, date of birth, closed on) with a stamp of the two folders it was read from
(the profile's revision files and the client's access files; their names change whenever
a profile revision or an access file is added, removed or replaced by another device's,
since each file is written once under its own name). A client whose stamp differs is read
from its signed, sealed files again, as without the index. Sealed (XSalsa20-Poly1305)
under a key only the unlocked practitioner has (derived from their private key): the
device key alone does not open it. It lives outside the vault and its backups, so no sync
engine carries it; a file that does not open is rebuilt, never believed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.secret import SecretBox

from ..format.encoding import canonical
from ..format.keys import Practitioner
from .clients import Profile

VERSION = 1
_PERSON = b"casenotes-profs"


def index_file(folder: Path, practitioner: Practitioner) -> Path:
    return folder / f"profiles.{practitioner.practitioner_id}.sealed"


def _box(practitioner: Practitioner) -> SecretBox:
    secret = bytes(practitioner.box_key)
    return SecretBox(hashlib.blake2b(b"", key=secret, digest_size=32, person=_PERSON).digest())


def names_in(folder: Path) -> list[str] | None:
    """The names in a folder, sorted (None: no such folder)."""
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return None


def stamp(*listings: list[str] | None) -> str:
    """What changes when a file is added to, removed from or renamed in these folders."""
    parts = ["-" if names is None else "\0".join(names) for names in listings]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class ProfileIndex:
    def __init__(self, path: Path, practitioner: Practitioner) -> None:
        self.path = path
        self.box = _box(practitioner)
        self.entries: dict[str, list[Any]] = {}  # client -> [stamp, handle, name, dob, closed_on]
        self.changed = False
        try:
            raw = json.loads(self.box.decrypt(path.read_bytes()))
            if raw.get("version") == VERSION and isinstance(raw.get("clients"), dict):
                self.entries = raw["clients"]
        except (OSError, ValueError, nacl.exceptions.CryptoError, AttributeError):
            self.changed = True  # none yet, or damaged or forged: rebuilt as profiles are read

    def get(self, client_id: str, client_stamp: str) -> Profile | None:
        known = self.entries.get(client_id)
        if not isinstance(known, list) or len(known) != 5 or known[0] != client_stamp:
            return None
        return Profile(client_id, *known[1:])

    def put(self, profile: Profile, client_stamp: str) -> None:
        self.entries[profile.client_id] = [
            client_stamp,
            profile.handle,
            profile.name,
            profile.dob,
            profile.closed_on,
        ]
        self.changed = True

    def keep_only(self, client_ids: set[str]) -> None:
        for client_id in set(self.entries) - client_ids:
            del self.entries[client_id]
            self.changed = True

    def save(self) -> None:
        """Atomic, not durable (a cache: lost, it is rebuilt); a disk that refuses is no error."""
        if not self.changed:
            return
        from .. import durable

        try:
            durable.make_dirs(self.path.parent)
            data = self.box.encrypt(canonical({"version": VERSION, "clients": self.entries}))
            durable.replace(self.path, data, sync=False)
        except OSError:
            return
        self.changed = False
