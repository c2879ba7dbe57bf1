"""Attacks on `casenotes measure`, the form a client fills in on the practitioner's machine:
what a careless clinician, the client at the keyboard, or another local user could make of it."""

from __future__ import annotations

import pytest

from note_templates.front_matter import _parse
from note_templates.measures import read, with_measure


@pytest.mark.parametrize("spelling", ["PHQ-9", "PHQ9", "phq_9", "'PHQ-9'"])
def test_the_forms_scores_replace_the_instrument_however_the_draft_spells_it(spelling: str) -> None:
    # Before: the scores went in beside `PHQ-9: 12` as a second PHQ-9, and the draft no
    # longer checked (the instrument written twice) until the clinician found which to keep.
    raw = f"---\nclient: AB-1\nmeasures:\n  {spelling}: 12\n  gad7: 3\nrisk:\n---\n\nBody.\n".encode()
    after = with_measure(raw, "phq9", "{items: [1, 1, 1, 1, 1, 1, 1, 1, 0], total: 8}")
    assert after == (
        b"---\nclient: AB-1\nmeasures:\n  phq9: {items: [1, 1, 1, 1, 1, 1, 1, 1, 0], total: 8}\n  gad7: 3\n"
        b"risk:\n---\n\nBody.\n"
    )
    meta, _, _ = _parse(after.decode().split("---")[1])
    assert read("phq9", meta["measures"]["phq9"]).total == 8
