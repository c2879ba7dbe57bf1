"""Risk as a level and words (issue 30, item 1): never guessed from the clinician's phrasing.

The week of a practitioner, as the issue tells it: `risk: denies SI/HI` showed as a bold
risk flag, `risk: low: passive death wish` as no risk at all. Now a note says its level,
`check`, `sign` and syncd refuse a risk with no level, and the site colours and ranks by it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from site_fixtures import FINISHED, note

from note_templates.risk import LEVELS, parse_risk
from site_builder import build_site
from site_builder.timeline import Entry, assemble
from vault import Passphrase

FIVE_WORDS = "none, low, moderate, high, imminent"


def _draft(env: Env, name: str, risk: str) -> Path:
    path = env.practice.inbox / name
    path.write_text(note("0123456789abcdef", "2026-11-20", status="draft", extra=f"risk: {risk}\n"))
    return path


def _today() -> dt.date:
    return dt.datetime.now().astimezone().date()


def _line(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(start))


@pytest.mark.parametrize(
    "written", ["denies SI/HI", "No SI/HI reported", "no risk identified", "risk factors considered", "N/A"]
)
def test_check_refuses_a_risk_with_no_level_naming_the_line_and_the_five_words(
    practice: Env, written: str
) -> None:
    path = _draft(practice, "a.md", written)
    result = practice.run("check", str(path))
    assert result.code == 1
    assert f"{path}:{_line(path, 'risk:')}: risk: begins with no level" in result.err
    assert FIVE_WORDS in result.err and "risk: none - denies SI/HI" in result.err
    assert "SI/HI reported" not in result.err and "identified" not in result.err  # never the note's words


def test_sign_and_syncd_refuse_a_risk_with_no_level_and_keep_the_draft(practice: Env) -> None:
    path = _draft(practice, "a.md", "denies SI/HI")
    before = path.read_bytes()
    signed = practice.run("sign", str(path))
    assert signed.code == 1 and "begins with no level" in signed.err and path.read_bytes() == before
    synced = practice.run("syncd", "--once")
    assert "sealed 0" in synced.text or "sealed" not in synced.text, synced.text
    assert path.read_bytes() == before  # kept in the inbox, never sealed half-understood
    status = practice.run("status")
    assert "a.md  AB-1    error:" in status.text and "begins with no level" in status.text
    path.write_text(path.read_text().replace("risk: denies SI/HI", "risk: none - denies SI/HI"))
    assert practice.run("check", str(path)).code == 0
    assert "sealed 1" in practice.run("syncd", "--once").text  # a draft: sealed, kept to write on


def test_an_empty_risk_on_a_session_note_cannot_be_signed_and_the_message_shows_the_form(
    practice: Env,
) -> None:
    result = practice.run("new", "AB-1", "--no-edit", "--template", "dap")
    path = Path(result.text.strip())
    assert (
        "# risk: a level (none, low, moderate, high, imminent)" in path.read_text()
    )  # the template shows it
    refused = practice.run("sign", str(path))
    assert refused.code == 1
    assert f"risk (line {_line(path, 'risk:')}) is not assessed: write a level ({FIVE_WORDS})" in refused.err


@pytest.mark.parametrize(
    ("written", "level", "words"),
    [
        ("none - denies SI/HI", "none", "denies SI/HI"),
        ("none", "none", ""),
        ("Low - passive death wish, no plan", "low", "passive death wish, no plan"),
        ("moderate, plan without intent", "moderate", "plan without intent"),
        ("high \u2014 considered an overdose", "high", "considered an overdose"),
        ("imminent", "imminent", ""),
        ("denies SI/HI", None, "denies SI/HI"),
        ("nonetheless passive", None, "nonetheless passive"),
        ("lowered mood", None, "lowered mood"),
    ],
)
def test_parse_risk_reads_the_level_and_keeps_the_words(written: str, level: str | None, words: str) -> None:
    risk = parse_risk(written)
    assert (risk.level, risk.words) == (level, words)
    assert risk.rank == (LEVELS.index(level) if level else 1)


def _entry(note_id: str, day: dt.date, risk: str | None, kind: str = "soap") -> Entry:
    return Entry(note_id, day, kind, {} if risk is None else {"risk": risk}, "", 1, True)


def test_denies_si_hi_with_level_none_raises_no_flag_and_a_low_note_is_a_flag() -> None:
    today = dt.date(2026, 12, 7)
    entries = [
        _entry("a" * 16, dt.date(2026, 11, 30), "none - denies SI/HI"),
        _entry("b" * 16, dt.date(2026, 11, 23), "none - denies SI/HI"),
        _entry("c" * 16, dt.date(2026, 11, 16), "low - passive death wish in October, no plan or intent"),
    ]
    timeline = assemble("AB-1", entries, today=today)
    assert [e.note_id for e in timeline.risk_flags()] == ["c" * 16]  # two denials: no flag
    safety = timeline.safety()
    assert safety.level == "low" and safety.highest is entries[2] and not safety.clear


@pytest.mark.parametrize(
    ("risks", "level", "clear"),
    [
        (["none", "none - denies SI/HI", "none"], "none", True),
        (["none", "high - overdose considered", "low"], "high", False),
        (["imminent - plan and means", "none", "moderate"], "imminent", False),
        (["none", None, "none"], "none", False),  # one session not assessed: never "no risk recorded"
        (["none", "denies SI/HI", "none"], "none", False),  # level not recorded: not clear either
    ],
)
def test_the_banner_ranks_by_level_and_says_clear_only_when_every_session_says_none(
    risks: list[str | None], level: str, clear: bool
) -> None:
    today = dt.date(2026, 12, 7)
    entries = [_entry(f"{n:x}" * 16, today - dt.timedelta(days=7 * (n + 1)), r) for n, r in enumerate(risks)]
    safety = assemble("AB-1", entries, today=today).safety()
    assert (safety.level, safety.clear) == (level, clear)


def test_a_high_risk_outside_ninety_days_is_not_the_banners_but_the_history_keeps_it() -> None:
    today = dt.date(2026, 12, 7)
    entries = [
        _entry("a" * 16, today - dt.timedelta(days=7), "none"),
        _entry("b" * 16, today - dt.timedelta(days=120), "high - overdose considered"),
    ]
    timeline = assemble("AB-1", entries, today=today)
    assert timeline.safety().clear and timeline.safety().level == "none"
    assert [e.note_id for e in timeline.risk_flags()] == ["b" * 16]


def _built(env: Env, tmp_path: Path, handle: str = "AB-1"):
    vault = env.vault()
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    directory = tmp_path / "ram"
    directory.mkdir(parents=True)
    return build_site(vault, practitioner, vault.resolve(handle), handle, directory)


def _text(site, page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (site.html / page).read_text()))


def test_a_note_signed_before_levels_keeps_its_words_and_shows_level_not_recorded(
    practice: Env, tmp_path: Path
) -> None:
    """Sealed as an older casenotes sealed it (no level), it is read back, never refused,
    and an addendum to it can still be started."""
    today = _today()
    old = (today - dt.timedelta(days=20)).isoformat()
    with practice.vault() as vault:
        text = note("fffffffffffffff1", old, extra="risk: denies SI/HI, safety plan reviewed\n")
        vault.seal(vault.resolve("AB-1"), "fffffffffffffff1", text.encode(), final=True)
    site = _built(practice, tmp_path)
    overview = _text(site, "index.html")
    assert "Risk, level not recorded" in overview and "level not recorded denies SI/HI" in overview
    assert "No risk recorded" not in overview and "Risk unclear" in overview
    raw = (site.html / "index.html").read_text()
    assert 'class="admonition example"' in raw  # unclear: never the green of none
    timeline = _text(site, "timeline.html")
    assert "risk: level not recorded denies SI/HI, safety plan reviewed" in timeline
    assert practice.run("addendum", "fffffffffffffff1", "--no-edit").code == 0
    assert practice.run("cat", "AB-1").code == 0


def test_the_built_overview_flags_low_and_not_none_and_colours_the_banner(
    practice: Env, tmp_path: Path
) -> None:
    today = _today()
    days = [(today - dt.timedelta(days=d)).isoformat() for d in (21, 14, 7)]
    inbox = practice.practice.inbox
    body = FINISHED.format("Subjective", "Objective", "Assessment", "Plan")
    for name, day, risk in zip(
        "abc",
        days,
        ["low - passive death wish, no plan", "none - denies SI/HI", "none - denies SI/HI"],
        strict=True,
    ):
        (inbox / f"{name}.md").write_text(
            note(f"ddddddddddddddd{name}", day, extra=f"risk: {risk}\n", body=body)
        )
    assert "sealed 3" in practice.run("syncd", "--once").text
    site = _built(practice, tmp_path)
    raw = (site.html / "index.html").read_text()
    overview = _text(site, "index.html")
    assert overview.count("Risk (") == 1 and "passive death wish, no plan" in overview
    first = raw.index('class="admonition')
    assert raw[first:].startswith('class="admonition info"')  # low: the banner's colour
    banner = raw[first : raw.index("</div>", first)]
    assert "the highest in the last 90 days" in banner and "passive death wish" in banner
    assert "denies SI/HI" in banner  # the last session's words
