"""The fictional practice `casenotes demo`, the benchmarks and the tests are built from: the
same every time it is asked for, and every note in it one `casenotes check` accepts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import fiction
from note_templates import available
from note_templates.front_matter import check

TODAY = dt.date(2026, 11, 20)
HEADINGS = {name: re.findall(r"(?m)^## +(.+?)\s*$", t.text) for name, t in available().items()}


def test_the_demo_story_is_the_same_every_time_and_its_notes_pass_check() -> None:
    story = fiction.demo_story(TODAY, HEADINGS)
    assert story == fiction.demo_story(TODAY, HEADINGS)
    assert [client.person.handle for client in story] == fiction.demo_handles()
    notes = [(name, text) for client in story for name, text in client.notes]
    assert all(check(text, Path(name)) == [] for name, text in notes)
    ids = [re.search(rb"(?m)^id: (\S+)$", text)[1] for _, text in notes]
    assert len(ids) == len(set(ids)), "two demo notes share an id"


def test_the_demo_story_holds_what_the_demo_shows() -> None:
    """One risk flagged, a process note, a minor, a discharged client, one past retention
    and one on legal hold: each is a page or a line of `casenotes demo` someone reads."""
    story = fiction.demo_story(TODAY, HEADINGS)
    texts = [text for client in story for _, text in client.notes]
    assert sum(fiction.RISK_FLAG.encode() in text for text in texts) == 1
    assert any(b"template: psychotherapy" in text for text in texts)
    assert any(dt.date.fromisoformat(c.person.dob) > TODAY.replace(year=TODAY.year - 18) for c in story)
    assert sum(client.closed is not None for client in story) == 3
    assert [client.person.handle for client in story if client.hold] == [story[7].person.handle]


def test_a_seed_gives_the_same_clients_and_another_seed_others() -> None:
    assert fiction.clients(6, seed=3) == fiction.clients(6, seed=3)
    assert fiction.clients(6, seed=3) != fiction.clients(6, seed=4)
    note = fiction.note("CL-0001", TODAY, "0123456789abcdef", 2)
    assert note == fiction.note("CL-0001", TODAY, "0123456789abcdef", 2)
    assert check(note, Path("CL-0001.md")) == []
