"""Psychotherapy (process) notes stay apart, and so does every addendum that amends one,
directly or through other addenda: in the site, in its search, and in shares."""

from __future__ import annotations

import datetime as dt

import pytest

from note_templates.excerpt import kept_apart
from site_builder.timeline import Entry, assemble


def notes(*rows: tuple[str, str, str | None]) -> dict[str, dict[str, object]]:
    return {
        nid: {"template": template, **({"amends": amends} if amends else {})}
        for nid, template, amends in rows
    }


@pytest.mark.parametrize(
    "rows, private",
    [
        ([("p", "psychotherapy", None), ("s", "soap", None)], {"p"}),
        ([("p", "psychotherapy", None), ("a", "addendum", "p")], {"p", "a"}),
        ([("p", "psychotherapy", None), ("a", "addendum", "p"), ("b", "addendum", "a")], {"p", "a", "b"}),
        (
            [
                ("b", "addendum", "a"),
                ("c", "addendum", "b"),
                ("a", "addendum", "p"),
                ("p", "psychotherapy", None),
            ],
            {"p", "a", "b", "c"},
        ),
        ([("s", "soap", None), ("a", "addendum", "s"), ("b", "addendum", "a")], set()),
        ([("a", "addendum", "b"), ("b", "addendum", "a")], set()),  # a cycle ends, private or not
        ([("a", "addendum", "gone")], set()),  # amends a note not here (purged, damaged)
    ],
)
def test_the_whole_chain_of_amends_is_kept_apart(rows, private) -> None:
    assert kept_apart(notes(*rows)) == private


def entry(note_id: str, day: int, template: str, amends: str | None = None) -> Entry:
    meta = {"template": template, **({"amends": amends} if amends else {})}
    return Entry(note_id, dt.date(2026, 3, day), template, meta, f"text of {note_id}", 1, True)


def test_the_site_hides_addenda_of_addenda_of_a_process_note_unless_asked() -> None:
    chain = [
        entry("p", 17, "psychotherapy"),
        entry("a", 18, "addendum", "p"),
        entry("b", 19, "addendum", "a"),
        entry("s", 20, "soap"),
    ]
    hidden = assemble("AB-1", chain)
    assert [e.note_id for e in hidden.entries] == ["s"] and hidden.hidden_psychotherapy == 3
    assert all(e.note_id == "s" for entries in hidden.addenda.values() for e in entries)
    shown = assemble("AB-1", chain, include_psychotherapy=True)
    assert [e.note_id for e in shown.entries] == ["s", "b", "a", "p"] and shown.hidden_psychotherapy == 0
