"""The audit log: append-only, hash-chained, signed, one file per device.

Each device appends to its own ``audit/<device>.log`` so that no file is written by two
machines (a group practice may sync the vault). A line is the canonical JSON of one
entry; ``prev`` is the SHA-256 of the previous line, and the device signs every field
but ``sig``. Editing, reordering or deleting a line breaks the chain or a signature.
Cutting off the tail leaves a valid shorter chain, so the device also writes signed
checkpoints (count and head hash) into the vault and into its own config dir; a log
shorter than a checkpoint it has signed is reported.

Entries name clients by id only: never a name, handle, note text or front-matter value.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.signing import VerifyKey

from .. import durable
from ..errors import Problem, TamperedFile, WriteFailed, reason
from ..format import sync_artefacts
from ..format.constants import CHECKPOINT_FORMAT, JSON_FORMAT_VERSION
from ..format.encoding import b64, canonical, unb64
from ..format.keys import Device, read_record

GENESIS = "0" * 64
_TAIL_WINDOW = 64 * 1024
UNLOGGED = "unlogged"  # in the device folder: clients written to whose entry may be missing


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    device: str
    event: str
    data: dict[str, Any]


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def read_tail(fd: int, size: int) -> tuple[int, bytes]:
    """The log's last bytes (and where they start), enough to hold its last complete line
    whole: an entry can be longer than the window (`decrypt-profiles` names every client
    read, 95 KB at 5,000 clients), and half of one is no entry."""
    window = _TAIL_WINDOW
    while True:
        start = max(0, size - window)
        tail = os.pread(fd, size - start, start)
        if start == 0 or tail.count(b"\n") >= 2:  # the line before the last one ends inside
            return start, tail
        window *= 4


class AuditLog:
    def __init__(
        self, directory: Path, device: Device, clock: Callable[[], datetime], checkpoint_dir: Path
    ) -> None:
        self.directory = directory
        self.device = device
        self.clock = clock
        self.checkpoint_dir = checkpoint_dir
        self.path = directory / f"{device.device_id}.log"
        self.deferring = False  # in a group commit: `sync` makes the entries durable at its end
        self._unsynced = False

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def unlogged(self, client_id: str, item: str) -> Iterator[None]:
        """Around a write of ``item`` under ``clients/<client_id>/`` whose entry comes after
        it: a mark ``<client_id>.<item>`` in the device folder (never synced; one a write, as
        a group commit seals a client's notes at once) until the entry is written, so that a
        backup looks at the client even when a kill cut the entry off (vault/backup/scan.py).
        Not fsynced, as a half-made entry: the write's own fsync commits it on ext4."""
        mark = self.checkpoint_dir / UNLOGGED / f"{client_id}.{item}"
        try:
            # its folder no more durable than the mark: no fsync added to a seal's four
            os.makedirs(mark.parent, durable.DIR_MODE, exist_ok=True)
            os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, durable.FILE_MODE))
        except OSError as exc:
            raise WriteFailed(mark, reason(exc)) from exc
        yield
        mark.unlink(missing_ok=True)

    def unlogged_marks(self) -> dict[str, tuple[int, int]]:
        """The marks of writes whose entry may be missing (``<client_id>.<item>``), each with
        its inode and mtime."""
        try:
            with os.scandir(self.checkpoint_dir / UNLOGGED) as entries:
                return {e.name: (e.inode(), e.stat().st_mtime_ns) for e in entries if e.is_file()}
        except FileNotFoundError:
            return {}

    def clear_unlogged(self, marks: dict[str, tuple[int, int]]) -> None:
        """Drop the marks a backup has covered (not one made again since)."""
        for name, seen in marks.items():
            mark = self.checkpoint_dir / UNLOGGED / name
            try:
                info = mark.stat()
                if (info.st_ino, info.st_mtime_ns) == seen:
                    mark.unlink()
            except FileNotFoundError:
                continue

    def append(self, event: str, **data: Any) -> None:
        """Append one signed entry; the file lock orders writers on this machine."""
        durable.make_dirs(self.directory)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, durable.FILE_MODE)
        except OSError as exc:
            raise WriteFailed(self.path, reason(exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._repair_tail(fd)
            entry = {
                "seq": seq + 1,
                "time": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "device": self.device.device_id,
                "event": event,
                "data": data,
                "prev": prev,
            }
            entry["sig"] = b64(self.device.sign(canonical(entry)))
            os.write(fd, canonical(entry) + b"\n")
            if self.deferring:
                self._unsynced = True
            else:
                os.fsync(fd)
        except OSError as exc:
            raise WriteFailed(self.path, reason(exc)) from exc
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Make the entries a group commit appended durable: one fsync for all of them."""
        if not self._unsynced:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WriteFailed(self.path, reason(exc)) from exc
        self._unsynced = False

    def _repair_tail(self, fd: int) -> tuple[int, str]:
        """The last entry's seq and hash. A torn last line (crash mid-write) is dropped."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        start, tail = read_tail(fd, size)
        if not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            if cut < 0 and start > 0:
                raise TamperedFile(self.path, "last audit entry is damaged")
            os.ftruncate(fd, start + cut + 1)
            os.fsync(fd)
            tail = tail[: cut + 1]
            if not tail:
                return 0, GENESIS
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        try:
            seq = json.loads(last)["seq"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TamperedFile(self.path, "last audit entry is damaged") from exc
        return seq, line_hash(last)

    def checkpoint(self, sync: bool = True) -> None:
        """Record the chain head, signed, in the vault and outside it (the config dir).

        ``sync=False`` (a lone `casenotes seal`): written atomically but not fsynced; a crash
        may leave the previous checkpoint, which the longer log still extends, and the next
        command or syncd's hourly job writes a durable one.

        Reads only the log's tail (the last entry's seq is the count), so it costs the
        same with 50 entries or 500,000. A checkpoint never moves backwards: if the log is
        shorter than the device's own last checkpoint, that one stays for verify to report.
        """
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            start, tail = read_tail(handle.fileno(), os.fstat(handle.fileno()).st_size)
        complete = tail[: tail.rfind(b"\n")]
        if not complete:
            return
        last = complete.rsplit(b"\n", 1)[-1]
        try:
            count = int(json.loads(last)["seq"])
        except (ValueError, KeyError, TypeError):
            return  # a damaged tail: audit verify reports it; nothing to vouch for
        end = start + len(complete) + 1  # byte offset just past the head line
        if not self._extends_own_checkpoint(count, end):
            return  # the log no longer continues what this device vouched for: verify says so
        record: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "version": JSON_FORMAT_VERSION,
            "device": self.device.device_id,
            "count": count,
            "head": line_hash(last),
            "offset": end,
        }
        record["sig"] = b64(self.device.sign(canonical(record)))
        for path in self.checkpoint_paths():
            durable.replace(path, canonical(record), sync)

    def _extends_own_checkpoint(self, count: int, end: int) -> bool:
        """Whether the log still holds, unchanged, the head this device last signed."""
        try:
            old = json.loads(self.own_checkpoint.read_bytes())
            old_count, old_head, old_end = int(old["count"]), old["head"], int(old["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return True  # no usable record of our own: nothing to contradict
        if old_count > count or old_end > end:
            return False
        with open(self.path, "rb") as handle:
            _, window = read_tail(handle.fileno(), old_end)
        return line_hash(window[:-1].rsplit(b"\n", 1)[-1]) == old_head

    @property
    def own_checkpoint(self) -> Path:
        """The device's own copy, outside the vault. Named for the vault's location too, so
        a restore drill into another folder starts its own record instead of looking like
        a rolled-back log; a vault rolled back in place is still caught."""
        where = hashlib.sha256(str(self.directory.resolve()).encode()).hexdigest()[:12]
        return self.checkpoint_dir / f"{self.device.device_id}-{where}.checkpoint"

    def checkpoint_paths(self) -> list[Path]:
        return [self.directory / f"{self.device.device_id}.checkpoint", self.own_checkpoint]

    # -- reading ------------------------------------------------------------------------
    def logs(self) -> list[Path]:
        return sync_artefacts.glob(self.directory, "*.log")

    def entries(self) -> Iterator[Entry]:
        """Every entry of every device, in each log's order (unverified: use verify)."""
        return read_entries(self.directory)

    def mentioning(self, text: str) -> list[Entry]:
        """The entries whose line holds ``text`` as a JSON string (a path, an id), in each
        log's order; a byte search first, so only those lines are parsed (unverified)."""
        needle = json.dumps(text).encode()
        found = []
        for path in self.logs():
            raw = path.read_bytes()
            if needle not in raw:
                continue
            for line in raw.splitlines():
                if needle in line:
                    try:
                        e = json.loads(line)
                        found.append(Entry(e["seq"], e["time"], e["device"], e["event"], e["data"]))
                    except (ValueError, KeyError, TypeError):
                        continue
        return found

    def has(self, event: str, **data: str) -> bool:
        """Whether any device's log holds an ``event`` entry with these data fields.

        A byte search for the first field first (canonical JSON writes each pair the same
        way), so only the lines that mention it are parsed, whatever the log's length.
        """
        key, value = next(iter(data.items()))
        needle = canonical({key: value})[1:-1]  # e.g. "file":"clients/…"
        for path in self.logs():
            raw = path.read_bytes()
            at = raw.find(needle)
            while at >= 0:
                start, end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
                line = raw[start : end if end >= 0 else len(raw)]
                try:
                    entry = json.loads(line)
                    found = entry["event"] == event and all(
                        entry["data"].get(k) == v for k, v in data.items()
                    )
                except (ValueError, KeyError, TypeError, AttributeError):
                    found = False
                if found:
                    return True
                if end < 0:
                    break
                at = raw.find(needle, end)
        return False

    def verify(self, device_keys: dict[str, VerifyKey]) -> list[Problem]:
        problems: list[Problem] = []
        for path in self.logs():
            problems += _verify_log(path, device_keys)
        checkpoints = set(sync_artefacts.glob(self.directory, "*.checkpoint"))
        mine = self.own_checkpoint
        if mine.exists():
            checkpoints.add(mine)
        for cp in sorted(checkpoints):
            problems += _verify_checkpoint(cp, self.directory, device_keys, self.device.device_id)
        return problems + self._check_seen_checkpoints(device_keys)

    def _check_seen_checkpoints(self, device_keys: dict[str, VerifyKey]) -> list[Problem]:
        """Other devices' logs against the newest of their checkpoints this device has seen.

        A device's in-vault checkpoint can be put back to an older signed copy together with
        its cut-back log; only that device's own copy would know. So each device also keeps,
        outside the vault, the newest checkpoint of every other device it has verified.
        """
        problems: list[Problem] = []
        where = self.own_checkpoint.name.removeprefix(f"{self.device.device_id}-")
        for cp in sorted(self.directory.glob("*.checkpoint")) if self.directory.exists() else []:
            if cp.stem == self.device.device_id or cp.stem not in device_keys:
                continue
            seen = self.checkpoint_dir / f"seen-{cp.stem}-{where}"
            behind = _verify_checkpoint(seen, self.directory, device_keys) if seen.exists() else []
            problems += behind
            if not behind and not _verify_checkpoint(cp, self.directory, device_keys):
                if not seen.exists() or _count(cp) > _count(seen):
                    durable.replace(seen, cp.read_bytes())
        return problems


def read_entries(directory: Path, devices: Container[str] | None = None) -> Iterator[Entry]:
    """The entries of every device's log, or of ``devices`` only, in each log's order
    (unverified: check the same logs with `verify_logs` first)."""
    for path in sync_artefacts.glob(directory, "*.log"):
        if devices is not None and path.stem not in devices:
            continue
        for line in path.read_bytes().splitlines():
            try:
                e = json.loads(line)
                yield Entry(e["seq"], e["time"], e["device"], e["event"], e["data"])
            except (ValueError, KeyError, TypeError):
                continue


def signed_entry(line: bytes, device_keys: dict[str, VerifyKey]) -> Entry | None:
    """One log line as an entry, if a registered device signed it (else None). Not the
    chain: a genuine line copied elsewhere still says only what its device said."""
    try:
        e = json.loads(line)
        sig = unb64(e.pop("sig"), 64)
        device_keys[e["device"]].verify(canonical(e), sig)
        return Entry(e["seq"], e["time"], e["device"], e["event"], e["data"])
    except (ValueError, KeyError, TypeError, AttributeError, nacl.exceptions.BadSignatureError):
        return None


def signed_entries(directory: Path, device_keys: dict[str, VerifyKey], needle: bytes) -> list[Entry]:
    """The entries holding ``needle`` that a registered device signed: facts to act on
    (a purge) without checking every chain, that a line added by whoever can write the
    folder cannot fake."""
    found = []
    for path in sync_artefacts.glob(directory, "*.log"):
        raw = path.read_bytes()
        at = raw.find(needle)  # only the lines that hold it are cut out and parsed
        while at >= 0:
            start, end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
            end = len(raw) if end < 0 else end
            if (entry := signed_entry(raw[start:end], device_keys)) is not None:
                found.append(entry)
            at = raw.find(needle, end)
    return found


def vouching_entries(directory: Path, device_keys: dict[str, VerifyKey]) -> list[Entry]:
    """The entries of these devices' logs, once their chains and signatures check: what may
    vouch for a key or access file (a line added by whoever can write the folder may not)."""
    if problems := verify_logs(directory, device_keys):
        raise TamperedFile(problems[0].path, problems[0].why)
    return list(read_entries(directory, device_keys))


def verify_logs(directory: Path, device_keys: dict[str, VerifyKey]) -> list[Problem]:
    """Chain and signatures of the logs of these devices (others are not looked at)."""
    found: list[Problem] = []
    for device in sorted(device_keys):
        path = directory / f"{device}.log"
        if path.exists():
            found += _verify_log(path, device_keys)
    return found


def _verify_log(path: Path, device_keys: dict[str, VerifyKey]) -> list[Problem]:
    device = path.stem
    key = device_keys.get(device)
    if key is None:
        return [Problem(path, "audit log of an unregistered device", missing=True)]
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        return [Problem(path, "the last audit entry is cut off")]
    prev, start, before = GENESIS, 0, 0
    memo = (str(path), bytes(key))
    known = _VERIFIED.get(memo)
    if known is not None and len(raw) >= known[0] and hashlib.sha256(raw[: known[0]]).digest() == known[1]:
        start, before, prev = known[0], known[2], known[3]  # the same bytes checked before: only the tail
    number = before
    for number, line in enumerate(raw[start:].splitlines(), start=before + 1):
        where = f"entry {number}"
        try:
            entry = json.loads(line)
            sig = unb64(entry.pop("sig"), 64)
        except (ValueError, KeyError, TypeError, AttributeError):
            return [Problem(path, f"{where} is damaged")]
        if entry.get("seq") != number:
            return [Problem(path, f"{where} is out of order (entries removed or moved)")]
        if entry.get("prev") != prev:
            return [
                Problem(
                    path,
                    f"{where} does not follow the one before (an entry was changed or removed)",
                )
            ]
        if entry.get("device") != device:
            return [Problem(path, f"{where} names another device")]
        try:
            key.verify(canonical(entry), sig)
        except nacl.exceptions.BadSignatureError:
            return [Problem(path, f"{where} was changed after it was written (bad signature)")]
        prev = line_hash(line)
    _VERIFIED[memo] = (len(raw), hashlib.sha256(raw).digest(), number, prev)
    return []


# A log that checked, by path and device key: its length, the SHA-256 of those bytes, its
# entry count and last line's hash. A log is append-only, so a later check whose first bytes
# hash the same verifies only what was appended (a key renewal checks the log once per
# client it re-keys); any change to those bytes, or a shorter log, checks it all again.
_VERIFIED: dict[tuple[str, bytes], tuple[int, bytes, int, str]] = {}


def _count(cp: Path) -> int:
    try:
        return int(json.loads(cp.read_bytes())["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _verify_checkpoint(
    cp: Path, directory: Path, device_keys: dict[str, VerifyKey], own_device: str = ""
) -> list[Problem]:
    try:
        record = read_record(cp, CHECKPOINT_FORMAT, TamperedFile)
        sig = unb64(record.pop("sig"), 64)
        key = device_keys[record["device"]]
        key.verify(canonical(record), sig)
        count, head = int(record["count"]), record["head"]
    except TamperedFile as exc:
        return [Problem(cp, exc.why)]
    except (ValueError, KeyError, TypeError, nacl.exceptions.BadSignatureError):
        return [Problem(cp, "audit checkpoint is damaged or its signature is wrong")]
    log = directory / f"{record['device']}.log"
    lines = log.read_bytes().splitlines() if log.exists() else []
    if len(lines) < count:
        return [
            Problem(
                log,
                f"audit log has {len(lines)} entries but {count} were checkpointed (end cut off)",
                missing=record["device"] != own_device,
            )
        ]
    if line_hash(lines[count - 1]) != head:
        return [Problem(log, f"audit entry {count} differs from the checkpointed one")]
    return []
