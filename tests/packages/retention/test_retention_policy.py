"""Retention due dates: the rules as a pure function, at their boundaries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from casenotes.config import ConfigError, Settings
from retention import PRESETS, Facts, PolicyInvalid, decide, policy_from
from retention.policy import add_years, retain_until

D = dt.date.fromisoformat
APA = PRESETS["apa"]


def facts(last: str | None = None, born: str | None = None, closed: str | None = None, **kinds: str) -> Facts:
    sessions = {"soap": D(last)} if last else {}
    sessions |= {kind: D(day) for kind, day in kinds.items()}
    return Facts(
        created=D("2010-01-01"),
        last_sessions=sessions,
        born=D(born) if born else None,
        closed=D(closed) if closed else None,
    )


@pytest.mark.parametrize(
    ("preset", "case", "until", "rule"),
    [
        # adults: years after the later of the last session and the discharge
        ("apa", facts("2020-03-10"), "2027-03-10", "last session or discharge"),
        ("apa", facts("2020-03-10", closed="2020-06-30"), "2027-06-30", "last session or discharge"),
        ("apa", facts("2020-03-10", born="1980-01-01"), "2027-03-10", "last session or discharge"),
        ("pennsylvania", facts("2020-03-10"), "2025-03-10", "last session or discharge"),
        ("new-york", facts("2020-03-10"), "2026-03-10", "last session or discharge"),
        ("california", facts("2020-03-10", closed="2021-01-15"), "2028-01-15", "last session or discharge"),
        # minors: the later of that and the minor rule
        ("apa", facts("2020-01-01", born="2010-06-01"), "2031-06-01", "age of majority"),
        ("apa", facts("2020-01-01", born="2004-06-01"), "2027-01-01", "last session or discharge"),
        ("california", facts("2020-01-01", born="2010-06-01"), "2035-06-01", "age of majority"),
        ("new-york", facts("2015-01-01", born="2010-01-01"), "2032-01-01", "age 22"),
        ("pennsylvania", facts("2020-01-01", born="2010-06-01"), "2028-06-01", "age of majority"),
        # born on 29 February: the birthday falls on 1 March, never earlier
        ("apa", facts("2010-01-01", born="2008-02-29"), "2029-03-01", "age of majority"),
        # a client with no session yet counts from the day they were added
        ("apa", facts(), "2017-01-01", "last session or discharge"),
    ],
)
def test_due_dates(preset: str, case: Facts, until: str, rule: str) -> None:
    assert retain_until(case, PRESETS[preset]) == (D(until), rule)


def test_a_kind_kept_longer_sets_the_date_when_it_ends_last() -> None:
    policy = policy_from({"preset": "apa", "kinds": {"intake": 10}})
    assert retain_until(facts("2018-01-01", intake="2016-05-01"), policy) == (
        D("2026-05-01"),
        "last intake note",
    )
    assert retain_until(facts("2018-01-01", intake="2014-05-01"), policy)[0] == D("2025-01-01")


@pytest.mark.parametrize(
    ("today", "state"),
    [
        ("2027-03-10", "active"),  # the last day records must be kept
        ("2027-03-11", "in notice"),  # listed as due; nothing is destroyed yet
        ("2027-04-09", "in notice"),  # the 30th day of notice
        ("2027-04-10", "due"),  # the first day a purge may run
        ("2040-01-01", "due"),
    ],
)
def test_the_notice_period_comes_before_anything_is_destroyed(today: str, state: str) -> None:
    decision = decide(facts("2020-03-10"), APA, D(today))
    assert decision.state == state
    assert decision.purgeable is (state == "due")
    assert decision.dispose_on == D("2027-04-10")


def test_a_hold_wins_over_every_date() -> None:
    held = Facts(created=D("2000-01-01"), last_sessions={"soap": D("2001-01-01")}, holds={"h": "subpoena"})
    assert decide(held, APA, D("2040-01-01")).state == "held"
    assert not decide(held, APA, D("2040-01-01")).purgeable


def test_closed_until_a_later_session_reopens_the_client() -> None:
    assert decide(facts("2024-01-01", closed="2024-02-01"), APA, D("2026-01-01")).state == "closed"
    assert decide(facts("2024-03-01", closed="2024-02-01"), APA, D("2026-01-01")).state == "active"


def test_add_years_keeps_the_day_or_moves_to_1_march() -> None:
    assert add_years(D("2020-02-29"), 1) == D("2021-03-01")
    assert add_years(D("2020-02-29"), 4) == D("2024-02-29")
    assert add_years(D("2021-12-31"), 7) == D("2028-12-31")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"preset": "texas"}, "preset"),
        ({"adult_years": -1}, "adult_years"),
        ({"adult_years": "seven"}, "adult_years"),
        ({"notice_days": True}, "notice_days"),
        ({"kinds": {"intake": "ten"}}, "kinds"),
        ({"kinds": ["intake"]}, "kinds"),
    ],
)
def test_a_bad_policy_names_its_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        policy_from(settings)
    assert caught.value.key == key


def test_overrides_change_a_preset_and_say_so() -> None:
    policy = policy_from({"preset": "new-york", "adult_years": 10})
    assert policy.adult_years == 10 and policy.minor_until_age == 22
    assert "changed in casenotes.yml" in policy.describe()


def test_casenotes_yml_round_trips_and_names_a_wrong_retention_key(tmp_path: Path) -> None:
    written = yaml.safe_load(Settings().to_yaml())
    assert Settings.from_mapping(written, tmp_path / "casenotes.yml").policy() == APA
    cases: list[tuple[dict[str, Any], str]] = [
        ({"retention": {"preset": "mars"}}, "retention.preset"),
        ({"retention": {"time": "25:00"}}, "retention.time"),
        ({"retention": {"max_unattended": 0}}, "retention.max_unattended"),
        ({"retention": {"keep_forever": True}}, "retention.keep_forever"),
        ({"retention": "apa"}, "retention"),
    ]
    for bad, key in cases:
        with pytest.raises(ConfigError) as caught:
            Settings.from_mapping(bad, tmp_path / "casenotes.yml")
        assert caught.value.key == key
