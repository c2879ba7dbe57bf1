"""What `casenotes cat` says beside a note that signed addenda corrected (issue 30, item 4).

The note is printed as it was signed; the value that now stands is said after it, marked
"corrected on DATE (addendum NOTE)" beside the original: the rule is the site's
(note_templates.corrections), so the terminal and the chart never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from note_templates import NoteInvalid, corrections, measures
from note_templates.front_matter import parse_sealed
from note_templates.instruments import get as instrument
from vault import OpenedNote


@dataclass(frozen=True)
class _Parsed:
    note_id: str
    kind: str
    date: dt.date
    meta: dict[str, Any]
    signed: bool


def _parsed(notes: Iterable[OpenedNote]) -> list[_Parsed]:
    found = []
    for note in notes:
        try:
            meta = parse_sealed(bytes(note.body), Path(note.note_id))[0]
        except NoteInvalid:
            continue  # cat prints it as it is; it corrects nothing
        day = meta.get("date")
        if isinstance(day, dt.date):
            found.append(_Parsed(note.note_id, str(meta.get("template", "note")), day, meta, note.final))
    return found


def _shown(field: str, value: object) -> str:
    """A value as the site shows it: a score's total (or subscales), not its item answers."""
    if value in (None, ""):
        return "nothing"
    if field == "risk":
        return str(value)
    try:
        reading = measures.read(field.removeprefix("measures."), value)
    except measures.MeasureWrong:
        return str(value)
    if reading is None:
        return "nothing"
    if reading.total is not None:
        return f"{reading.total:g}"
    return ", ".join(f"{name} {score}" for name, score in reading.subscales) or str(value)


def _was(meta: dict[str, Any], field: str) -> object:
    if field == "risk":
        return meta.get("risk")
    found = meta.get("measures")
    key = field.removeprefix("measures.")  # fixes name it in lower case, as the site does
    return (
        next((v for k, v in found.items() if str(k).lower() == key), None)
        if isinstance(found, dict)
        else None
    )


def _named(field: str) -> str:
    if field == "risk":
        return "risk"
    key = field.removeprefix("measures.")
    found = instrument(key)
    return found.short if found else key


def correction_lines(notes: Iterable[OpenedNote]) -> dict[str, list[str]]:
    """By note id, a line for each field of that note a signed addendum corrected: the value
    that stands, when and by which addendum, and what the note was signed with."""
    parsed = {n.note_id: n for n in _parsed(notes)}
    done = corrections.apply(list(parsed.values()))
    lines: dict[str, list[str]] = {}
    for note_id, fixes in done.fixes.items():
        latest = {fix.field: fix for fix in fixes}  # a later addendum supersedes an earlier one
        signed = parsed[note_id].meta
        lines[note_id] = [
            f"note {note_id}: {_named(field)} {_shown(field, fix.value)}, corrected on {fix.on:%d %b %Y} "
            f"(addendum {fix.addendum}); signed as {_shown(field, _was(signed, field))}"
            for field, fix in latest.items()
        ]
    return lines
