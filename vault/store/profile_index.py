"""A practitioner's index of the client profiles they may read, so `client list` and the
names in `retention status` and `status` decrypt one file, not one profile per client.

``<config dir>/<practice>/index/profiles.<practitioner>.sealed``: per client, whether the
practitioner holds an access file of it and, if so, the profile (handle, name, date of
birth, closed on), with two stamps of the two folders they were read from (the profile's
revision files and the client's access files). The listing stamp: their names, which
change whenever a profile revision or an access file is added, removed or replaced by
another device's, since each file is written once under its own name. The stat stamp:
each folder's inode, mtime and ctime, which a rename into it or a removal changes too, and
which costs a stat, not a listing (5,000 clients: 10,000 listings were a third of
`retention status`). A folder changed in the last ``RACY_SECONDS`` gets no stat stamp (a
change in the same clock tick can leave its mtime as it was: the "racy" case of git's
index), so the listing decides there. A client whose stamps both differ is read from its
signed, sealed files again, as without the index. Sealed (XSalsa20-Poly1305)
under a key only the unlocked practitioner has (derived from their private key): the
device key alone does not open it. It lives outside the vault and its backups, so no sync
engine carries it; a file that does not open is rebuilt, never believed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.secret import SecretBox

from ..format.encoding import canonical
from ..format.keys import Practitioner
from .clients import Profile

VERSION = 2  # 2: a stat stamp beside the listing's; clients not readable kept too
_PERSON = b"casenotes-profs"
RACY_SECONDS = 2.0  # mtimes are in clock ticks (2 s on FAT): a folder changed since is listed


def index_file(folder: Path, practitioner: Practitioner) -> Path:
    return folder / f"profiles.{practitioner.practitioner_id}.sealed"


def _box(practitioner: Practitioner) -> SecretBox:
    secret = bytes(practitioner.box_key)
    return SecretBox(hashlib.blake2b(b"", key=secret, digest_size=32, person=_PERSON).digest())


def names_in(folder: str | Path) -> list[str] | None:
    """The names in a folder, sorted (None: no such folder)."""
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return None


def stat_stamp(*folders: str) -> str:
    """What a rename into or a removal from these folders changes, from their stat ("": one
    changed in the last RACY_SECONDS, too recently to tell; it matches no stamp kept)."""
    parts = []
    newest = 0
    for folder in folders:
        try:
            st = os.stat(folder)
        except (FileNotFoundError, NotADirectoryError):
            parts.append("-")
            continue
        parts.append(f"{st.st_ino}.{st.st_mtime_ns}.{st.st_ctime_ns}")
        newest = max(newest, st.st_mtime_ns)  # what a change of its entries sets to the tick it is in
    if newest >= (time.time() - RACY_SECONDS) * 1e9:
        return ""
    return "/".join(parts)


def stamp(*listings: list[str] | None) -> str:
    """What changes when a file is added to, removed from or renamed in these folders."""
    parts = ["-" if names is None else "\0".join(names) for names in listings]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class ProfileIndex:
    def __init__(self, path: Path, practitioner: Practitioner) -> None:
        self.path = path
        self.box = _box(practitioner)
        # client -> [stat stamp, listing stamp, handle, name, dob, closed_on]; for a client
        # whose access files the practitioner holds none of: [stat stamp, listing stamp]
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        try:
            raw = json.loads(self.box.decrypt(path.read_bytes()))
            if raw.get("version") == VERSION and isinstance(raw.get("clients"), dict):
                self.entries = raw["clients"]
        except (OSError, ValueError, nacl.exceptions.CryptoError, AttributeError):
            self.changed = True  # none yet, or damaged or forged: rebuilt as profiles are read

    def get(self, client_id: str, quick: str, listed: Callable[[], str]) -> tuple[Profile | bool | None, str]:
        """The client's profile (False: the practitioner holds no access file of it; None:
        not known at these stamps: read it, then `put` it), and the listing stamp. ``quick``:
        the folders' `stat_stamp`; ``listed``: their listing stamp, made only if that differs."""
        known = self.entries.get(client_id)
        if not isinstance(known, list) or len(known) not in (2, 6):
            return None, listed()
        if quick and known[0] == quick:
            return self._value(client_id, known), str(known[1])
        listing = listed()
        if known[1] != listing:
            return None, listing
        if known[0] != quick:
            known[0] = quick  # the same names: the folder's stat is the one to compare next time
            self.changed = True
        return self._value(client_id, known), listing

    @staticmethod
    def _value(client_id: str, known: list[Any]) -> Profile | bool:
        return False if len(known) == 2 else Profile(client_id, *known[2:])

    def put(self, client_id: str, profile: Profile | None, quick: str, listing: str) -> None:
        """What the client's files said at these stamps (None: not readable here)."""
        entry: list[Any] = [quick, listing]
        if profile is not None:
            entry += [profile.handle, profile.name, profile.dob, profile.closed_on]
        if self.entries.get(client_id) != entry:
            self.entries[client_id] = entry
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
