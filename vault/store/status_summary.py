"""A per-device summary kept beside a stamp of everything it was made from, so `status`
at a career's size (5,000 clients) answers "nothing changed" without loading the facts
index or merging any client's facts.

The audit logs are followed as the facts index follows them (the offset and the hash of the
last line): a log that gained only lines that record a reading, an unlock or a backup
(`READ_EVENTS`) still holds the summary; any other line makes it again. The stamp is a
digest of: what the caller says the summary depends on besides the vault (the day, the
practice's rules, the device); the folders the authority of a fact is read from
(``devices``, ``practitioners``, ``revived``); the listing of ``clients/``; and, for each
client, the stat of its folder (its client.json written or removed), of its retention
folder (a facts file renamed in, as every writer and sync engine does) and of each facts
file in it (one written in place). ctime cannot be set back by copying a file with its
times: a file put back is a changed stamp. Nothing is believed unless the logs and the
stamp made now are those kept: an older summary put back, or another machine's (it opens
on every device of one practitioner), is made again; one that does not open (a bit
flipped) is no summary.

Where it lives: ``<config dir>/<practice>/index/status.<device>.sealed``, beside the facts
index, never synced or backed up, sealed (XSalsa20-Poly1305) under a key from the device's
index key. What it says is the caller's (retention/purge.py `glance`). Nothing destructive
reads it: it is what a status line shows.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.exceptions
from nacl.secret import SecretBox

from ..backup.scan import READS
from ..format import sync_artefacts
from ..format.encoding import canonical
from .facts_index import FactsIndex

if TYPE_CHECKING:
    from .vault import Vault

VERSION = 1
_PERSON = b"casenotes-status"  # the summary's key: the device's index key in its own domain
AUTHORITY_FOLDERS = ("devices", "practitioners", "revived")


#: Audit lines that record a reading, an unlock or a backup (those the backup's scan reads
#: past, and an opened site's or share's): they change nothing a summary says, so a log that
#: gained only these still holds it (`status` given the passphrase, `client list`, a backup
#: each add one). Any other line, one that does not parse, a new log, or a log that no
#: longer holds the last line followed, makes the summary again.
READ_EVENTS = READS | {"site-open", "site-close", "share-open"}


@dataclass(frozen=True)
class Summary:
    stamp: str
    files: dict[str, list[str]]  # client -> its facts files' names, as the stamp stat'ed them
    data: dict[str, Any]  # what the summary says (the caller's)
    logs: dict[str, list[Any]]  # log name -> [offset, last line's SHA-256] as the facts index marks it


def summary_path(vault: Vault) -> Path:
    return vault.device_dir / "index" / f"status.{vault.device.device_id}.sealed"


def _box(vault: Vault) -> SecretBox:
    key = hashlib.blake2b(b"", key=vault.device.index_key, digest_size=32, person=_PERSON).digest()
    return SecretBox(key)


def _stat(path: str, dir_fd: int | None = None) -> tuple[int, int, int, int] | None:
    """Inode, size, mtime and ctime: any write, rename in or out, or copy put back moves one."""
    try:
        st = os.stat(path, dir_fd=dir_fd)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stamp(vault: Vault, context: object, files: Mapping[str, Sequence[str]]) -> str:
    """The digest of everything a summary is made from (see the module docstring). ``files``:
    each client's facts files' names (a client not in it: none stat'ed, only its folders)."""
    root = str(vault.root)
    parts: list[object] = [VERSION, canonical(context).decode()]
    parts += [(name, _stat(os.path.join(root, name))) for name in AUTHORITY_FOLDERS]
    try:
        clients = os.open(os.path.join(root, "clients"), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return hashlib.blake2b(repr(parts).encode(), digest_size=32).hexdigest()
    try:
        names = sorted(os.listdir(clients))
        # 5,000 clients: 15,000 stats (relative to the folder: shorter lookups), the whole
        # cost of a status that finds nothing changed
        paths = []
        for name in names:
            paths += [name, f"{name}/retention", *(f"{name}/retention/{f}" for f in files.get(name, ()))]
        parts += names
        try:  # at once: a missing path (a client with no retention folder) is rare
            found = [os.stat(path, dir_fd=clients) for path in paths]
            parts += [(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) for st in found]
        except OSError:
            parts += [_stat(path, clients) for path in paths]
    finally:
        os.close(clients)
    return hashlib.blake2b(repr(parts).encode(), digest_size=32).hexdigest()


def followed(vault: Vault, marks: Mapping[str, list[Any]]) -> dict[str, list[Any]] | None:
    """The logs' marks now, if since ``marks`` they only gained lines of `READ_EVENTS` (a line
    still being written is followed next time); None if anything else moved."""
    logs = {path.name: path for path in sync_artefacts.glob(vault.audit.directory, "*.log")}
    if set(logs) != set(marks):
        return None
    found: dict[str, list[Any]] = {}
    for name, path in logs.items():
        offset, last = int(marks[name][0]), str(marks[name][1])
        if not FactsIndex._continues(path, [offset, last]):  # cut back, edited or replaced
            return None
        with open(path, "rb") as handle:
            handle.seek(offset)
            tail = handle.read()
        end = tail.rfind(b"\n") + 1
        for line in tail[:end].splitlines():
            try:
                if json.loads(line)["event"] not in READ_EVENTS:
                    return None
            except (ValueError, KeyError, TypeError):
                return None
            last = hashlib.sha256(line).hexdigest()
        found[name] = [offset + end, last]
    return found


def load(vault: Vault) -> Summary | None:
    """The kept summary, or None (none, or one that does not open: never believed)."""
    try:
        raw = json.loads(_box(vault).decrypt(summary_path(vault).read_bytes()))
        if raw.get("version") != VERSION:
            return None
        files = {str(k): list(v) for k, v in raw["files"].items()}
        logs = {str(k): [int(v[0]), str(v[1])] for k, v in raw["logs"].items()}
        return Summary(str(raw["stamp"]), files, dict(raw["data"]), logs)
    except (OSError, nacl.exceptions.CryptoError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(vault: Vault, summary: Summary) -> None:
    """Atomic, not durable (as the facts index): after a crash, the old one or none, and a
    stamp that no longer matches is made again; a disk that refuses is no error."""
    from .. import durable

    path = summary_path(vault)
    data = {
        "version": VERSION,
        "stamp": summary.stamp,
        "files": summary.files,
        "data": summary.data,
        "logs": summary.logs,
    }
    try:
        durable.make_dirs(path.parent)
        durable.replace(path, _box(vault).encrypt(canonical(data)), sync=False)
    except OSError:
        return
