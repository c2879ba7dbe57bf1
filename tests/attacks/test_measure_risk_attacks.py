"""Ways a note could carry an endorsed risk answer and still be signed `risk: none`.

Each was tried against the rule of issue 33 (an endorsed PHQ-9 item 9, CORE-10 item 6 or
C-SSRS high answer asks the clinician's words after `risk: none`) and got through before
its fix: the same instrument written twice under two spellings (the rule read only one),
a total that only an endorsed risk item can reach, a YAML merge key whose answers the
note's text shows but its explicit key overrides, and an instrument written as
clinicians spell it (`PHQ-9:`), which was taken for the practitioner's own score.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Env
from helpers.measures import _draft

from note_templates.errors import NoteInvalid
from note_templates.front_matter import _parse, parse
from note_templates.measures import problems, unreviewed_risk

ENDORSED = "{items: [0, 0, 0, 0, 0, 0, 0, 0, 2]}"
CLEAR = "{items: [0, 0, 0, 0, 0, 0, 0, 0, 0]}"


def _judged(measures: str, risk: str = "none") -> tuple[list[tuple[str, str]], str | None]:
    """(measure problems, why `risk:` may not stand) of front matter holding MEASURES."""
    meta, _, _ = _parse(f"\nrisk: {risk}\nmeasures:\n{measures}\n")
    return problems(meta["measures"]), unreviewed_risk(meta)


@pytest.mark.parametrize("second", ["PHQ9", "Phq9", "PHQ-9", "phq_9"])
def test_the_same_instrument_written_twice_is_refused_not_read_once(second: str) -> None:
    # Before: both spellings read as the PHQ-9 and the rule saw only the last, all zeros.
    found, _ = _judged(f"  phq9: {ENDORSED}\n  {second}: {CLEAR}")
    assert any("written twice" in why for _, why in found), found


def test_item_9_endorsed_under_one_spelling_still_asks_for_risk_review() -> None:
    _, why = _judged(f"  phq9: {ENDORSED}\n  PHQ9: {CLEAR}")
    assert why is not None and "item 9" in why


@pytest.mark.parametrize(
    ("measure", "words"),
    [
        ("PHQ-9: 30", "from 0 to 27"),
        ("GAD-7: {items: [1, 2]}", "the GAD-7 has 7"),
        ("C-SSRS: 4", "from 0 to 3"),
    ],
)
def test_an_instrument_spelt_as_clinicians_write_it_is_checked_as_that_instrument(
    measure: str, words: str
) -> None:
    # Before: `PHQ-9: 30` was the practitioner's own score, any number, charted as written.
    found, _ = _judged(f"  {measure}")
    assert any(words in why for _, why in found), found


def test_item_9_endorsed_under_the_published_spelling_asks_for_risk_review(practice: Env) -> None:
    path = _draft(practice, f"  PHQ-9: {ENDORSED}\n", "none")
    checked = practice.run("check", str(path))
    assert checked.code == 1 and "item 9" in checked.err, checked.err
    assert practice.run("sign", str(path)).code == 1
    assert "status: draft" in Path(path).read_text()


# (measure as written, refused with `risk: none`?)
TOTALS = [
    ("phq9: 25", True),  # eight items at most 24: item 9 is at least 1
    ("phq9: 27", True),
    ("phq9: {total: 26}", True),
    ("phq9: {items: null, total: 25}", True),
    ("phq9: 24", False),  # eight items can make it: item 9 unknown
    ("core10: 37", True),  # nine items at most 36: item 6 is at least 1
    ("core10: 36", False),
    ("cssrs: 3", True),  # the high level: only questions 4, 5 or recent behaviour reach it
    ("cssrs: {total: 3}", True),
    ("cssrs: 2", False),  # moderate: reached without a high answer
    ("gad7: 21", False),  # no risk item at all
]  # fmt: skip


@pytest.mark.parametrize(("measure", "refused"), TOTALS)
def test_a_total_only_an_endorsed_risk_item_can_reach_asks_for_risk_review(
    measure: str, refused: bool
) -> None:
    found, why = _judged(f"  {measure}")
    assert found == []
    assert (why is not None) is refused, why


def test_a_total_reached_only_through_item_9_is_refused_at_signing(practice: Env) -> None:
    path = _draft(practice, "  phq9: 26\n", "none")
    before = path.read_bytes()
    signed = practice.run("sign", str(path))
    assert signed.code == 1 and "item 9" in signed.err, signed.err
    assert path.read_bytes() == before


def test_a_merge_key_cannot_override_the_answers_the_note_shows() -> None:
    # The note's text shows item 9 answered 2; PyYAML's merge made it the explicit zeros.
    front = f"---\nclient: AB-1\nrisk: none\nmeasures:\n  <<: {{phq9: {ENDORSED}}}\n  phq9: {CLEAR}\n---\n"
    with pytest.raises(NoteInvalid, match="measures.phq9: written twice"):
        parse(front.encode(), Path("note.md"))


def test_a_merge_key_that_repeats_nothing_is_still_read() -> None:
    found, why = _judged(f"  <<: {{gad7: 3}}\n  phq9: {ENDORSED}")
    assert found == [] and why is not None


@pytest.mark.parametrize(
    "risk", ["none.", "none - .", "none ...", "none !", "none - none", "none, no", "none - n/a", "None - OK"]
)
def test_punctuation_or_none_again_after_the_level_is_not_a_review_of_item_9(risk: str) -> None:
    # Before: `risk: none.` (a full stop typed out of habit) counted as the clinician's words.
    _, why = _judged(f"  phq9: {ENDORSED}", risk)
    assert why is not None


@pytest.mark.parametrize(
    "risk", ["none - reviewed, no intent", "none, denies current ideation", "none; fleeting, none now"]
)
def test_words_after_the_level_let_risk_none_stand(risk: str) -> None:
    _, why = _judged(f"  phq9: {ENDORSED}", risk)
    assert why is None
