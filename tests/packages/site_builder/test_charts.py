"""The measures a practitioner reads: a chart for every instrument with its published bands,
reliable change drawn as such, DASS-21 by subscale, and every instrument in the overview."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from note_templates.instruments import catalogue
from site_builder import pages
from site_builder.charts import IMPROVED, WORSENED, line_chart, reliable_change
from site_builder.timeline import Entry, assemble

DAYS = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(4)]


def timeline(*measures: dict):
    """A client whose sessions, a week apart, scored MEASURES in turn (fictional)."""
    entries = [
        Entry(f"{n:016x}", DAYS[n], "soap", {"measures": m, "risk": "none"}, "Fictional session.", 1, False)
        for n, m in enumerate(measures)
    ]
    return assemble("AB-1", entries)


@pytest.mark.parametrize("key", [k for k in catalogue() if k != "dass21"])
def test_every_instrument_is_charted_with_its_published_bands(key):
    instrument = catalogue()[key]
    svg = line_chart(key, [(DAYS[0], instrument.high), (DAYS[1], instrument.low)])
    assert svg.startswith('<svg class="cn-chart"') and f'aria-label="{instrument.short} over time"' in svg
    for band in instrument.bands:
        assert f">{band.label}</text>" in svg.replace("&#x27;", "'")
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


# (scale, scores, reliable changes drawn, their colours)
RELIABLE = [
    ("phq9", [20, 13], 1, IMPROVED),  # -7: beyond the 6 points of the IAPT manual
    ("phq9", [20, 15], 0, None),  # -5: within measurement error
    ("phq9", [8, 14], 1, WORSENED),  # +6: exactly the threshold counts
    ("gad7", [15, 11, 8], 1, IMPROVED),  # -4 then -3
    ("core10", [25, 20, 14], 1, IMPROVED),  # -5 then -6
    ("pcl5", [50, 41], 0, None),  # -9: short of the conservative 10
    ("phq15", [20, 2], 0, None),  # no published threshold: nothing claimed
]


@pytest.mark.parametrize(("scale", "scores", "drawn", "colour"), RELIABLE)
def test_a_reliable_change_between_sessions_is_drawn_as_such(scale, scores, drawn, colour):
    svg = line_chart(scale, list(zip(DAYS, scores, strict=False)))
    lines = re.findall(r'<line class="cn-reliable"[^>]*stroke="(#\w+)"', svg)
    assert len(lines) == drawn
    assert all(c == colour for c in lines)
    assert ("reliable change)</text>" in svg) is bool(drawn)  # the key, only when something is marked


@pytest.mark.parametrize(
    ("scale", "before", "after", "words"),
    [
        ("phq9", 18, 12, "reliable improvement"),
        ("phq9", 18, 13, "no reliable change"),
        ("gad7", 6, 10, "reliable deterioration"),
        ("wsas", 30, 5, ""),
    ],
)
def test_reliable_change_words(scale, before, after, words):
    assert reliable_change(scale, before, after) == words


def test_dass21_is_charted_by_subscale_in_the_manuals_bands():
    t = timeline(
        {"dass21": {"items": [3] * 21}},
        {"dass21": {"depression": 10, "anxiety": 8, "stress": 14}},
    )
    page = pages.measures(t)
    for sub, band in (("depression", "mild"), ("anxiety", "mild"), ("stress", "normal")):
        part = page[page.index(f"## DASS-21 {sub}") :]
        end = part.find("\n## ", 1)
        part = part if end < 0 else part[:end]  # this subscale's section alone
        assert f'aria-label="DASS-21 {sub} over time"' in part
        assert "Baseline 42" in part and f"now *{band}*" in part
    assert page.count('<svg class="cn-chart"') == 3


def test_the_overview_table_has_every_instrument_in_use_with_band_and_reliable_change():
    t = timeline(
        {"phq9": {"items": [3, 3, 2, 2, 2, 2, 2, 2, 0]}, "wsas": 30, "audit": 12, "ors": 20},
        {"phq9": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 0]}, "wsas": 18, "audit": 6, "core10": 16, "ors": 31},
    )
    page = pages.overview(t)
    rows = {
        row.split("|")[1].strip(): row
        for row in page.splitlines()
        if row.startswith("| ") and "|---" not in row
    }
    assert set(rows) >= {"PHQ-9", "WSAS", "AUDIT", "CORE-10", "ors"}
    assert "mild" in rows["PHQ-9"] and "-10, reliable improvement" in rows["PHQ-9"]
    assert "significant impairment" in rows["WSAS"] and "reliable" not in rows["WSAS"]
    assert "zone I: low risk" in rows["AUDIT"]
    assert "moderate" in rows["CORE-10"]
    measures = pages.measures(t)
    assert "**-10 since baseline**, reliable improvement, now *mild*." in measures


def test_a_session_whose_answers_endorse_a_risk_item_says_so_beside_the_clinicians_risk():
    t = timeline(
        {"phq9": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 1]}},
        {"phq9": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 0]}},
    )
    first, second = (pages.session(t, entry) for entry in reversed(t.entries))
    assert "**Risk items endorsed:** PHQ-9 item 9" in first
    assert "Risk items endorsed" not in second
