"""The fast front-matter reader of `open` reads every note exactly as the full parser does.

`casenotes open` reads sealed notes with parse_sealed (plain_yaml for the plain subset our
templates write, PyYAML for anything else): a note must show the same fields, the same
dates and numbers, and the same damage either way.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fiction
import note_templates
from note_templates import NoteInvalid, parse
from note_templates.front_matter import _Loader, parse_sealed
from note_templates.plain_yaml import load
from note_templates.templates import yaml_list

HERE = Path("0123456789abcdef")


def both(front: str) -> tuple[str, str]:
    """What the full parser and parse_sealed make of a note with this front matter."""
    raw = f"---\n{front}\n---\n\n## Summary\nFictional text.\n".encode()
    return _outcome(lambda: parse(raw, HERE)[:2]), _outcome(lambda: parse_sealed(raw, HERE))


def _outcome(read: object) -> str:
    try:
        return repr(read())  # type: ignore[operator]
    except NoteInvalid as exc:
        return f"NoteInvalid: {exc}"


@pytest.mark.parametrize("kind", sorted(note_templates.available()))
def test_a_note_from_every_template_reads_the_same(kind: str) -> None:
    text = note_templates.render(
        note_templates.get(kind),
        {
            "id": "0123456789abcdef",
            "client": "AB-1",
            "date": "2026-11-20",
            "time": "09:30",
            "amends": "fedcba9876543210",
            "goals": yaml_list(["Sleep at least six hours", 'Say "no" once a week']),
        },
    )
    front = text.split("\n---\n", 1)[0].removeprefix("---\n")
    full, fast = both(front)
    assert fast == full


@pytest.mark.parametrize("number", [1, 2, 7, 12])
def test_fiction_notes_take_the_fast_path_and_read_the_same(number: int) -> None:
    raw = fiction.note("CL-0001", dt.date(2020, 1, 6), "0123456789abcdef", number, "signed")
    front = raw.decode().split("\n---\n", 1)[0].removeprefix("---\n")
    assert load("\n" + front + "\n", _Loader) is not None
    assert parse_sealed(raw, HERE) == parse(raw, HERE)[:2]


@pytest.mark.parametrize(
    "front",
    [
        "time: 12:00\ndate: 2026-02-30\nflag: yes\nid: 0123456789012345\nscore: 1_000\nratio: .5\nnothing: ~",
        "date: 2026-01-05 10:30:00\nid: 0777\nempty:\nquoted: 'it''s'\nplain: client's own words",
        'goals: ["a, b", c d, "e: f", 12, 2026-01-05]\ntags: []\nhomework: [ x ]',
        "measures:\n  phq9: 11\n  gad7:\nhomework:\n  - Sleep diary\n  - 'walk'\nrisk: none",
        "# a comment line\nclient: AB-1\n\n   # another\ndate: 2026-01-05",
        "date: 2026-01-05 23:30:00 -05:00\nat: 2026-01-05t10:30:00z\nn: 0o17\nb: 0b101\nm: 190:20:30\nf: 1_000.5",
        "risk: high   \ngoals:\n - a\n -   b  \nn: ١٢\nw: 日本語 text; no, it's a 'quote' \"too\"",
        # a score as `casenotes measure` writes it
        "measures:\n  phq9: {items: [1, 2, 0, 1, 3, 0, 1, 2, 1], total: 11}\n  dass21: {items: [], depression: 14}",
        "flow: {a: 1}\nempty: {}\nodd: { b:  [ x ,y], c: 2026-01-05 }",
    ],
)
def test_the_plain_subset_is_read_fast_and_the_same(front: str) -> None:
    assert load("\n" + front + "\n", _Loader) is not None
    full, fast = both(front)
    assert fast == full


@pytest.mark.parametrize(
    "front",
    [
        "status: draft\nstatus: signed",  # a key twice: damaged, with both lines named
        "measures:\n  phq9: 3\n  phq9: 4",
        "risk: none, denies\n  ideation",  # a scalar over two lines
        "risk: none # for now",
        "risk: |\n  block text",
        'goals: ["escaped \\" quote"]',
        "goals: [a, , b]",
        "goals: [a, [b]]",
        "yes: true",
        "date: 2026-01-05\n\tclient: AB-1",
        "time: !!str 12:00",
        "anchor: &a x\nagain: *a",
        "<<: {a: 1}",
        "objectives:\n  - goal: a\n    status: met",
        "measures:\n  phq9: 3\n   gad7: 4",
        "key:value",
        "client: AB-1\n...",
        "just text",
        "",
        "odd: \x07bell",
        "nel: a\x85b",
        "flow: {a: [1, [2]]}",
        "flow: {a: 1, a: 2}",
        "flow: {yes: 1}",
        "flow: {a: b: c}",
        "flow: {a: 'x'}",
        "flow: {a: {b: 1}}",
        "flow: {a}",
        "flow: {a: 1,}",
        "flow: {a: ]1[}",
        "single: 'a, b'\nlist: ['a, b']",
        "k" * 1100 + ": x",  # a key over 1,024 characters: not valid YAML to the full parser
        "measures:\n  " + "k" * 1100 + ": 3",
    ],
)
def test_anything_else_goes_to_the_full_parser_with_the_same_result(front: str) -> None:
    full, fast = both(front)
    assert fast == full


_TEXT_KEYS = ["id", "date", "time", "risk", "goals", "a-b", "_x", "measures"]
_KEYS = st.sampled_from([*_TEXT_KEYS, "yes", "null", "On"])
# Pieces that the plain subset reads, with the values YAML types in surprising ways...
_PLAIN_PIECES = [
    "a",
    "b c",
    "12",
    "012",
    "0x1F",
    "1:30",
    "2026-01-05",
    "2026-02-30",
    "2026-01-05T10:00:00Z",
    "yes",
    "No",
    "on",
    "~",
    "null",
    ".5",
    "+4",
    "1e3",
    ".inf",
    ".NaN",
    "it's",
    "é",
    "a:b",
    "3.0",
    "0o7",
    "1_0",
]
# ...and pieces that leave it, so that the two readers meet at its edges.
_OTHER_PIECES = [
    "-3",
    "=",
    "<<",
    "%",
    "@",
    "`",
    "!",
    "&",
    "*",
    "|",
    ">",
    "?",
    ":",
    ": ",
    " #",
    "#",
    ",",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    "''",
    "\\",
    " ",
    "  ",
    "\t",
    "\u2028",
    "-",
    "- ",
]


def _front_matter(pieces: list[str], plain: bool = False) -> st.SearchStrategy[str]:
    """Front matter of these pieces; ``plain``: fields only, each key once, all keys text."""
    text = st.lists(st.sampled_from(pieces), min_size=1 if plain else 0, max_size=4).map("".join)
    scalar = st.one_of(text, text.map(lambda t: f'"{t}"'), text.map(lambda t: f"'{t}'"))
    listed = st.lists(scalar, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    mapped = st.lists(st.tuples(_KEYS, st.one_of(scalar, listed)), max_size=3).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
    )
    value = st.one_of(scalar, listed, mapped)
    nested = st.one_of(
        st.lists(st.tuples(_KEYS, value), max_size=3).map(lambda kv: "".join(f"\n  {k}: {v}" for k, v in kv)),
        st.lists(scalar, max_size=3).map(lambda items: "".join(f"\n  - {i}" for i in items)),
    )
    line = st.one_of(
        st.tuples(_KEYS, value).map(lambda kv: f"{kv[0]}: {kv[1]}"),
        st.tuples(_KEYS, nested).map(lambda kn: f"{kn[0]}:{kn[1]}"),
        text,
    )
    if plain:
        fields = st.lists(st.sampled_from(_TEXT_KEYS), min_size=1, max_size=6, unique=True)
        return fields.flatmap(
            lambda keys: st.tuples(
                *[st.one_of(value.map(": ".__add__), nested.map(":".__add__)) for _ in keys]
            ).map(lambda values: "\n".join(k + v for k, v in zip(keys, values, strict=True)))
        )
    return st.lists(line, min_size=1, max_size=6).map("\n".join)


@settings(max_examples=500, deadline=None)
@given(front=_front_matter(_PLAIN_PIECES, plain=True))
def test_any_plain_front_matter_reads_the_same_either_way(front: str) -> None:
    full, fast = both(front)
    assert fast == full


@settings(max_examples=500, deadline=None)
@given(front=_front_matter(_PLAIN_PIECES + _OTHER_PIECES))
def test_any_front_matter_reads_the_same_either_way(front: str) -> None:
    full, fast = both(front)
    assert fast == full
