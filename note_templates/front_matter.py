"""Read a note's YAML front matter: the fields casenotes needs to file it, with line numbers.

A note is UTF-8 Markdown that starts with a ``---`` block of YAML. The bytes are sealed
exactly as written; this module only reads what is needed to file them (client handle,
session date, note id, status) and says precisely what is wrong when it cannot.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from .errors import NoteInvalid

NOTE_ID = re.compile(r"^(?!0{16})[0-9a-f]{16}$")  # all zeros is the vault's profile record
STATUSES = ("draft", "signed")
_YAML = frontmatter.YAMLHandler()


# libyaml's parser where PyYAML was built with it: ten times faster on a timeline of notes.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps an impossible date (2026-02-30) as text instead of crashing,
    so the date check can name the field and line."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> object:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


@dataclass(frozen=True, repr=False)
class NoteFields:
    """What casenotes reads from a note's front matter. Client data: never logged."""

    client: str
    date: dt.date
    note_id: str | None
    status: str
    meta: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    lines: dict[str, int] = field(default_factory=dict)  # field -> line in the file

    def line_of(self, name: str) -> int:
        return self.lines.get(name, 2)

    def __repr__(self) -> str:
        return f"<NoteFields {self.note_id or 'new'} {self.status}>"

    @property
    def signed(self) -> bool:
        return self.status == "signed"


def _decode(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise NoteInvalid(path, line, None, "not UTF-8 text: save the note as UTF-8") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise NoteInvalid(path, line, None, "binary data, not a Markdown note")
    return text.removeprefix("\ufeff")


def _parse(front: str) -> tuple[Any, dict[str, int], dict[str, str]]:
    """The front matter's value, and the line and raw text of each top-level key.

    One parse gives all three. ``front`` begins with the newline that ends the opening
    ``---``, so its line 0 is the file's line 1. The raw text matters for ids: YAML reads
    ``id: 0123456789012345`` as a number and drops the leading zero.
    """
    loader = _Loader(front)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    raw: dict[str, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key, item in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[key.value] = key.start_mark.line + 1
                if isinstance(item, yaml.ScalarNode):
                    raw[key.value] = item.value
    return value, lines, raw


def read_note(raw: bytes, path: Path) -> NoteFields:
    """Parse and check the filing fields; NoteInvalid names the line and field at fault."""
    text = _decode(raw, path)
    if not _YAML.detect(text):
        raise NoteInvalid(
            path,
            1,
            None,
            "no front matter: start the note with a '---' line, the fields, and '---'",
        )
    front, body = _YAML.split(text)
    try:
        meta, lines, raw_values = _parse(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise NoteInvalid(path, line, None, "front matter is not valid YAML") from exc
    if not isinstance(meta, dict):
        raise NoteInvalid(path, 2, None, "front matter must be 'field: value' lines")

    def line_of(name: str) -> int:
        return lines.get(name, 2)

    client = meta.get("client")
    if client is None:
        raise NoteInvalid(path, 2, "client", "missing: add 'client: HANDLE'")
    if not isinstance(client, str) or not client.strip():
        raise NoteInvalid(path, line_of("client"), "client", "must be the client's handle")
    date = meta.get("date")
    if date is None:
        raise NoteInvalid(path, 2, "date", "missing: add 'date: YYYY-MM-DD' (the session date)")
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise NoteInvalid(path, line_of("date"), "date", "must be a real date written YYYY-MM-DD")
    note_id = raw_values.get("id") if meta.get("id") is not None else None
    if note_id is not None and not (isinstance(note_id, str) and NOTE_ID.match(note_id)):
        raise NoteInvalid(
            path,
            line_of("id"),
            "id",
            "must be 16 lowercase hex digits (as `casenotes new` writes it)",
        )
    status = meta.get("status", "draft")
    if status not in STATUSES:
        raise NoteInvalid(path, line_of("status"), "status", f"must be one of: {', '.join(STATUSES)}")
    return NoteFields(client.strip(), date, note_id, status, meta, body, lines)
