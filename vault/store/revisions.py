"""Revision files: their names, where they lie, listing, loading, checking and opening them.

``clients/<cid>/records/<nid>/<rev>-<did>.rev``: one sealed revision of a note (record
0…0 is the client's profile), written once by the device ``did``. The name is made here
(`file_name`) and parsed here (`REVISION_NAME`), and nowhere else. Sealing, reading,
forks and verify take a `Revisions` (or the functions below) rather than the `Vault`
that holds one: this module imports nothing of the store above it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from ..errors import TamperedFile
from ..format import revision as revision_format
from ..format.encoding import is_id
from ..format.redact import Plaintext
from . import leftovers
from .clients import PROFILE_RECORD_ID

REVISION_NAME = re.compile(r"^(\d{6})-([0-9a-f]{16})\.rev$")
#: (revision number, device id, path) of one revision file.
Revision = tuple[int, str, Path]
#: Revisions whose signature was checked before they were needed (Revisions.check_early), by
#: path: the bytes as checked, the device key that checked them, and the file's stat then.
Checked = dict[Path, tuple[revision_format.ParsedRevision, VerifyKey, tuple[int, ...]]]


def file_name(number: int, device_id: str) -> str:
    """The name of revision ``number`` of a note, sealed by ``device_id``."""
    return f"{number:06d}-{device_id}.rev"


def listing(folder: Path) -> list[Revision]:
    """The revision files in one note's folder, oldest first, from one listing of it."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        match = REVISION_NAME.match(name)
        if match:
            found.append((int(match[1]), match[2], folder / name))
    return sorted(found)


def file_stat(path: Path) -> tuple[int, ...]:
    """What changes when a file is rewritten or replaced (ctime cannot be set back)."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def load(
    path: Path, device_keys: Mapping[str, VerifyKey], checked: Checked | None = None
) -> revision_format.ParsedRevision:
    """A revision, parsed and its signature checked against its device's registered key.

    A revision ``checked`` ahead is taken as checked if its device's key is still the one
    that checked it and the file was not changed since (else it is read and checked again,
    and so reported)."""
    ahead = checked.get(path) if checked else None
    if (
        ahead is not None
        and device_keys.get(ahead[0].header.device) == ahead[1]
        and file_stat(path) == ahead[2]
    ):
        return ahead[0]
    parsed = revision_format.parse(path.read_bytes(), path)
    key = device_keys.get(parsed.header.device)
    if key is None:
        raise TamperedFile(path, "signed by an unregistered device (forged?)")
    revision_format.check_signature(parsed, path, key)
    return parsed


def check_place(parsed: revision_format.ParsedRevision, path: Path) -> None:
    """The header must name the folder and file the revision lies in."""
    match = REVISION_NAME.match(path.name)
    h = parsed.header
    in_profile_folder = path.parent.name == PROFILE_RECORD_ID
    if (
        h.client != path.parent.parent.parent.name
        or h.note != path.parent.name
        or (h.kind == "profile") != in_profile_folder
    ):
        raise TamperedFile(path, "revision belongs to another client or note (moved or swapped)")
    if not match or int(match[1]) != h.revision or match[2] != h.device:
        raise TamperedFile(path, "revision number does not match its file (renamed or swapped)")


def decrypt(parsed: revision_format.ParsedRevision, path: Path, client_keys: list[PrivateKey]) -> Plaintext:
    """The body, with whichever of the client's keys (oldest first) sealed it."""
    for key in client_keys[:-1]:
        try:
            return revision_format.decrypt(parsed, key, path)
        except TamperedFile:
            continue  # sealed under another generation of the client's key
    return revision_format.decrypt(parsed, client_keys[-1], path)


class Revisions:
    """The revision files of one vault, checked against the devices registered in it."""

    def __init__(self, root: Path, device_keys: Callable[[], Mapping[str, VerifyKey]]) -> None:
        self.root = root
        self.device_keys = device_keys

    def client_dir(self, client_id: str) -> Path:
        return self.root / "clients" / client_id

    def folder(self, client_id: str, note_id: str) -> Path:
        return self.client_dir(client_id) / "records" / note_id

    def path(self, client_id: str, note_id: str, number: int, device_id: str) -> Path:
        """Where revision ``number`` of a note, sealed by ``device_id``, is written."""
        return self.folder(client_id, note_id) / file_name(number, device_id)

    def of(self, client_id: str, note_id: str) -> list[Revision]:
        """(revision, device, path) of one note's revision files, oldest first."""
        return listing(self.folder(client_id, note_id))

    def client_ids(self) -> list[str]:
        folder = os.path.join(self.root, "clients")
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        # Strings, not Paths: a career's 5,000 clients are listed by every status line.
        return sorted(e.name for e in entries if is_id(e.name) and leftovers.is_client_folder(e.path))

    def note_ids(self, client_id: str) -> list[str]:
        folder = self.client_dir(client_id) / "records"
        if not folder.exists():
            return []
        return sorted(p.name for p in folder.iterdir() if is_id(p.name) and p.name != PROFILE_RECORD_ID)

    def load(self, path: Path) -> revision_format.ParsedRevision:
        return load(path, self.device_keys())

    def check_early(
        self, path: Path, device_keys: Mapping[str, VerifyKey]
    ) -> tuple[revision_format.ParsedRevision, VerifyKey, tuple[int, ...]] | None:
        """A revision's signature checked before it is needed: the entry of `Checked` that
        `load` takes later, or None if it fails now (to fail again, and be reported, when it
        is read) or changed while it was read."""
        try:
            before = file_stat(path)
            parsed = load(path, device_keys)
        except (OSError, TamperedFile):
            return None
        if file_stat(path) != before:  # being written while it was read
            return None
        return parsed, device_keys[parsed.header.device], before

    def open(
        self, path: Path, client_keys: list[PrivateKey], parsed: revision_format.ParsedRevision | None = None
    ) -> tuple[revision_format.ParsedRevision, Plaintext]:
        """Check (signature, place) and decrypt one revision; ``parsed``: already loaded."""
        parsed = parsed or self.load(path)
        check_place(parsed, path)
        return parsed, decrypt(parsed, path, client_keys)
