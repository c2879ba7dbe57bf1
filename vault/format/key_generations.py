"""Generations of a client's key pair: a set two machines can add to while apart.

Generation 1 is ``client.json``. A revoke (vault/sharing/access.py), or a merge of two
generations made at once (vault/store/client_keys.py), adds ``keys/<NNNNNN>-<did>.json``:
named by its number and the device that made it, so two machines that rotate one client
while apart add two files, never one file twice. Its signed record names the generations
it replaces (``after``), whom it was sealed to (``holders``) and whom it shuts out
(``revoked``). The generations nothing replaces are the *tips*; one tip is the key new
revisions are sealed to. Two tips are two rotations made apart: a merge replaces both,
sealed to everyone either kept and to no one either shut out.

Access files, ``access/<pid>.<gid>.<did>.sealed``, are named by the practitioner, the
generation and the device that wrote them. Older vaults (docs/format.md) have
``keys/<NNNNNN>.json`` (generation id ``NNNNNN``, after the one before it) and access
files ``<pid>.sealed`` (generation 1) and ``<pid>.<NNNNNN>.sealed``; they are read as
they are. Pure functions over plain data here: the files are read in the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nacl.public import PublicKey

FIRST = "000001"  # client.json
_GID = r"\d{6}(?:-[0-9a-f]{16})?"
KEY_NAME = re.compile(rf"^({_GID})\.json$")
ACCESS_NAME = re.compile(rf"^([0-9a-f]{{16}})(?:\.({_GID}))?(?:\.([0-9a-f]{{16}}))?\.sealed$")


@dataclass(frozen=True)
class Generation:
    gid: str  # "000001", "000002" (an older vault's), "000002-<did>"
    public: PublicKey
    after: tuple[str, ...]
    holders: frozenset[str] | None  # None: an older record, whose access files say who
    revoked: frozenset[str] = frozenset()
    by: str = ""  # the device that signed its record (client.json's, for generation 1)
    made: str = ""  # when that device says it made it (the record's ``created``)

    @property
    def number(self) -> int:
        return int(self.gid[:6])


def order(gid: str) -> tuple[int, str]:
    """Oldest first; at one number, an older vault's name first, then by device id."""
    return int(gid[:6]), gid[7:]


def new_gid(number: int, device_id: str) -> str:
    return f"{number:06d}-{device_id}"


def legacy_after(gid: str) -> tuple[str, ...]:
    """What an older vault's generation replaced: the one numbered before it."""
    return (f"{int(gid) - 1:06d}",) if "-" not in gid and int(gid) > 1 else ()


def access_name(practitioner_id: str, gid: str, device_id: str) -> str:
    return f"{practitioner_id}.{gid}.{device_id}.sealed"


def parse_access(name: str) -> tuple[str, str] | None:
    """(practitioner id, generation id) of an access file's name, None if it is not one."""
    match = ACCESS_NAME.match(name)
    return (match[1], match[2] or FIRST) if match else None


def tips(generations: Mapping[str, Generation]) -> list[str]:
    """The generations no other one replaces, oldest first."""
    replaced = {gid for g in generations.values() for gid in g.after}
    return sorted((gid for gid in generations if gid not in replaced), key=order)


def ancestry(generations: Mapping[str, Generation], gid: str) -> set[str]:
    """``gid`` and every generation it replaces, directly or not."""
    seen, todo = set(), [gid]
    while todo:
        current = todo.pop()
        if current in seen or current not in generations:
            continue
        seen.add(current)
        todo.extend(generations[current].after)
    return seen


def shut_out(generations: Mapping[str, Generation], holders: Mapping[str, set[str]]) -> set[str]:
    """Practitioners a rotation made apart shut out: revoked by a generation that lies
    behind one tip and not behind all, and not holding that tip (a grant made again
    since, on that line, is kept)."""
    ends = tips(generations)
    lines = {t: ancestry(generations, t) for t in ends}
    common = set.intersection(*lines.values()) if lines else set()
    out: set[str] = set()
    for tip, line in lines.items():
        for gid in line - common:
            out |= generations[gid].revoked - holders.get(tip, set())
    return out


def merged_holders(generations: Mapping[str, Generation], holders: Mapping[str, set[str]]) -> set[str]:
    """Who may hold a generation that replaces every tip: whoever holds one, less those
    a rotation made apart shut out."""
    ends = tips(generations)
    return set().union(*(holders.get(t, set()) for t in ends)) - shut_out(generations, holders)


def current(generations: Mapping[str, Generation], holders: Mapping[str, set[str]]) -> str | None:
    """The tip new revisions are sealed to, the same on every machine that holds the same
    files: the only tip, or the newest tip held by exactly who may hold a merge. None when
    no tip is (a merge must replace them first: sealing to one would let a practitioner
    that another rotation shut out read the note)."""
    ends = tips(generations)
    if len(ends) == 1:
        return ends[0]
    allowed = merged_holders(generations, holders)
    fitting = [t for t in ends if holders.get(t, set()) == allowed]
    return fitting[-1] if fitting else None
