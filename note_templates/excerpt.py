"""Excerpts of a note for sharing: only the sections a client's consent names.

Sections are the note's ``## `` headings, named loosely ("Significant events",
"significant-events" and "significant_events" are one section). Front-matter fields
travel only where needed to place the note (date, time, template, id, status, amends),
plus ``measures``, ``homework``, ``goals`` or ``risk`` when the consent names them as
sections; ``not_shared:`` lists those it does not.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from .errors import NoteInvalid
from .front_matter import parse

PSYCHOTHERAPY = "psychotherapy"  # HIPAA: shared only under an authorisation that names them


def kept_apart(notes: Mapping[str, Mapping[str, object]]) -> set[str]:
    """Ids of the psychotherapy (process) notes among ``notes`` (id -> front matter) and of
    every addendum whose chain of ``amends`` leads to one, however long: an addendum to an
    addendum of a process note is part of that note and goes only where it may."""
    private: set[str] = set()
    for start in notes:
        chain, note_id = [], start
        while note_id in notes and note_id not in chain and note_id not in private:
            chain.append(note_id)
            if notes[note_id].get("template") == PSYCHOTHERAPY:
                private.update(chain)
                break
            note_id = str(notes[note_id].get("amends"))
        else:
            if note_id in private:
                private.update(chain)
    return private


PLACING_FIELDS = ("id", "date", "time", "template", "status", "amends")
FIELD_SECTIONS = ("measures", "homework", "goals", "risk")
# The field an excerpt lists what it left out in (every field section the consent does not
# name, whether the note had it or not): the recipient's site says "not shared", never
# "not assessed", and learns nothing of what the note held.
NOT_SHARED = "not_shared"
_HEADING = re.compile(r"^## +(.+?)\s*$")


def section_name(text: str) -> str:
    return re.sub(r"[\s_-]+", "-", text.strip().casefold())


def sections_of(body: str) -> list[tuple[str | None, list[str]]]:
    """(section name, lines) in order; the lines before the first ``## `` have no name."""
    found: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            found.append((section_name(heading[1]), []))
        found[-1][1].append(line)
    return found


def excerpt(raw: bytes, wanted: Sequence[str], path: Path) -> bytes:
    """The note cut down to the ``wanted`` sections (all of it when ``wanted`` is empty)."""
    if not wanted:
        return raw
    names = {section_name(w) for w in wanted}
    meta, body, _ = parse(raw, path)
    kept = {k: v for k, v in meta.items() if k in PLACING_FIELDS or (k in FIELD_SECTIONS and k in names)}
    left_out = [name for name in FIELD_SECTIONS if name not in names]
    if left_out:
        kept[NOT_SHARED] = left_out
    lines: list[str] = []
    for name, block in sections_of(body):
        if name is None:
            lines += [line for line in block if line.startswith("# ")]  # the title only
        elif name in names:
            lines += block
    front = yaml.safe_dump(kept, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return (f"---\n{front}---\n\n" + "\n".join(lines).strip() + "\n").encode("utf-8")


def template_sections(texts: Iterable[str]) -> set[str]:
    """Every section a consent may name: the templates' headings, and the shareable fields."""
    return {name for text in texts for name, _ in sections_of(text) if name} | set(FIELD_SECTIONS)


def for_consent(
    notes: Iterable[tuple[str, bytes]],
    start: dt.date | None,
    until: dt.date,
    sections: Sequence[str],
    psychotherapy: bool,
) -> list[tuple[str, bytes]]:
    """The notes a consent covers, each cut to its sections, oldest first. Psychotherapy
    (process) notes only when the consent names them; notes that cannot be read, never."""
    readable = []
    for note_id, raw in notes:
        try:
            readable.append((note_id, raw, parse(raw, Path(note_id))[0]))
        except NoteInvalid:
            continue
    private = kept_apart({note_id: meta for note_id, _, meta in readable})
    chosen = []
    for note_id, raw, meta in readable:
        day = meta.get("date")
        if not isinstance(day, dt.date) or day > until or (start is not None and day < start):
            continue
        if not psychotherapy and note_id in private:
            continue
        chosen.append((day, note_id, excerpt(raw, sections, Path(note_id))))
    return [(note_id, text) for _, note_id, text in sorted(chosen)]
