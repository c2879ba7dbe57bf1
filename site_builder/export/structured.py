"""Every structured field of every exported note as one JSON document (GDPR Art. 20, data
portability), described by the JSON Schema shipped beside this module (notes.schema.json,
documented in docs/format.md).

The front matter is taken from each note's own text, as written and signed; what a signed
addendum later corrected is listed beside it, never merged into it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from note_templates.front_matter import parse_sealed

from ..timeline import Entry, Timeline

FORMAT = "casenotes-export"
VERSION = 1
SCHEMA_FILE = "notes.schema.json"


def schema() -> dict[str, Any]:
    """The JSON Schema of the document ``document`` writes (draft 2020-12)."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def plain(value: Any) -> Any:
    """A front-matter value as JSON: dates as YYYY-MM-DD, times as text, the rest as is."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Exported:
    """One note as exported: its entry and the Markdown file it was written as."""

    entry: Entry
    source: bytes
    file: str  # path of its Markdown file, relative to the export folder


def note_record(t: Timeline, note: Exported, names: dict[str, str]) -> dict[str, Any]:
    entry = note.entry
    front_matter, _ = parse_sealed(note.source, Path(note.file))
    sealed = entry.sealed_at[:10] if entry.signed and entry.sealed_at else None
    return {
        "id": entry.note_id,
        "template": entry.kind,
        "date": entry.date.isoformat(),
        "status": "signed" if entry.signed else "draft",
        "revision": entry.revision,
        "signed_by": names.get(entry.device) if entry.signed else None,
        "signed_on": sealed,
        "cosigned_by": [{"name": who, "on": when[:10]} for who, when in t.cosigned.get(entry.note_id, [])],
        "amends": entry.meta.get("amends") if isinstance(entry.meta.get("amends"), str) else None,
        "addenda": [a.note_id for a in t.addenda.get(entry.note_id, [])],
        "corrections": [
            {"field": name, "addendum": addendum.note_id, "value": plain(_value(entry.meta, name))}
            for name, addendum in entry.corrections
        ],
        "markdown_file": note.file,
        "front_matter": plain(front_matter),
    }


def _value(meta: dict[str, Any], name: str) -> Any:
    """A field by its dotted name ("risk", "measures.gad7") in the corrected front matter."""
    here: Any = meta
    for part in name.split("."):
        here = here.get(part) if isinstance(here, dict) else None
    return here


def document(
    t: Timeline,
    exported: list[Exported],
    names: dict[str, str],
    client: dict[str, str | None],
    period: tuple[dt.date | None, dt.date | None],
    psychotherapy: bool,
    at: dt.datetime,
) -> dict[str, Any]:
    """The export's JSON document (see notes.schema.json)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "client": client,
        "period": {"from": _day(period[0]), "to": _day(period[1])},
        "psychotherapy_notes_included": psychotherapy,
        "notes": [note_record(t, note, names) for note in exported],
    }


def _day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def to_bytes(found: dict[str, Any]) -> bytes:
    return (json.dumps(found, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
