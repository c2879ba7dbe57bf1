"""Packs: many objects in one file on a backup target, as restic and borg store them.

One file per object cost a block, an inode and two fsyncs per vault file; a pack holds
a few MiB of them and costs one of each. A pack is ``packs/<h>``, ``h`` the SHA-256 of
the whole pack, written once::

    object ‖ object ‖ … ‖ trailer ‖ trailer length (4 bytes, big-endian) ‖ b"CNPK"

The trailer is canonical JSON ``{"format": "casenotes-pack", "version": 1, "objects":
[[sha256, offset, length], …]}``. It is not signed and need not be: an object is always
checked against the SHA-256 a signed manifest names before it is used, so a forged
trailer can make an object unreadable (reported), never put other bytes in its place.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ..format.constants import JSON_FORMAT_VERSION
from ..format.encoding import canonical

PACK_FORMAT = "casenotes-pack"
MAGIC = b"CNPK"
TAIL = 8  # trailer length + magic
#: a run's new objects are cut into packs of about this size; smaller than restic's 16 MiB
#: because a purge rewrites every pack that held a purged client's object
PACK_SIZE = 8 * 1024 * 1024
#: a file larger than this is stored as chunks at fixed offsets, so an appended log
#: (the audit log) adds only its last chunks to each snapshot, not a whole new copy
CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class Location:
    pack: str
    offset: int
    length: int


def build(objects: Iterable[tuple[str, bytes]]) -> tuple[str, bytes, list[list[object]]]:
    """(name, bytes, trailer entries) of a pack holding ``objects`` in the order given."""
    parts: list[bytes] = []
    entries: list[list[object]] = []
    offset = 0
    for digest, data in objects:
        parts.append(data)
        entries.append([digest, offset, len(data)])
        offset += len(data)
    trailer = canonical({"format": PACK_FORMAT, "version": JSON_FORMAT_VERSION, "objects": entries})
    parts += [trailer, struct.pack(">I", len(trailer)), MAGIC]
    data = b"".join(parts)
    return hashlib.sha256(data).hexdigest(), data, entries


def trailer_length(tail: bytes) -> int:
    """The trailer's length from a pack's last ``TAIL`` bytes; ValueError if not a pack."""
    if len(tail) != TAIL or tail[4:] != MAGIC:
        raise ValueError("not a casenotes pack (no trailer)")
    return int(struct.unpack(">I", tail[:4])[0])


def entries(trailer: bytes, pack_size: int) -> list[tuple[str, int, int]]:
    """The (sha256, offset, length) a pack's trailer lists, each inside the pack."""
    record = json.loads(trailer)
    if (
        not isinstance(record, dict)
        or record.get("format") != PACK_FORMAT
        or record.get("version") != JSON_FORMAT_VERSION
    ):
        raise ValueError("not a casenotes pack trailer of a known version")
    limit = pack_size - len(trailer) - TAIL
    found = []
    for item in record.get("objects", []):
        digest, offset, length = item
        if not (isinstance(digest, str) and len(digest) == 64 and 0 <= offset <= offset + length <= limit):
            raise ValueError("a pack trailer entry points outside the pack")
        found.append((digest, int(offset), int(length)))
    return found


def parse(data: bytes) -> list[tuple[str, int, int]]:
    """The entries of a whole pack read into memory."""
    length = trailer_length(data[-TAIL:])
    if length > len(data) - TAIL:
        raise ValueError("the pack trailer is longer than the pack")
    return entries(data[-TAIL - length : -TAIL], len(data))
