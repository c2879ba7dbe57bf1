"""Scores written in a note: a total or the items that make it, checked; answers that signal
risk keep `risk: none` from standing without the clinician's words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import Env
from helpers.measures import _draft
from hypothesis import given, settings
from hypothesis import strategies as st

from note_templates import plain_yaml
from note_templates.front_matter import _Loader
from note_templates.instruments import catalogue
from note_templates.measures import MeasureWrong, read, unreviewed_risk, written
from site_builder.timeline import Entry

PHQ9_TEN = [1, 2, 0, 1, 3, 0, 1, 2, 0]


# (key, value as YAML gives it, total, subscales)
READ = [
    ("phq9", 12, 12.0, ()),
    ("phq9", {"items": PHQ9_TEN}, 10.0, ()),
    ("phq9", {"items": PHQ9_TEN, "total": 10}, 10.0, ()),
    ("gad7", {"total": 9}, 9.0, ()),
    ("cssrs", {"items": [True, True, False, False, False, False, False]}, 1.0, ()),
    ("dass21", {"depression": 14, "anxiety": 8, "stress": 20}, None, (("depression", 14), ("anxiety", 8), ("stress", 20))),
    ("ors", 31.5, 31.5, ()),  # the practitioner's own score: any number, as before
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "total", "subscales"), READ)
def test_a_score_is_read_from_its_total_or_worked_out_from_its_items(key, value, total, subscales):
    reading = read(key, value)
    assert reading.total == total and reading.subscales == subscales


def test_a_blank_score_is_not_measured():
    assert read("phq9", None) is None


# (key, value, words the practitioner reads)
WRONG = [
    ("phq9", {"items": PHQ9_TEN[:8]}, "has 8 items; the PHQ-9 has 9"),
    ("phq9", {"items": [*PHQ9_TEN[:8], 4]}, "item 9 must be one of 0, 1, 2, 3"),
    ("phq9", {"items": [*PHQ9_TEN[:8], "often"]}, "item 9 must be one of"),
    ("phq9", {"items": PHQ9_TEN, "total": 12}, "total does not match its items"),
    ("phq9", {"items": "1 2 0"}, "items must be a list of 9 answers"),
    ("phq9", {"itmes": PHQ9_TEN}, "unknown field 'itmes'"),
    ("phq9", 28, "from 0 to 27"),
    ("phq9", True, "from 0 to 27"),
    ("audit", {"items": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]}, "item 9 must be one of 0, 2, 4"),
    ("wsas", {"items": [9, 0, 0, 0, 0]}, "item 1 must be one of 0 to 8"),
    ("phq15", {"items": [True] + [0] * 14}, "item 1 must be one of 0, 1, 2"),  # yes/no only where the answers are
    ("dass21", 30, "not one number"),
    ("dass21", {"depression": 15, "anxiety": 8, "stress": 20}, "depression must be an even number"),
    ("dass21", {"items": [1] * 21, "stress": 12}, "stress does not match its items"),
    ("ors", {"items": [1, 2]}, "must be a number"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "words"), WRONG)
def test_a_wrong_score_is_refused_in_words_that_say_how_to_write_it(key, value, words):
    with pytest.raises(MeasureWrong) as caught:
        read(key, value)
    assert words in str(caught.value)


def test_a_refused_score_never_quotes_the_value():
    with pytest.raises(MeasureWrong) as caught:
        read("phq9", {"items": PHQ9_TEN, "total": 23})
    assert "23" not in str(caught.value) and "10" not in str(caught.value)


# (risk as written, measures, refused?)
RISK = [
    ("none", {"phq9": {"items": [0] * 8 + [1]}}, True),
    ("none", {"core10": {"items": [0] * 5 + [1] + [0] * 4}}, True),
    ("none", {"cssrs": {"items": [1, 1, 1, 1, 0, 0, 0]}}, True),
    ("none", {"cssrs": {"items": [0, 0, 0, 0, 0, 1, 1]}}, True),
    ("none - item 9 endorsed, reviewed with the client, passing thought last week, none now", {"phq9": {"items": [0] * 8 + [1]}}, False),
    ("low - passive thoughts, safety plan reviewed", {"phq9": {"items": [0] * 8 + [2]}}, False),
    ("none", {"phq9": {"items": [3] * 8 + [0]}}, False),  # severe, but item 9 unendorsed
    ("none", {"phq9": 20}, False),  # a total alone cannot say what item 9 was
    ("none", {"cssrs": {"items": [1, 1, 1, 0, 0, 1, 0]}}, False),  # moderate: not a high answer
]  # fmt: skip


@pytest.mark.parametrize(("risk", "measures", "refused"), RISK)
def test_risk_none_stands_against_a_risk_item_only_with_words(risk, measures, refused):
    assert (unreviewed_risk({"risk": risk, "measures": measures}) is not None) is refused


def test_the_site_reads_totals_from_items_and_dass21_by_subscale():
    import datetime as dt

    meta = {
        "measures": {
            "phq9": {"items": PHQ9_TEN},
            "gad7": 7,
            "dass21": {"items": [1] * 21},
            "pcl5": {"items": [9] * 20},  # unreadable: left off the page, named by `check`
            "audit": 3.5,  # a number sealed before today's rules: shown as written
        }
    }
    entry = Entry("0123456789abcdef", dt.date(2026, 11, 20), "soap", meta, "", 1, False)
    assert entry.measures == {
        "phq9": 10.0,
        "gad7": 7.0,
        "dass21.depression": 14.0,
        "dass21.anxiety": 14.0,
        "dass21.stress": 14.0,
        "audit": 3.5,
    }


# -- through the command line ------------------------------------------------------------------


def line_of(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(start))


def test_phq9_item_9_endorsed_with_risk_none_is_refused_by_check_and_sign_with_the_reason(practice: Env):
    path = _draft(practice, "  phq9: {items: [1, 1, 0, 1, 0, 0, 1, 0, 1]}\n", "none")
    before = path.read_bytes()
    checked = practice.run("check", str(path))
    assert checked.code == 1
    assert f"{path}:{line_of(path, 'risk:')}: risk: is none, but PHQ-9 item 9" in checked.err, checked.err
    assert "write after the level what you reviewed" in checked.err
    signed = practice.run("sign", str(path))
    assert signed.code == 1 and "PHQ-9 item 9" in signed.err and "cannot be signed yet" in signed.err
    assert path.read_bytes() == before  # nothing changed, nothing signed
    # the clinician says why: now it checks and signs
    path.write_text(
        path.read_text().replace(
            "risk: none\n", "risk: none - item 9 endorsed; reviewed, no current ideation\n"
        )
    )
    assert practice.run("check", str(path)).code == 0
    assert practice.run("sign", str(path)).code == 0
    assert "status: signed" in path.read_text()


def test_a_wrong_item_count_is_named_with_its_line_and_field(practice: Env):
    path = _draft(practice, "  gad7: {items: [1, 2, 0]}\n", "none, denies ideation")
    checked = practice.run("check", str(path))
    assert checked.code == 1
    assert f"{path}:{line_of(path, '  gad7:')}: measures.gad7: has 3 items; the GAD-7 has 7" in checked.err


def test_syncd_keeps_a_signed_note_with_unreviewed_risk_in_the_inbox(practice: Env):
    path = _draft(practice, "  phq9: {items: [0, 0, 0, 0, 0, 0, 0, 0, 2]}\n", "none")
    path.write_text(path.read_text().replace("status: draft", "status: signed"))
    before = path.read_bytes()
    result = practice.run("syncd", "--once")
    assert path.read_bytes() == before and "PHQ-9 item 9" in result.err


@pytest.mark.parametrize("key", [k for k, i in catalogue().items() if i.form_ready])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_answers_written_as_the_form_writes_them_read_back_to_the_same_score(key, data):
    instrument = catalogue()[key]
    answers = tuple(
        data.draw(st.sampled_from(instrument.items.values(n))) for n in range(1, instrument.items.count + 1)
    )
    text = written(instrument, answers)
    reading = read(key, yaml.safe_load(text))
    scored = instrument.score(answers)
    assert reading.items == answers and reading.subscales == scored.subscales
    assert reading.total == (None if instrument.subscales else scored.total)
    assert plain_yaml.load(f"\nmeasures:\n  {key}: {text}\n", _Loader) is not None  # the fast reader's subset
