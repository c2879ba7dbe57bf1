"""The catalogue of instruments: each one scores and bands as its source publishes, and a
damaged data file is named, not half-read."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch

import pytest
from conftest import ROOT

from note_templates import instruments
from note_templates.errors import CatalogueInvalid
from note_templates.instruments import CATALOGUE, catalogue

KEYS = ("phq9", "gad7", "pcl5", "phq15", "dass21", "wsas", "audit", "core10", "cssrs")


def test_the_catalogue_holds_every_instrument_the_practitioner_can_write():
    assert set(catalogue()) == set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_every_instrument_names_its_source_licence_and_band_source(key):
    instrument = catalogue()[key]
    assert instrument.source and instrument.licence and instrument.bands_source
    assert instrument.bands or instrument.subscales  # something to read a score against


# (instrument, total, band) at each published cut point and either side of it.
BANDS = [
    # Kroenke, Spitzer and Williams 2001
    ("phq9", 0, "minimal"), ("phq9", 4, "minimal"), ("phq9", 5, "mild"), ("phq9", 9, "mild"),
    ("phq9", 10, "moderate"), ("phq9", 14, "moderate"), ("phq9", 15, "moderately severe"),
    ("phq9", 19, "moderately severe"), ("phq9", 20, "severe"), ("phq9", 27, "severe"),
    # Spitzer et al. 2006
    ("gad7", 4, "minimal"), ("gad7", 5, "mild"), ("gad7", 10, "moderate"), ("gad7", 15, "severe"), ("gad7", 21, "severe"),
    # National Center for PTSD: 31-33 probable PTSD
    ("pcl5", 32, "below the probable-PTSD cut point"), ("pcl5", 33, "probable PTSD"), ("pcl5", 80, "probable PTSD"),
    # Kroenke et al. 2002: 5, 10, 15
    ("phq15", 4, "minimal"), ("phq15", 5, "low"), ("phq15", 10, "medium"), ("phq15", 15, "high"), ("phq15", 30, "high"),
    # Mundt et al. 2002: below 10, 10 to 20, above 20
    ("wsas", 9, "subclinical"), ("wsas", 10, "significant impairment"), ("wsas", 20, "significant impairment"),
    ("wsas", 21, "moderately severe or worse"),
    # WHO (Babor et al. 2001): 8, 16, 20
    ("audit", 7, "zone I: low risk"), ("audit", 8, "zone II: hazardous"), ("audit", 15, "zone II: hazardous"),
    ("audit", 16, "zone III: harmful"), ("audit", 19, "zone III: harmful"), ("audit", 20, "zone IV: possible dependence"),
    # Connell and Barkham 2007: 10/14/19/24, clinical from 11
    ("core10", 5, "healthy"), ("core10", 6, "low level"), ("core10", 10, "low level"), ("core10", 11, "mild"),
    ("core10", 14, "mild"), ("core10", 15, "moderate"), ("core10", 19, "moderate"), ("core10", 20, "moderate to severe"),
    ("core10", 24, "moderate to severe"), ("core10", 25, "severe"), ("core10", 40, "severe"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "total", "band"), BANDS)
def test_a_total_falls_in_the_band_its_source_publishes(key, total, band):
    assert catalogue()[key].band(total) == band


# (instrument, answers, total, why risk is asked about)
SCORED = [
    ("phq9", [1, 2, 0, 1, 3, 0, 1, 2, 0], 10, ()),
    ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1], 1, ("item 9",)),
    ("phq9", [3] * 9, 27, ("item 9",)),
    ("gad7", [2, 2, 1, 1, 0, 3, 1], 10, ()),
    ("pcl5", [2] * 16 + [1] * 4, 36, ()),
    ("phq15", [1, 0, 2, 0, 1, 0, 0, 0, 1, 1, 0, 2, 1, 2, 2], 13, ()),
    ("wsas", [8, 6, 4, 2, 0], 20, ()),
    ("audit", [4, 4, 4, 4, 4, 4, 4, 4, 4, 4], 40, ()),
    ("audit", [1, 0, 1, 0, 0, 0, 0, 0, 2, 4], 8, ()),
    ("core10", [1, 2, 2, 1, 0, 0, 3, 1, 2, 0], 12, ()),
    ("core10", [0, 0, 0, 0, 0, 1, 0, 0, 0, 0], 1, ("item 6",)),
    # C-SSRS screener triage: the highest level any yes reaches
    ("cssrs", [0, 0, 0, 0, 0, 0, 0], 0, ()),
    ("cssrs", [1, 0, 0, 0, 0, 0, 0], 1, ()),
    ("cssrs", [1, 1, 1, 0, 0, 0, 0], 2, ()),
    ("cssrs", [0, 0, 0, 0, 0, 1, 0], 2, ()),  # behaviour, but not in the past 3 months
    ("cssrs", [1, 1, 1, 1, 0, 0, 0], 3, ("question 4",)),
    ("cssrs", [1, 1, 1, 1, 1, 0, 0], 3, ("question 4", "question 5")),
    ("cssrs", [0, 0, 0, 0, 0, 1, 1], 3, ("past 3 months",)),
]


@pytest.mark.parametrize(("key", "answers", "total", "risk"), SCORED)
def test_answers_score_to_the_published_total_and_flag_the_risk_items(key, answers, total, risk):
    scored = catalogue()[key].score(answers)
    assert scored.total == total
    assert len(scored.risk) == len(risk)
    for why, words in zip(scored.risk, risk, strict=True):
        assert words in why


def test_the_cssrs_bands_read_its_triage_levels():
    cssrs = catalogue()["cssrs"]
    assert [cssrs.band(level) for level in range(4)] == ["no risk answered", "low", "moderate", "high"]


# DASS-21 (Lovibond and Lovibond 1995): each subscale's seven items summed and doubled.
DASS = [
    # depression raw 5 -> 10 mild; anxiety raw 4 -> 8 mild; stress raw 7 -> 14 normal
    ({3: 1, 5: 1, 10: 1, 13: 1, 16: 1, 2: 2, 4: 2, 1: 1, 6: 1, 8: 1, 11: 1, 12: 1, 14: 1, 18: 1},
     {"depression": (10, "mild"), "anxiety": (8, "mild"), "stress": (14, "normal")}),
    # every depression item at 2: 28, extremely severe; anxiety 7 at 1: 14 moderate; stress 8: 16 mild
    ({**dict.fromkeys([3, 5, 10, 13, 16, 17, 21], 2), **dict.fromkeys([2, 4, 7, 9, 15, 19, 20], 1),
      1: 2, 6: 2, 8: 1, 11: 1, 12: 1, 14: 1},
     {"depression": (28, "extremely severe"), "anxiety": (14, "moderate"), "stress": (16, "mild")}),
    ({}, {"depression": (0, "normal"), "anxiety": (0, "normal"), "stress": (0, "normal")}),
    ({n: 3 for n in range(1, 22)},
     {"depression": (42, "extremely severe"), "anxiety": (42, "extremely severe"), "stress": (42, "extremely severe")}),
]  # fmt: skip


@pytest.mark.parametrize(("answered", "expected"), DASS)
def test_dass21_subscales_are_their_items_summed_and_doubled_in_the_manuals_bands(answered, expected):
    dass = catalogue()["dass21"]
    answers = [answered.get(n, 0) for n in range(1, 22)]
    scored = dass.score(answers)
    got = {name: (value, dass.band(value, name)) for name, value in scored.subscales}
    assert got == expected
    assert scored.total == sum(v for v, _ in expected.values())


def test_the_audits_last_two_items_take_only_0_2_or_4():
    items = catalogue()["audit"].items
    assert items.values(9) == items.values(10) == (0, 2, 4)
    assert items.values(1) == (0, 1, 2, 3, 4)
    assert [a.label for a in items.choices(2)][-1] == "10 or more"


@pytest.mark.parametrize(("key", "change"), [("phq9", 6), ("gad7", 4), ("core10", 6), ("pcl5", 10)])
def test_the_published_reliable_change_thresholds(key, change):
    assert catalogue()[key].reliable_change.points == change


@pytest.mark.parametrize("key", ["core10", "cssrs"])
def test_instruments_whose_licence_forbids_showing_their_items_hold_no_wording(key):
    instrument = catalogue()[key]
    assert not instrument.show_items and not instrument.items.wording and not instrument.form_ready


@pytest.mark.parametrize("key", ["phq9", "gad7", "pcl5", "phq15", "dass21", "wsas", "audit"])
def test_freely_reproducible_instruments_are_offered_on_the_client_form(key):
    instrument = catalogue()[key]
    assert instrument.form_ready
    assert len(instrument.items.wording) == instrument.items.count


def test_the_wheel_ships_every_instrument_file():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["note_templates"]
    files = [p.relative_to(CATALOGUE.parent).as_posix() for p in CATALOGUE.glob("*.yml")]
    assert files and all(any(fnmatch(f, pat) for pat in patterns) for f in files)


BROKEN = [
    ("key: other\n", "key", "must match"),
    ("key: phq9\nscoring: average\n", "scoring", "must be one of"),
    (
        "key: phq9\nshort: X\nname: X\nsource: X\nlicence: X\nshow_items: true\nscoring: sum\nrange: [0, 27]\n"
        "items: {count: 9, low: 0, high: 3}\nbands: {source: X, list: [[0, 4, a], [6, 27, b]]}\n",
        "bands.list",
        "without gaps",
    ),
    (
        "key: phq9\nshort: X\nname: X\nsource: X\nlicence: X\nshow_items: true\nscoring: sum\nrange: [0, 30]\n"
        "items: {count: 9, low: 0, high: 3}\nbands: {source: X, list: [[0, 30, a]]}\n",
        "range",
        "0 to 27",
    ),
    (
        "key: phq9\nshort: X\nname: X\nsource: X\nlicence: X\nshow_items: true\nscoring: sum\nrange: [0, 27]\n"
        "items: {count: 9, low: 0, high: 3, wording: [one, two]}\nbands: {source: X, list: [[0, 27, a]]}\n",
        "items.wording",
        "has 2 items",
    ),
    ("key: phq9\nsource: a: b\n", "file", "line 2"),
]


@pytest.mark.parametrize(("text", "field", "words"), BROKEN)
def test_a_damaged_instrument_file_is_named_with_its_field(tmp_path, monkeypatch, text, field, words):
    (tmp_path / "phq9.yml").write_text(text)
    monkeypatch.setattr(instruments, "CATALOGUE", tmp_path)
    instruments.catalogue.cache_clear()
    try:
        with pytest.raises(CatalogueInvalid) as caught:
            instruments.catalogue()
    finally:
        instruments.catalogue.cache_clear()
    assert caught.value.field == field and words in str(caught.value)
    assert "phq9.yml" in str(caught.value)


@pytest.mark.parametrize("key", KEYS)
def test_the_user_guide_lists_each_instrument_with_its_source_and_licence(key):
    guide = (ROOT / "docs" / "writing.md").read_text()
    row = next((line for line in guide.splitlines() if line.startswith(f"| `{key}` |")), None)
    assert row is not None, key
    short = catalogue()[key].short.split()[0]
    assert (
        short in row and len(row.split("|")) == 10
    )  # key, name, items, bands, change, source, licence, form
