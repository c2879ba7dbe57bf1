"""What a note needs before it is signed: its required sections written, its risk assessed.

A signed note never changes, so a blank template signed by mistake would stand in the
record for good. `casenotes sign`, `casenotes seal` and syncd refuse such a note
(NoteUnfinished, naming every section and field with its line); `casenotes check` shows
the same as warnings on a draft, which may be as unfinished as the practitioner likes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import NoteUnfinished
from .excerpt import section_name
from .front_matter import NoteFields, parse
from .risk import EXAMPLE, LEVELS
from .schema import Kind, Problem, Section

_SECTION = re.compile(r"^## +(.+?)\s*$")
_TOP = re.compile(r"^#{1,2} ")


def _body_sections(text: str) -> tuple[dict[str, tuple[int, list[str]]], int]:
    """Each ``## `` section after the front matter: name -> (heading line, its lines),
    the first of a name wins; and the line of the closing ``---``."""
    lines = text.splitlines()
    closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
    found: dict[str, tuple[int, list[str]]] = {}
    current: list[str] | None = None
    for number, line in enumerate(lines[closing + 1 :], start=closing + 2):
        heading = _SECTION.match(line)
        if heading:
            name = section_name(heading[1])
            current = [] if name in found else found.setdefault(name, (number, []))[1]
        elif _TOP.match(line):
            current = None
        elif current is not None:
            current.append(line)
    return found, closing + 1


def _section_problem(section: Section, written: tuple[int, list[str]] | None, end: int) -> Problem | None:
    if written is None:
        return Problem(end, section.heading, f"is missing: add a '## {section.heading}' section")
    line, content = written
    text = [x.strip() for x in content if x.strip() and not x.strip().startswith("<!--")]
    if not text:
        return Problem(line, section.heading, "is empty")
    if all(x in section.prompt for x in text):
        return Problem(line, section.heading, "still holds only the template's prompt text")
    return None


def unfinished(
    raw: bytes, path: Path, kinds: Mapping[str, Kind], parsed: NoteFields | None = None
) -> list[Problem]:
    """What keeps a note from being signed, in the order of its lines (empty: ready).
    ``parsed``: the note's fields when the caller has read them already (one parse a seal)."""
    if parsed is None:
        meta, _, field_lines = parse(raw, path)
    else:
        meta, field_lines = parsed.meta, parsed.lines
    template = meta.get("template")
    kind = kinds.get(template) if isinstance(template, str) else None
    if kind is None:
        return []
    text = raw.decode("utf-8").removeprefix("\ufeff")
    sections, closing = _body_sections(text)
    found = []
    for name in kind.to_sign:
        value = meta.get(name)
        if not (isinstance(value, str) and value.strip()):
            why = (
                f"is not assessed: write a level ({', '.join(LEVELS)}) and what you assessed, "
                f"e.g. `{EXAMPLE}`"
                if name == "risk"
                else 'is empty: write the session\'s time, e.g. time: "14:30"'
                if name == "time"
                else "is empty"
            )
            found.append(Problem(field_lines.get(name, closing), name, why))
    review = measure_risk(meta, field_lines)
    if review is not None:
        found.append(review)
    end = len(text.splitlines())
    for section in kind.sections:
        problem = _section_problem(section, sections.get(section_name(section.heading)), end)
        if problem:
            found.append(problem)
    return sorted(found, key=lambda p: p.line)


def measure_risk(meta: Mapping[str, Any], field_lines: Mapping[str, int]) -> Problem | None:
    """`risk: none` on a note whose measures signal risk, with no words on why (issue 33):
    refused at signing, and an error in `casenotes check` even on a draft."""
    from .measures import unreviewed_risk

    why = unreviewed_risk(meta)
    return Problem(field_lines.get("risk", 2), "risk", why) if why else None


def ready_to_sign(
    raw: bytes, path: Path, kinds: Mapping[str, Kind], parsed: NoteFields | None = None
) -> None:
    """Raise NoteUnfinished naming every unwritten section and field, or return."""
    found = unfinished(raw, path, kinds, parsed)
    if found:
        raise NoteUnfinished(path, [(p.line, p.field or "", p.why) for p in found])
