"""A fast reader for the plain YAML that notes' front matter is written in, or None.

Opening a client reads the front matter of every note: with PyYAML (even its C parser,
whose nodes are still resolved and constructed in Python) that is about half a
millisecond a note, more than its signature check and decryption together. Front matter
written from our templates is one ``key: value`` a line, with flow lists (``[a, "b"]``)
and one level of nested mappings or ``- item`` lists. This reads exactly that subset
and returns None for anything else (comments after a value, quotes with escapes,
multi-line scalars, anchors, tags, a key written twice...), which the full parser then
reads. Each scalar is typed by PyYAML's own resolver and constructors, so a value means
what the full parser makes of it (``12:00`` an int, ``2026-02-30`` text, ``yes`` True);
tests/packages/note_templates/test_plain_yaml.py compares the two on generated front matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

# A key of at most 128 characters (the lookahead): YAML parsers refuse one of over 1,024.
_KEY = re.compile(r"(?=[^:]{1,128}:)([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*):(?: +(.*))?$")
_ITEM = re.compile(r"- +(.*)$")
# A plain scalar the full parser reads as this same text: no indicator first, no ": " or
# " #" inside, no ":" last, no "#" or flow character anywhere (kept simple on purpose);
# in a flow list, no quote, comma or colon either.
_PLAIN = re.compile(r"[\w(~.+/$^][^#{}\[\]]*$")
_PLAIN_IN_FLOW = re.compile(r"[\w(~.+/$^][^\"'#{}\[\],:]*$")
_FLOW_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_DOUBLE = re.compile(r'"([^"\\]*)"$')
_SINGLE = re.compile(r"'((?:[^']|'')*)'$")
_STR = "tag:yaml.org,2002:str"
_SIMPLE_TAGS = {"tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "timestamp")}


class _NotPlain(Exception):
    """The text leaves the subset: the full parser reads it."""


def load(front: str, loader: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The mapping ``front`` holds and the text of each top-level scalar value (the full
    parser's ``raw``: ``id: 0123`` keeps its zero), or None if ``front`` is not written in
    the plain subset, or holds no field (the full parser says what is wrong with it).

    ``loader(text)`` makes the object that types scalars (a PyYAML SafeLoader, or a
    subclass of it): its resolver and constructors give each plain scalar its value."""
    lines = front.split("\n")
    if not all(map(str.isprintable, lines)):
        return None  # tabs, control characters, NEL, line separators: the full parser's business
    typer = _typer(loader)
    result: dict[str, Any] = {}
    raw: dict[str, str] = {}
    nested: dict[str, Any] | list[Any] | None = None
    indent, key = 0, ""  # indent -1: the key before had no value, lines under it may follow
    try:
        for line in lines:
            stripped = line.lstrip(" ")
            if not stripped or stripped[0] == "#":
                continue  # a blank line or a whole-line comment: nothing to YAML
            depth = len(line) - len(stripped)
            if depth == 0:
                key, value = _field(line, result, typer)
                result[key] = _value(value, typer, flow=False) if value else None
                if value and value[0] not in "[{":
                    raw[key] = result[key] if value[0] in "'\"" else value
                indent = 0 if value else -1
                continue
            if indent == 0:
                return None  # an indented line after a value: a multi-line scalar
            if indent == -1:  # the first line under an empty key says what follows
                indent = depth
                nested = [] if _ITEM.match(stripped) else {}
                result[key] = nested
            if depth != indent:
                return None
            if isinstance(nested, list):
                item = _ITEM.match(stripped)
                if not item:
                    return None
                nested.append(_value(item[1].rstrip(" "), typer, flow=False))
            elif nested is not None:
                name, value = _field(stripped, nested, typer)
                nested[name] = _value(value, typer, flow=False) if value else None
    except _NotPlain:
        return None
    return (result, raw) if result else None


def _field(line: str, mapping: dict[str, Any], typer: _Typer) -> tuple[str, str]:
    """(key, value text) of a ``key: value`` line; a key must be new and read as text."""
    match = _KEY.match(line)
    if not match or match[1] in mapping or not typer.text_key(match[1]):
        raise _NotPlain
    return match[1], (match[2] or "").rstrip(" ")


def _value(text: str, typer: _Typer, flow: bool) -> Any:
    if not text:
        raise _NotPlain  # "- " alone: the full parser's business
    if not flow and text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip(" ")
        if not inner:
            return []
        return [_value(item.strip(" "), typer, flow=True) for item in _flow_items(inner)]
    if not flow and text.startswith("{") and text.endswith("}"):
        return _flow_mapping(text[1:-1].strip(" "), typer)
    if text[0] == '"':
        quoted = _DOUBLE.match(text)
        if not quoted:
            raise _NotPlain  # escapes, or more after the closing quote
        return quoted[1]
    if text[0] == "'":
        quoted = _SINGLE.match(text)
        if not quoted or (flow and "," in text):
            raise _NotPlain  # more after the closing quote, or a comma inside it in a list
        return quoted[1].replace("''", "'")
    if not (_PLAIN_IN_FLOW if flow else _PLAIN).match(text) or ": " in text or text.endswith(":"):
        raise _NotPlain
    return typer.construct(text)


def _flow_mapping(inner: str, typer: _Typer) -> dict[str, Any]:
    """A one-line flow mapping of plain keys to plain scalars or flow lists of them, as
    `casenotes measure` writes a score (``{items: [1, 2, 0], total: 3}``); no quotes, no
    nesting deeper than a list, or the full parser reads it."""
    if not inner:
        return {}
    if any(char in inner for char in "\"'{}#"):
        raise _NotPlain
    parts, depth, start = [], 0, 0
    for index, char in enumerate(inner):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:index])
            start = index + 1
        if depth not in (0, 1):
            raise _NotPlain
    if depth:
        raise _NotPlain
    parts.append(inner[start:])
    mapping: dict[str, Any] = {}
    for part in parts:
        key, colon, value = part.strip(" ").partition(": ")
        value = value.strip(" ")
        if not colon or not value or not _FLOW_KEY.match(key) or key in mapping or not typer.text_key(key):
            raise _NotPlain
        mapping[key] = _value(value, typer, flow=not value.startswith("["))
    return mapping


def _flow_items(inner: str) -> list[str]:
    """The items of a one-line flow list whose items hold no comma but inside double quotes."""
    if '"' in inner:
        items, start, quoted = [], 0, False
        for index, char in enumerate(inner):
            if char == '"':
                quoted = not quoted
            elif char == "," and not quoted:
                items.append(inner[start:index])
                start = index + 1
        if quoted:
            raise _NotPlain
        items.append(inner[start:])
    else:
        items = inner.split(",")
    if any(not item.strip(" ") for item in items):
        raise _NotPlain  # "[a, , b]" or a trailing comma: the full parser's rules
    return items


class _Typer:
    """PyYAML's resolver and constructors, for one plain scalar at a time."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        # BaseResolver.resolve for a plain scalar, without its generic steps on every call:
        # the resolvers of the first character (and those for any), looked up once.
        anywhere = loader.yaml_implicit_resolvers.get(None, [])
        self.resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {
            first: resolvers + anywhere
            for first, resolvers in loader.yaml_implicit_resolvers.items()
            if first is not None
        }
        self.anywhere = anywhere
        self.keys: dict[str, bool] = {}
        if loader.yaml_path_resolvers:
            self.tag = lambda text: str(loader.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[method-assign]

    def tag(self, text: str) -> str:
        for tag, pattern in self.resolvers.get(text[:1], self.anywhere):
            if pattern.match(text):
                return tag
        return _STR

    def text_key(self, key: str) -> bool:
        """Whether a key reads as text (not ``yes``, ``null``...), remembered: the same few
        field names come back in every note."""
        known = self.keys.get(key)
        if known is None:
            known = self.tag(key) == _STR
            if len(self.keys) < 1000:
                self.keys[key] = known
        return known

    def construct(self, text: str) -> Any:
        tag = self.tag(text)
        if tag == _STR:
            return text  # what construct_yaml_str makes of a plain scalar
        if tag not in _SIMPLE_TAGS:
            raise _NotPlain  # a merge key, "=", a YAML tag: leave them to the full parser
        try:
            return self.loader.yaml_constructors[tag](self.loader, yaml.ScalarNode(tag, text))
        except (ValueError, yaml.YAMLError):
            raise _NotPlain from None  # the full parser reports it, with its line


_typers: dict[Callable[[str], Any], _Typer] = {}


def _typer(loader: Callable[[str], Any]) -> _Typer:
    if loader not in _typers:
        _typers[loader] = _Typer(loader(""))
    return _typers[loader]
