"""A per-device index of the facts every client's retention is dated from, so the nightly
scan, `retention status` and `status` read what changed since they last ran, not the
whole audit log and every client's facts file.

What it holds, each exactly what a reader would find by reading everything:

- per audit log, how far it was folded in (byte offset, and the hash of the last line
  folded in, which is also the next line's ``prev``);
- per client, the latest session date of each template that seal entries carry (their
  sealed session facts opened once, when first folded in), or why one does not open;
- per client and device, the last ``retention-record`` write the log records (seq, SHA-256);
- the ``purge-begin`` lines (device, seq, client): a reader keeps those a device signed;
- per client, the devices that sealed into it (more than one: a fork is possible there);
- per retention facts file, its stat, SHA-256, seq and opened facts: reused while the
  stat is unchanged (a rewrite is a new inode: `durable.replace` renames a new file in);
- per client, its facts merged from every device's file and its session dates, with what
  they were merged from (each file's device and SHA-256, the session dates): reused while
  those are the same, so a scan merges again only the clients a seal or a write changed.
  Kept only for a client whose files ask no authority question (no hold; no other
  device's closing date, birth date or notice: `retention.records.asks_judge`), since
  what the ledger says can change with none of the client's files changing.

Where it lives: ``<config dir>/<practice>/index/facts.<device>.sealed``, beside the device
key, outside the vault and its backups: no sync engine ever carries it, so two machines
never write one file, and each machine's index follows what arrives (a log that grows is
folded in from where it was; one that shrank, or whose last folded line changed, is
folded again from its start). Sealed (XSalsa20-Poly1305) under a key derived from the
device's index key, as the facts it repeats are: syncd reads it after a reboot without the
passphrase. A file that does not open, or is of another version, is rebuilt, never
believed; `check` (run by `casenotes verify`) rebuilds it from everything and compares.

Nothing destructive trusts it: a purge reads the client's signed facts files and the
checked audit log before it acts (retention/purge.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.exceptions
from nacl.secret import SecretBox
from nacl.signing import VerifyKey

from ..format import retention_facts, sync_artefacts
from ..format.encoding import canonical
from .audit import Entry, read_tail, signed_entry
from .retention_files import FACTS_EVENT

if TYPE_CHECKING:
    from .vault import Vault

VERSION = 3  # 2: each logged facts write with its time; 3: each client's merged facts
_PERSON = b"casenotes-facts"  # the index key: the device's index key in its own domain
SEAL_EVENT = "seal"
PURGE_LINES = b'"event":"purge-'  # as vault/store/purged.py searches the logs for them
HEARD_EVENT = "retention-check"  # each device's nightly retention check (retention/group.py)
FOLDED = frozenset({SEAL_EVENT, FACTS_EVENT, "purge-begin", "supervise", HEARD_EVENT})  # what `fold` reads
#: Lines that change nothing here (an unlock, a backup, a 95 KB decrypt-profiles) are folded
#: again by the next reader rather than the whole index rewritten for them, up to this much.
UNSAVED_BYTES = 256 * 1024


def index_path(vault: Vault) -> Path:
    return vault.device_dir / "index" / f"facts.{vault.device.device_id}.sealed"


def _box(vault: Vault) -> SecretBox:
    key = hashlib.blake2b(b"", key=vault.device.index_key, digest_size=32, person=_PERSON).digest()
    return SecretBox(key)


@dataclass
class FileFacts:
    """One retention facts file as last read: its stat, digest, seq and opened facts."""

    stat: list[int]
    sha256: str
    seq: int
    facts: dict[str, Any]


@dataclass
class FactsIndex:
    logs: dict[str, list[Any]] = field(default_factory=dict)  # log name -> [offset, last line hash]
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # client -> template -> day
    damaged: dict[str, list[Any]] = field(default_factory=dict)  # client -> [device, seq]: a fact that failed
    written: dict[str, dict[str, list[Any]]] = field(
        default_factory=dict
    )  # client -> device -> [seq, sha, time, the log entry's seq]
    begun: list[list[Any]] = field(default_factory=list)  # [device, seq, client] of purge-begin lines
    sealers: dict[str, list[str]] = field(default_factory=dict)  # client -> devices that sealed into it
    purge_lines: dict[str, list[str]] = field(default_factory=dict)  # log name -> its purge lines, as written
    supervised: list[str] = field(default_factory=list)  # clients a `supervise` entry names
    heard: list[list[Any]] = field(default_factory=list)  # [seq, time, device, data] of retention checks
    files: dict[str, FileFacts] = field(default_factory=dict)  # facts file path -> as last read
    folders: dict[str, list[Any]] = field(default_factory=dict)  # retention folder -> [stat, names]
    #: client -> [[[device, file sha256], ...], session dates, merged facts] (see the docstring)
    merged: dict[str, list[Any]] = field(default_factory=dict)
    changed: bool = False
    key: bytes = b""  # the retention key the facts open with (never stored)
    unsaved: int = 0  # bytes of log lines folded since the index was read that changed nothing in it

    def to_bytes(self) -> bytes:
        return canonical(
            {
                "version": VERSION,
                "logs": self.logs,
                "sessions": self.sessions,
                "damaged": self.damaged,
                "written": self.written,
                "begun": self.begun,
                "sealers": self.sealers,
                "purge_lines": self.purge_lines,
                "supervised": self.supervised,
                "heard": self.heard,
                "files": {p: [f.stat, f.sha256, f.seq, f.facts] for p, f in self.files.items()},
                "folders": self.folders,
                "merged": self.merged,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FactsIndex | None:
        try:
            raw = json.loads(data)
            if raw.get("version") != VERSION:
                return None
            files = {
                p: FileFacts(list(s), str(h), int(q), dict(f)) for p, (s, h, q, f) in raw["files"].items()
            }
            return cls(
                raw["logs"],
                raw["sessions"],
                raw["damaged"],
                raw["written"],
                raw["begun"],
                raw["sealers"],
                raw["purge_lines"],
                raw["supervised"],
                raw["heard"],
                files,
                raw["folders"],
                raw["merged"],
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    # -- folding the audit log in ---------------------------------------------------------
    def fold(self, entry: Entry, key: bytes) -> None:
        client = str(entry.data.get("client"))
        if entry.event == SEAL_EVENT:
            sealers = self.sealers.setdefault(client, [])
            if entry.device not in sealers:
                sealers.append(entry.device)
            if retention_facts.SESSION_FIELD in entry.data and client not in self.damaged:
                self._session(entry, client, key)
        elif entry.event == FACTS_EVENT:
            self.written.setdefault(client, {})[entry.device] = [
                int(entry.data.get("seq", 0)),
                str(entry.data.get("sha256")),
                entry.time,  # a retired device's write after its retire is believed no more
                entry.seq,  # ... or beyond the last entry of its log the retiring machine had
            ]
        elif entry.event == "purge-begin":
            self.begun.append([entry.device, entry.seq, client])
        elif entry.event == "supervise" and client not in self.supervised:
            self.supervised.append(client)
        elif entry.event == HEARD_EVENT:
            self.heard.append([entry.seq, entry.time, entry.device, entry.data])

    def _session(self, entry: Entry, client: str, key: bytes) -> None:
        note = str(entry.data.get("note"))
        try:
            fact = retention_facts.open_session(entry.data[retention_facts.SESSION_FIELD], key, client, note)
            kind, day = str(fact["kind"]), _iso_day(fact["day"])
        except (ValueError, TypeError, KeyError, nacl.exceptions.CryptoError):
            self.damaged[client] = [entry.device, entry.seq]
            self.sessions.pop(client, None)
            return
        sessions = self.sessions.setdefault(client, {})
        if sessions.get(kind, "") < day:
            sessions[kind] = day

    def fold_logs(self, directory: Path, key: bytes) -> None:
        """Fold in what each log gained since the last time; a log that changed behind the
        folded part (cut back, edited, replaced) means everything is folded again."""
        logs = {path.name: path for path in sync_artefacts.glob(directory, "*.log")}
        if set(self.logs) - set(logs) or not all(self._continues(logs[n], m) for n, m in self.logs.items()):
            self.logs, self.sessions, self.damaged, self.written = {}, {}, {}, {}
            self.begun, self.sealers, self.purge_lines, self.supervised, self.heard = [], {}, {}, [], []
            self.changed = True
        for name, path in sorted(logs.items()):
            offset, last = self.logs.get(name, [0, ""])
            with open(path, "rb") as handle:
                handle.seek(offset)
                tail = handle.read()
            end = tail.rfind(b"\n") + 1  # a line still being written is folded next time
            if end == 0:
                continue
            mattered = False
            for line in tail[:end].splitlines():
                last = hashlib.sha256(line).hexdigest()
                if PURGE_LINES in line:  # kept as written: a reader checks each one's signature
                    self.purge_lines.setdefault(name, []).append(line.decode("utf-8", "replace"))
                    mattered = True
                try:
                    e = json.loads(line)
                    self.fold(Entry(e["seq"], e["time"], e["device"], e["event"], e["data"]), key)
                    mattered = mattered or e["event"] in FOLDED
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # as every reader of the log skips it (verify reports it)
            self.logs[name] = [offset + end, last]
            self.unsaved += end
            self.changed = self.changed or mattered or self.unsaved > UNSAVED_BYTES

    @staticmethod
    def _continues(path: Path, mark: list[Any]) -> bool:
        """Whether the log still holds, where it was, the last line folded in."""
        offset, last = int(mark[0]), str(mark[1])
        try:
            with open(path, "rb") as handle:
                if offset == 0:
                    return True
                if os.fstat(handle.fileno()).st_size < offset:
                    return False
                # the whole line, however long (a 5,000-client decrypt-profiles is 95 KB)
                start, chunk = read_tail(handle.fileno(), offset)
        except OSError:
            return False
        if len(chunk) != offset - start or not chunk.endswith(b"\n"):
            return False
        line = chunk[:-1].rsplit(b"\n", 1)[-1]
        return hashlib.sha256(line).hexdigest() == last

    # -- the facts files ------------------------------------------------------------------
    def facts_files(self, root: Path, client_id: str) -> list[str]:
        """`retention_files.facts_files`: listed again only when the folder's stat changed (a
        file put in or taken out, each write a rename into it, changes the folder's mtime)."""
        folder = os.path.join(root, "clients", client_id, "retention")
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            return []
        stat = [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]
        known = self.folders.get(folder)
        if known is None or known[0] != stat:
            names = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
            known = self.folders[folder] = [stat, names]
            self.changed = True
        return [os.path.join(folder, name) for name in known[1]]

    def facts_file(self, path: str, key: bytes) -> FileFacts:
        """One retention facts file, opened (AEAD, no signature: as the scan reads it), or
        as last read while its stat is unchanged. Raises what opening it raises."""
        st = os.stat(path)
        stat = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        known = self.files.get(path)
        if known is not None and known.stat == stat:
            return known
        with open(path, "rb") as handle:
            data = handle.read()
        record = retention_facts.unsigned_record(data, path)
        *_, client_id, _, name = path.split(os.sep)
        seq, facts = retention_facts.open_facts(record, key, client_id, name.removesuffix(".json"), path)
        found = FileFacts(stat, hashlib.sha256(data).hexdigest(), seq, dict(facts))
        self.files[path] = found
        self.changed = True
        return found

    def forget_missing(self, clients: Iterable[str], root: Path | str) -> None:
        """Drop what the index holds of files and clients no longer in the vault at ``root``
        (files are named by their whole path: a practice moved, or reached by another path,
        would otherwise keep every file's entry under each path it was ever read by)."""
        keep = set(clients)
        under = os.path.join(root, "clients", "")
        gone = [p for p in self.files if not p.startswith(under) or p.split(os.sep)[-3] not in keep]
        for path in gone:
            del self.files[path]
        folders = [p for p in self.folders if not p.startswith(under) or p.split(os.sep)[-2] not in keep]
        for path in folders:
            del self.folders[path]
        merged = [client for client in self.merged if client not in keep]
        for client in merged:
            del self.merged[client]
        self.changed = self.changed or bool(gone) or bool(folders) or bool(merged)

    # -- each client's merged facts -------------------------------------------------------
    def merged_facts(
        self, client_id: str, files: list[list[str]], sessions: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """The client's merged facts as kept, if merged from exactly these files ([device,
        SHA-256] each, in the folder's order) and these session dates; else None."""
        kept = self.merged.get(client_id)
        if kept is None or kept[0] != files or kept[1] != sessions:
            return None
        return dict(kept[2])

    def keep_merged(self, client_id: str, entry: list[Any] | None) -> None:
        """Keep [files, session dates, merged facts] as `merged_facts` reads them (None: keep
        nothing of the client: what was kept is not what its files say now)."""
        if entry is None:
            self.changed = self.merged.pop(client_id, None) is not None or self.changed
        elif self.merged.get(client_id) != entry:
            self.merged[client_id] = entry
            self.changed = True

    # -- what readers ask -----------------------------------------------------------------
    def shared(self) -> list[str]:
        """Clients into which more than one device sealed: the only ones a fork can be in
        (each device writes its own revision files, each audited by a seal entry)."""
        return sorted(client for client, devices in self.sealers.items() if len(devices) > 1)

    def signed_purges(self, device_keys: Mapping[str, VerifyKey]) -> list[Entry]:
        """`purged.signed` from the kept lines: those a registered device signed, in each
        log's order, the logs in name order (as `audit.signed_entries` finds them)."""
        found = []
        for name in sorted(self.purge_lines):
            for line in self.purge_lines[name]:
                entry = signed_entry(line.encode(), dict(device_keys))
                if entry is not None:
                    found.append(entry)
        return found

    def heard_entries(self) -> list[Entry]:
        """Every device's nightly retention checks, as `audit.entries()` would give them
        (unverified, as those are): all a group practice's devices and its purger are read from."""
        return [Entry(seq, time, device, HEARD_EVENT, data) for seq, time, device, data in self.heard]

    def purged(self, signed: Iterable[Entry]) -> set[str]:
        """Clients a purge began on, counting only the lines a registered device signed: the
        client too, not the device and number alone (a line nobody signed may borrow them)."""
        real = {(e.device, e.seq, str(e.data.get("client"))) for e in signed if e.event == "purge-begin"}
        return {str(client) for device, seq, client in self.begun if (device, seq, str(client)) in real}


def _iso_day(value: object) -> str:
    import datetime as dt

    return dt.date.fromisoformat(str(value)).isoformat()


def load(vault: Vault) -> FactsIndex:
    """This device's index brought up to date with the audit logs (not yet saved)."""
    found: FactsIndex | None = None
    path = index_path(vault)
    try:
        found = FactsIndex.from_bytes(_box(vault).decrypt(path.read_bytes()))
    except (OSError, nacl.exceptions.CryptoError, ValueError):
        found = None  # none yet, or damaged or forged: rebuilt from the vault
    index = found or FactsIndex(changed=True)
    index.key = retention_facts.key(vault.device.index_key)
    index.fold_logs(vault.audit.directory, index.key)
    return index


def save(vault: Vault, index: FactsIndex) -> None:
    """Keep the index for the next reader. Atomic, not durable: after a crash it is the old
    one (folded on from where it was), or none (rebuilt); a disk that refuses is no error."""
    if not index.changed:
        return
    from .. import durable

    path = index_path(vault)
    try:
        durable.make_dirs(path.parent)
        durable.replace(path, _box(vault).encrypt(index.to_bytes()), sync=False)
    except OSError:
        return
    index.changed, index.unsaved = False, 0


def rebuilt(vault: Vault) -> FactsIndex:
    index = FactsIndex(changed=True, key=retention_facts.key(vault.device.index_key))
    index.fold_logs(vault.audit.directory, index.key)
    return index


def check(vault: Vault) -> bool:
    """`casenotes verify`: whether the kept index says what one rebuilt from the vault says
    (the log-folded part; the files' part is re-read whenever a stat differs). A differing
    one is replaced. Returns True when it was right (or there was none)."""
    fresh = rebuilt(vault)
    path = index_path(vault)
    kept: FactsIndex | None = None
    if path.exists():
        try:
            kept = FactsIndex.from_bytes(_box(vault).decrypt(path.read_bytes()))
        except (OSError, nacl.exceptions.CryptoError, ValueError):
            kept = None
        else:
            if kept is not None:
                kept.fold_logs(vault.audit.directory, retention_facts.key(vault.device.index_key))
    right = not path.exists() or (kept is not None and _same(kept, fresh))
    if kept is not None:
        # A file's part is believed while the file's stat is unchanged: then its bytes must
        # say so too (a changed stat is read again anyway).
        for file_path, known in kept.files.items():
            try:
                st = os.stat(file_path)
                if [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns] != known.stat:
                    continue
                with open(file_path, "rb") as handle:
                    right = right and hashlib.sha256(handle.read()).hexdigest() == known.sha256
            except OSError:
                continue
    save(vault, fresh)
    return right


def _same(a: FactsIndex, b: FactsIndex) -> bool:
    parts: Mapping[str, Any] = {
        "sessions": (a.sessions, b.sessions),
        "damaged": (a.damaged, b.damaged),
        "written": (a.written, b.written),
        "begun": (sorted(map(tuple, a.begun)), sorted(map(tuple, b.begun))),
        "sealers": (
            {k: sorted(v) for k, v in a.sealers.items()},
            {k: sorted(v) for k, v in b.sealers.items()},
        ),
        "purge_lines": (a.purge_lines, b.purge_lines),
        "supervised": (sorted(a.supervised), sorted(b.supervised)),
        "heard": (sorted(map(str, a.heard)), sorted(map(str, b.heard))),
    }
    return all(x == y for x, y in parts.values())


def _sorted_values(found: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in found.items()}
