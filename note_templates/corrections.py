"""What signed addenda correct: the one rule the site and `casenotes cat` both apply.

Invariant 9: a correction supersedes what it corrects, visibly. A signed addendum's
``measures:`` and ``risk:`` replace the amended note's, oldest addendum first; the addendum
keeps its text and loses those fields, so a corrected score is counted once, on the session
it belongs to. A draft addendum corrects nothing yet, nor are its values its own.

Pure functions over parsed front matter (no files, no vault): anything with a note id, a
kind, a date, its fields and whether it is signed will do, so the site's entries and the
command line's notes take the same path.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: The fields an addendum may correct.
CORRECTABLE = ("measures", "risk")


class Amendable(Protocol):
    """A parsed note, as much of it as the rule reads."""

    @property
    def note_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def meta(self) -> Mapping[str, Any]: ...
    @property
    def signed(self) -> bool: ...


@dataclass(frozen=True)
class Fix:
    """One field of one note corrected by one signed addendum: ``field`` is "risk" or
    "measures.<instrument>" (lower case), ``value`` the value that now stands."""

    field: str
    value: Any
    addendum: str  # the addendum's note id
    on: dt.date  # the addendum's session date


@dataclass(frozen=True)
class Corrected:
    """Every note's fields after the corrections (``meta``, by note id; the same mapping for
    a note nothing changed), and each amended note's fixes, oldest first."""

    meta: dict[str, dict[str, Any]]
    fixes: dict[str, list[Fix]]


def _corrects(note: Amendable) -> bool:
    return note.kind == "addendum" and any(note.meta.get(name) for name in CORRECTABLE)


def _without_corrections(note: Amendable) -> dict[str, Any]:
    return {k: v for k, v in note.meta.items() if k not in CORRECTABLE}


def apply(notes: Sequence[Amendable]) -> Corrected:
    """The corrections of ``notes`` (one client's), applied."""
    by_id = {n.note_id: n for n in notes}
    meta: dict[str, dict[str, Any]] = {note_id: dict(n.meta) for note_id, n in by_id.items()}
    fixes: dict[str, list[Fix]] = defaultdict(list)
    addenda = sorted(
        (n for n in by_id.values() if _corrects(n) and n.signed and n.meta.get("amends") in by_id),
        key=lambda n: (n.date, str(n.meta.get("time", "")), n.note_id),
    )
    for addendum in addenda:
        target = str(addendum.meta["amends"])
        fields = meta[target]
        given = addendum.meta.get("measures")
        if isinstance(given, dict):
            scores = {k: v for k, v in given.items() if v is not None}
            if scores:
                old = fields.get("measures")
                fields["measures"] = {**(old if isinstance(old, dict) else {}), **scores}
                fixes[target] += [
                    Fix(f"measures.{str(k).lower()}", v, addendum.note_id, addendum.date)
                    for k, v in scores.items()
                ]
        risk = addendum.meta.get("risk")
        if isinstance(risk, str) and risk.strip():
            fields["risk"] = risk
            fixes[target].append(Fix("risk", risk, addendum.note_id, addendum.date))
        meta[addendum.note_id] = _without_corrections(addendum)  # they are its note's now
    for note in by_id.values():  # a draft addendum's are no one's
        if _corrects(note) and not note.signed:
            meta[note.note_id] = _without_corrections(note)
    return Corrected(meta, dict(fixes))
