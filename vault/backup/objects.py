"""The objects of one backup target: where each lives, reading them, adding a run's new
ones in packs, and removing those no snapshot names.

An object lives in a pack (``packs/<h>``, see ``packs``) or, on a target written before
packs, in a file of its own (``objects/<h[:2]>/<h>``); both are read, only packs are
written. Where each object lies is read from the packs' trailers once and cached on this
machine; the cache is trusted only for packs the target still lists (packs are written
once, named by their hash), so another machine's run or a prune elsewhere never misleads it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import durable
from . import packs
from .packs import Location
from .storage import Storage

Entries = list[tuple[str, int, int]]  # (sha256, offset, length) of each object in a pack


def legacy_key(digest: str) -> str:
    """Where a target written before packs keeps an object: a file of its own."""
    return f"objects/{digest[:2]}/{digest}"


class ObjectStore:
    def __init__(self, storage: Storage, cache: Path | None = None) -> None:
        self.storage = storage
        self.cache = cache
        #: pack -> [its objects' sha256 concatenated, "offset,length …"]: cheap to load
        #: and to cache; parsed into ``entries`` only for a pack that is read
        self.packs: dict[str, list[str]] = {}
        self.digests: set[str] = set()
        self._where: dict[str, Location] | None = None
        self.legacy: set[str] = set()  # objects/<h[:2]>/<h> of a target from before packs
        self.damaged: dict[str, str] = {}  # pack -> why its trailer cannot be read
        self.vanished: dict[str, str] = {}  # object -> the pack this machine saw it in, now gone
        self.unremembered = True
        self._pending: dict[str, bytes] = {}
        self._pending_size = 0
        self._written: list[str] = []  # packs this run wrote, not yet in the cache
        self._appended = 0  # lines appended to the cache since it was last written whole

    # -- where objects are -------------------------------------------------------------------
    def load(self) -> None:
        """List the target's packs (and old-style objects) and learn what each pack holds."""
        cached: dict[str, list[str]] = {}
        found = None
        if self.cache and self.cache.exists():
            # The whole list on its first line, each run's new packs appended a line each
            lines = self.cache.read_bytes().split(b"\n")
            self._appended = len(lines) - 1
            try:
                found = json.loads(lines[0])
                for line in lines[1:]:
                    cached.update(json.loads(line) if line else {})
            except ValueError:
                pass  # a torn line (it is written without fsync): its packs' trailers are read
            if isinstance(found, dict):
                cached = found | cached
        #: this machine cannot tell whether a pack it saw is gone (no cache of them)
        self.unremembered = not isinstance(found, dict)
        self.packs = {}
        read = False
        for key in self.storage.list("packs"):
            name = key.rsplit("/", 1)[-1]
            if name in cached:
                self.packs[name] = cached[name]
                continue
            try:
                self.packs[name] = _compact(self._trailer(key))
                read = True
            except ValueError as exc:
                self.damaged[name] = str(exc)
        self.legacy = {key.rsplit("/", 1)[-1] for key in self.storage.list("objects")}
        # Kept in the cache until this machine writes or collects here, so that every check
        # until then can name the pack that went missing.
        self.vanished = {
            d: name for name in cached.keys() - self.packs.keys() for d in _digests(cached[name])
        }
        self._index()
        if read:
            self._save()

    def _trailer(self, key: str) -> Entries:
        tail, size = self.storage.read_tail(key, packs.TAIL)
        length = packs.trailer_length(tail)
        if length > size - packs.TAIL:
            raise ValueError("the pack trailer is longer than the pack")
        return packs.entries(self.storage.read_range(key, size - packs.TAIL - length, length), size)

    def entries(self, name: str) -> Entries:
        """(sha256, offset, length) of each object in a pack."""
        positions = self.packs[name][1]
        pairs = [p.split(",") for p in positions.split()]
        return [(d, int(o), int(n)) for d, (o, n) in zip(_digests(self.packs[name]), pairs, strict=True)]

    @property
    def where(self) -> dict[str, Location]:
        """Each object's place (built when first needed: a backup only asks what is there)."""
        if self._where is None:
            self._where = {}
            for name in self.packs:
                for digest, offset, length in self.entries(name):
                    self._where.setdefault(digest, Location(name, offset, length))
        return self._where

    def _index(self) -> None:
        self.digests = {d for value in self.packs.values() for d in _digests(value)}
        self._where = None

    def _save(self) -> None:
        if self.cache:
            # Without fsync: a lost or torn cache is rebuilt from the packs' trailers.
            durable.replace(self.cache, json.dumps(self.packs).encode() + b"\n", sync=False)
            self._written, self._appended = [], 0

    def _save_written(self) -> None:
        """Add the packs this run wrote to the cache, a line (not the whole 6 MB list of a
        50,000-note vault rewritten by every run), or write it whole every 64 runs."""
        if not self.cache or not self.cache.exists() or self._appended >= 64:
            self._save()
            return
        line = json.dumps({name: self.packs[name] for name in self._written}).encode() + b"\n"
        with open(self.cache, "ab") as handle:
            handle.write(line)
        self._written, self._appended = [], self._appended + 1

    def __contains__(self, digest: str) -> bool:
        return digest in self.digests or digest in self.legacy

    def key(self, digest: str) -> str:
        """The target key an object is read from (for messages)."""
        if digest in self.where:
            return f"packs/{self.where[digest].pack}"
        return legacy_key(digest)

    def missing(self, digest: str) -> tuple[str, str]:
        """(where, why) for a message about an object the target lacks."""
        if digest in self.vanished:
            return f"packs/{self.vanished[digest]}", "is missing: its pack is gone"
        if self.legacy and not self.packs:
            return legacy_key(digest), "is missing"
        return "packs", "is missing (no pack holds it)"

    # -- reading -------------------------------------------------------------------------------
    def read(self, digest: str) -> bytes:
        """One object's bytes as stored (the caller checks them against its hash)."""
        found = self.where.get(digest)
        if found is None:
            return self.storage.read(legacy_key(digest))
        return self.storage.read_range(f"packs/{found.pack}", found.offset, found.length)

    def read_all(self, wanted: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(sha256, bytes as stored) of each wanted object, each pack read once, in order."""
        by_pack: dict[str, set[Location]] = defaultdict(set)
        alone = []
        for digest in dict.fromkeys(wanted):
            if digest in self.where:
                by_pack[self.where[digest].pack].add(self.where[digest])
            elif digest in self.legacy:
                alone.append(digest)
        for name, wanted_here in by_pack.items():
            data = self.storage.read(f"packs/{name}")
            for digest, offset, length in self.entries(name):
                if Location(name, offset, length) in wanted_here:
                    yield digest, data[offset : offset + length]
        for digest in alone:
            yield digest, self.storage.read(legacy_key(digest))

    # -- writing -------------------------------------------------------------------------------
    def add(self, digest: str, data: bytes | memoryview) -> None:
        """Queue an object for the next pack; a pack is written whenever enough is queued."""
        if digest in self or digest in self._pending:
            return
        self._pending[digest] = bytes(data)
        self._pending_size += len(data)
        if self._pending_size >= packs.PACK_SIZE:
            self.flush()

    def flush(self) -> None:
        """Write what is queued as one pack, durably (the manifest naming it comes after)."""
        if self._pending:
            self._write_pack(list(self._pending.items()))
        if self.vanished:
            self._save()  # the packs gone are told once, then forgotten
        elif self._written:
            self._save_written()
        self._pending, self._pending_size = {}, 0

    def _write_pack(self, objects: list[tuple[str, bytes]]) -> None:
        name, data, entries = packs.build(objects)
        try:
            self.storage.write_new(f"packs/{name}", data)
        except FileExistsError:
            pass  # named by its hash: the same bytes are already there
        self.packs[name] = _compact([(str(d), int(o), int(n)) for d, o, n in entries])  # type: ignore[call-overload]
        self._written.append(name)
        self.digests.update(_digests(self.packs[name]))
        self._where = None

    # -- removing ------------------------------------------------------------------------------
    def collect(self, referenced: set[str]) -> int:
        """Remove every object ``referenced`` does not name; returns how many.

        A pack holding only such objects is deleted; one that also holds others is
        rewritten with those alone (the new pack durable first), then deleted: after a
        purge no pack anywhere still holds a byte of the purged client. A pack whose
        trailer cannot be read goes too: what it holds cannot be told, nor read.
        """
        removed = 0
        for name in list(self.packs):
            entries = self.entries(name)
            dead = [e for e in entries if e[0] not in referenced]
            if not dead:
                continue
            live = list({e[0]: e for e in entries if e[0] in referenced}.values())
            if live:
                data = self.storage.read(f"packs/{name}")
                self._write_pack([(d, data[o : o + n]) for d, o, n in live])
            self.storage.delete(f"packs/{name}")
            del self.packs[name]
            removed += len(dead)
        for name in list(self.damaged):
            self.storage.delete(f"packs/{name}")
            del self.damaged[name]
        for digest in sorted(self.legacy - referenced):
            self.storage.delete(legacy_key(digest))
            self.legacy.discard(digest)
            removed += 1
        self._index()
        self._save()
        return removed


def _compact(entries: Entries) -> list[str]:
    return ["".join(d for d, _, _ in entries), " ".join(f"{o},{n}" for _, o, n in entries)]


def _digests(compact: list[str]) -> list[str]:
    joined = compact[0]
    return [joined[i : i + 64] for i in range(0, len(joined), 64)]
