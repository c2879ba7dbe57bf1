"""Read a note's YAML front matter, with the line of every field.

A note is UTF-8 Markdown that starts with a ``---`` block of YAML. The bytes are sealed
exactly as written; this module reads what is needed to file them (client handle,
session date, note id, status) and checks every field against the schema of the note's
kind, saying precisely where a problem is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from . import plain_yaml
from .block import front_lines
from .errors import NoteInvalid
from .schema import KINDS, RULES, Kind, problems

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
    lines: dict[str, int] = field(default_factory=dict)  # field (or "measures.phq9") -> line

    def __repr__(self) -> str:
        return f"<NoteFields {self.note_id or 'new'} {self.status}>"

    def line_of(self, name: str) -> int:
        return self.lines.get(name, 2)

    @property
    def signed(self) -> bool:
        return self.status == "signed"

    @property
    def kind(self) -> str | None:
        value = self.meta.get("template")
        return value if isinstance(value, str) else None


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


def _lines(node: yaml.Node, prefix: str, lines: dict[str, int], raw: dict[str, str]) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    for key, item in node.value:
        if isinstance(key, yaml.ScalarNode):
            name = prefix + str(key.value)
            lines[name] = key.start_mark.line + 1
            if isinstance(item, yaml.ScalarNode):
                raw[name] = item.value
            elif not prefix:
                _lines(item, name + ".", lines, raw)


_MERGE = "tag:yaml.org,2002:merge"


class _DuplicateKey(Exception):
    def __init__(self, name: str, first: int, second: int) -> None:
        super().__init__(name, first, second)
        self.name, self.first, self.second = name, first, second


def _duplicate(node: yaml.Node | None, prefix: str = "") -> tuple[str, int, int] | None:
    """The first key written twice in one mapping, anywhere: (name, first line, second line).

    YAML loaders keep the last of two equal keys, so `status: draft` ... `status: signed`
    would silently sign a note, and two `client:` lines would file it to either client.
    """
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key, item in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None and key.tag == _MERGE:
                # `<<: {phq9: ...}` beside `phq9: ...`: the explicit one wins, and the answers
                # the note's text shows under the merge are not the ones read. Written twice.
                for merged in item.value if isinstance(item, yaml.SequenceNode) else [item]:
                    for inner, _ in merged.value if isinstance(merged, yaml.MappingNode) else []:
                        if isinstance(inner, yaml.ScalarNode):
                            if inner.value in seen:
                                return prefix + str(inner.value), seen[inner.value], key.start_mark.line + 1
                            seen[inner.value] = key.start_mark.line + 1
                found = _duplicate(item, prefix)
                if found:
                    return found
                continue
            if name is not None:
                line = key.start_mark.line + 1
                if name in seen:
                    return prefix + str(name), seen[name], line
                seen[name] = line
            found = _duplicate(item, f"{prefix}{name}." if name is not None else prefix)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate(item, prefix)
            if found:
                return found
    return None


def _parse(front: str) -> tuple[Any, dict[str, int], dict[str, str]]:
    """The front matter's value, and the line and raw text of each key (one level deep).

    One parse gives all three. ``front`` begins with the newline that ends the opening
    ``---``, so its line 0 is the file's line 1. The raw text matters for ids: YAML reads
    ``id: 0123456789012345`` as a number and drops the leading zero.
    """
    loader = _Loader(front)
    try:
        node = loader.get_single_node()
        twice = _duplicate(node)
        if twice:
            raise _DuplicateKey(*twice)
        value = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    raw: dict[str, str] = {}
    if node is not None:
        _lines(node, "", lines, raw)
    return value, lines, raw


def parse(raw: bytes, path: Path) -> tuple[dict[str, Any], str, dict[str, int]]:
    """Front matter (a mapping), body and field lines; NoteInvalid if it cannot be read."""
    front, body = _split(raw, path)
    try:
        meta, lines, raw_values = _parse(front)
    except _DuplicateKey as twice:
        raise NoteInvalid(
            path,
            twice.second,
            twice.name,
            f"written twice, on lines {twice.first} and {twice.second}: keep the one you mean and "
            "delete the other; until then the note is kept, not sealed",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        if mark is not None and "mapping values are not allowed" in str(getattr(exc, "problem", "")):
            # Lines as YAML counts them: U+2028 and NEL break a line there, not for str.split.
            lines_read = _YAML_BREAK.split(front)
            if mark.line < len(lines_read):
                name, why = _colon_inside(lines_read[mark.line])
                raise NoteInvalid(path, line, name, why) from exc
        raise NoteInvalid(path, line, None, "front matter is not valid YAML") from exc
    if not isinstance(meta, dict):
        raise NoteInvalid(path, 2, None, "front matter must be 'field: value' lines")
    return _with_raw_id(meta, raw_values), body, lines


_YAML_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_FIELD_LINE = re.compile(r"^\s*(-\s+)?([A-Za-z_][\w-]*):\s")


def _colon_inside(text: str) -> tuple[str | None, str]:
    """What to do about a line YAML refused for a second ``: `` (``risk: low: words``,
    ``goals: Return to work: part-time``): the field, and the form that works. Never the
    line's own words: they may be client data."""
    found = _FIELD_LINE.match(text)
    if found is None or found[1]:
        return None, (
            "a colon followed by a space inside a list item (YAML reads it as a field): put the item "
            'in double quotes, e.g. - "Call the clinic: ask for Tuesday"'
        )
    name = found[2]
    if name == "risk":
        return name, (
            "a second colon (YAML reads `low: words` as another field): write a dash after the level, "
            "e.g. `risk: low - protective factors named`, or put the whole value in double quotes: "
            '`risk: "low: protective factors named"`'
        )
    quoted = '"your text: with its colon"'
    if name in RULES and RULES[name].type in ("list", "objectives"):
        quoted = f"[{quoted}]"
    return name, (
        "a colon followed by a space inside the value (YAML reads it as another field): put the value "
        f"in double quotes, e.g. `{name}: {quoted}`"
    )


def parse_sealed(raw: bytes, path: Path) -> tuple[dict[str, Any], str]:
    """Front matter and body, as parse() reads them, without the field lines: the faster
    read of a note already sealed (`casenotes open` reads every note of a client).

    Front matter written in the plain subset our templates use is read by plain_yaml, in
    a tenth of the time; anything else (and every error) by parse()."""
    front, body = _split(raw, path)
    plain = plain_yaml.load(front, _Loader)
    if plain is None:
        meta, body, _ = parse(raw, path)
        return meta, body
    return _with_raw_id(*plain), body


def _split(raw: bytes, path: Path) -> tuple[str, str]:
    text = _decode(raw, path)
    if not _YAML.detect(text):
        raise NoteInvalid(
            path, 1, None, "no front matter: start the note with a '---' line, the fields, and '---'"
        )
    try:
        return _YAML.split(text)
    except ValueError as exc:  # an opening '---' with no closing one
        raise NoteInvalid(path, 1, None, "front matter is not closed: end it with a '---' line") from exc


ID_FIELDS = ("id", "amends")  # note ids: 16 hex digits, sometimes all decimal ones


def _with_raw_id(meta: dict[str, Any], raw_values: dict[str, str]) -> dict[str, Any]:
    """Ids as written: YAML reads ``id: 0123456789012345`` (or an addendum's ``amends:``) as a
    number, dropping the zero."""
    for name in ID_FIELDS:
        if meta.get(name) is not None and name in raw_values:
            meta[name] = raw_values[name]
    return meta


def check(raw: bytes, path: Path, kinds: Mapping[str, Kind] = KINDS) -> list[NoteInvalid]:
    """Every problem of a note, each naming its line and field (`casenotes check`)."""
    try:
        meta, _, lines = parse(raw, path)
    except NoteInvalid as exc:
        return [exc]
    return [NoteInvalid(path, p.line, p.field, p.why) for p in problems(meta, lines, kinds)]


def read_note(raw: bytes, path: Path, kinds: Mapping[str, Kind] = KINDS, sealed: bool = False) -> NoteFields:
    """Parse and check a note; NoteInvalid names the first problem's line and field.

    ``sealed``: a note read back from the vault, judged by the rules it was written under
    (schema.SEALED_RULES), not refused for a rule added since."""
    meta, body, lines = parse(raw, path)
    found = problems(meta, lines, kinds, sealed)
    if found:
        first = found[0]
        raise NoteInvalid(path, first.line, first.field, first.why)
    return NoteFields(
        meta["client"].strip(), meta["date"], meta.get("id"), meta.get("status", "draft"), meta, body, lines
    )


def with_field(raw: bytes, name: str, value: str) -> bytes:
    """The note with one top-level front-matter field set to a YAML scalar, all else as written.

    Replaces the field's line if there is one, else adds it before the closing ``---``.
    """
    lines, end, newline = front_lines(raw)
    new = f"{name}: {value}{newline}"
    for index in range(1, end):
        if lines[index].split(":", 1)[0] == name and ":" in lines[index]:
            lines[index] = new
            break
    else:
        lines.insert(end, new)
    return "".join(lines).encode("utf-8")
