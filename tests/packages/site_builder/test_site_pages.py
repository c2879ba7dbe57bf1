"""A real `mkdocs build` of one client's site: the pages and what they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from site_fixtures import MARKER, seal_story

from site_builder import build_site
from vault import Passphrase


def built(env: Env, tmp_path: Path, include_psychotherapy: bool = False):
    vault = env.vault()
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    directory = tmp_path / "ram"
    directory.mkdir(parents=True)
    return build_site(vault, practitioner, vault.resolve("AB-1"), "AB-1", directory, include_psychotherapy)


@pytest.fixture
def site(story: Env, tmp_path: Path):
    return built(story, tmp_path)


def html(site, page: str) -> str:
    text = (site.html / page).read_text()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))


def test_every_page_exists(site) -> None:
    for page in (
        "index.html",
        "timeline.html",
        "plan.html",
        "measures.html",
        "homework.html",
        "themes.html",
        "todo.html",
        "search/search_index.json",
    ):
        assert (site.html / page).is_file(), page
    assert [p.name for p in (site.html / "sessions").glob("*.html")] == ["2026-01.html"]  # one page a month


def test_the_overview_tells_the_story_at_a_glance(site) -> None:
    text = html(site, "index.html")
    assert "In care since 05 Jan 2026" in text and "3 sessions" in text
    assert "Sleep through the night" in text and "Return to work part-time" in text
    assert "Walk three times" in text and "Sleep diary" not in text  # only the open homework
    assert "passive thoughts, safety plan reviewed" in text
    assert "A fall at home on Tuesday" in text
    assert "PHQ-9 11 (19 Jan 2026) ↓ down 6 from 17 on 12 Jan 2026 moderate -10" in text
    assert "1 psychotherapy note is kept apart" in text and "(s)" not in text


def test_the_timeline_is_newest_first_with_addenda_linked(site) -> None:
    text = html(site, "timeline.html")
    dates = re.findall(r"(\d\d \w\w\w 2026) · (SOAP|Intake)", text)
    assert [d for d, _ in dates] == ["19 Jan 2026", "12 Jan 2026", "05 Jan 2026"]
    assert "addendum of 20 Jan 2026: Correction: the fall was on Monday." in text
    page = (site.html / "timeline.html").read_text()
    assert 'href="sessions/2026-01.html#n-aaaaaaaaaaaaaaa3"' in page


def test_a_session_section_has_the_templates_headings_and_its_addendum(site) -> None:
    raw = (site.html / "sessions" / "2026-01.html").read_text()
    assert 'id="n-aaaaaaaaaaaaaaa3"' in raw and 'id="n-aaaaaaaaaaaaaaa4"' in raw
    page = html(site, "sessions/2026-01.html")
    section = page[page.index("SOAP, 19 Jan 2026") :]
    assert (
        "Subjective" in section and "Significant events" in section and "Addendum of 20 Jan 2026" in section
    )
    assert "Amends the note of" in page
    assert page.index("Addendum, 20 Jan 2026") < page.index("SOAP, 19 Jan 2026")  # newest first


def test_measures_are_charts_with_bands_and_change_since_baseline(site) -> None:
    page = (site.html / "measures.html").read_text()
    assert page.count('<svg class="cn-chart"') == 2
    assert "moderately severe" in page and "-10 since baseline" in page and "-7 since baseline" in page
    assert '<script src="http' not in page


def test_plan_homework_and_themes(site) -> None:
    plan = html(site, "plan.html")
    assert (
        "Return to work part-time: 1 session," in plan
        and "(s)" not in plan
        and "How the goals changed" in plan
    )
    homework = html(site, "homework.html")
    assert re.search(r"12 Jan 2026\s*Sleep diary every morning\s*done\s*19 Jan 2026", homework)
    assert re.search(r"19 Jan 2026\s*Walk three times\s*next session", homework)
    themes = html(site, "themes.html")
    assert "sleep (2)" in themes and "grief (1)" in themes


def test_psychotherapy_notes_only_when_asked(story: Env, tmp_path: Path) -> None:
    practice = story
    without = built(practice, tmp_path / "a")
    assert "zebrafinch" not in "".join(p.read_text() for p in without.html.rglob("*.html"))
    assert "zebrafinch" not in (without.html / "search" / "search_index.json").read_text()
    with_notes = built(practice, tmp_path / "b", include_psychotherapy=True)
    assert "zebrafinch" in (with_notes.html / "search" / "search_index.json").read_text()


def test_the_built_html_names_no_host_but_its_own(site) -> None:
    for path in site.html.rglob("*"):
        if path.suffix in (".html", ".js", ".css", ".json", ".xml"):
            text = path.read_text(errors="replace")
            text = re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", text)  # names, never fetched
            if re.search(r"(?:src|href)\s*=\s*[\"'](https?:)?//", text):
                pytest.fail(f"{path} references another host")
    index = (site.html / "index.html").read_text()
    assert "fonts.googleapis" not in index and "fonts.gstatic" not in index


def test_client_text_cannot_inject_html(practice: Env, tmp_path: Path) -> None:
    from site_fixtures import note

    (practice.practice.inbox / "x.md").write_text(
        note(
            "bbbbbbbbbbbbbbb1",
            "2026-02-01",
            status="draft",  # a draft seals however unfinished: the page must show it
            extra='homework: ["<img src=http://evil/x>"]\n',
            body="<script>fetch('http://evil')</script> [link](http://evil)\n",
        )
    )
    assert "sealed 1" in practice.run("syncd", "--once").text
    site = built(practice, tmp_path)
    for page in site.html.rglob("*.html"):
        text = page.read_text()
        assert "<script>fetch" not in text and "<img src=http://evil" not in text


def test_a_tampered_note_is_shown_as_damaged(story: Env, tmp_path: Path) -> None:
    practice = story
    vault = practice.vault()
    [(_, _, path)] = vault.revisions(vault.resolve("AB-1"), "aaaaaaaaaaaaaaa2")
    raw = bytearray(path.read_bytes())
    raw[200] ^= 1
    path.write_bytes(bytes(raw))
    site = built(practice, tmp_path)
    assert "Note aaaaaaaaaaaaaaa2 is damaged" in html(site, "timeline.html")
    assert "Damaged notes" in html(site, "index.html")
    assert MARKER in (site.html / "search" / "search_index.json").read_text()  # the others still show


def test_a_long_history_is_built_in_two_processes_into_one_site(practice: Env, tmp_path: Path) -> None:
    """From 120 notes about half of the pages are rendered by a forked child of the one
    MkDocs build: every page is there, linked relatively, and in the one search index."""
    import datetime as dt

    import fiction
    from site_builder.site import PARALLEL_FROM

    vault = practice.vault()
    client_id = vault.resolve("AB-1")
    count = PARALLEL_FROM + 10
    for number, day in enumerate(fiction.sessions(dt.date(2020, 1, 6), count), start=1):
        vault.seal(client_id, f"{number:016x}", fiction.note("AB-1", day, f"{number:016x}", number))
    site = built(practice, tmp_path)
    months = sorted(p.name for p in (site.html / "sessions").glob("*.html"))
    assert months[0] == "2020-01.html" and len(months) >= 29
    assert sorted(p.name for p in site.directory.iterdir()) == ["docs", "mkdocs.yml", "site"]
    oldest = (site.html / "sessions" / "2020-01.html").read_text()
    # linking relatively, whichever process rendered it: the site is served under a per-run prefix
    assert 'href="../timeline.html"' in oldest and "Session 1" in oldest
    import json

    index = json.loads((site.html / "search" / "search_index.json").read_text())
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert {"sessions/2020-01.html", f"sessions/{months[-1]}", "timeline.html"} <= locations
    newest = fiction.sessions(dt.date(2020, 1, 6), count)[-1]
    first_link = re.search(
        r'<ul class="cn-timeline">\s*<li><strong><a href="([^"]+)">([^<]+)</a>',
        (site.html / "timeline.html").read_text(),
    )
    assert first_link[2] == f"{newest:%d %b %Y}" and first_link[1].startswith(
        f"sessions/{newest:%Y-%m}.html#n-"
    )
    # the CSP hashes, taken from each page's text as both processes rendered it, are those of
    # the pages as written (read back): none missing from the child's share, none extra
    from site_builder import theme

    assert site.scripts and site.scripts == theme.script_hashes(site.html)


@pytest.mark.parametrize(
    ("risk", "state"),
    [
        (None, "not assessed"),
        ("", "not assessed"),
        ("  ", "not assessed"),
        ("none", "none"),
        ("None - denies SI/HI", "none"),
        ("none, denies ideation, plan or intent", "none"),
        ("low - protective factors named", "flag"),
        ("low: protective factors named", "flag"),  # quoted in the note: the level is low
        ("imminent - plan and means", "flag"),
        # no level: a note signed before levels were asked for; its words are never guessed at
        ("denies SI/HI", "not recorded"),
        ("No SI/HI reported", "not recorded"),
        ("no risk identified", "not recorded"),
        ("N/A", "not recorded"),
        ("nonetheless passive ideation", "not recorded"),
    ],
)
def test_risk_state_comes_from_the_level_never_from_the_words(risk, state) -> None:
    import datetime as dt

    from site_builder.timeline import Entry

    meta = {} if risk is None else {"risk": risk}
    assert Entry("a" * 16, dt.date(2026, 1, 5), "soap", meta, "", 1, True).risk_state == state


def test_the_site_tells_risk_not_assessed_from_none(practice: Env, tmp_path: Path) -> None:
    from site_fixtures import note

    inbox = practice.practice.inbox
    (inbox / "a.md").write_text(note("ccccccccccccccc1", "2026-02-02", status="draft", extra="risk: none\n"))
    (inbox / "b.md").write_text(note("ccccccccccccccc2", "2026-02-09", status="draft"))
    assert "sealed 2" in practice.run("syncd", "--once").text
    site = built(practice, tmp_path)
    overview = html(site, "index.html")
    assert "Last session (09 Feb 2026 (draft, not signed)): not assessed" in overview
    assert "Risk not assessed in 1 session: 09 Feb 2026" in overview
    assert "None: every assessed session says none." in overview
    month = html(site, "sessions/2026-02.html")
    assert "Risk: not assessed" in month and "Risk: none" in month


def test_the_timeline_shows_each_notes_scores_risk_and_whether_it_is_signed(
    practice: Env, tmp_path: Path
) -> None:
    from site_fixtures import note

    seal_story(practice)
    (practice.practice.inbox / "d.md").write_text(
        note("ddddddddddddddd1", "2026-01-26", status="draft", extra="measures:\n  phq9: 9\n")
    )
    assert "sealed 1" in practice.run("syncd", "--once").text
    text = html(built(practice, tmp_path), "timeline.html")
    assert "26 Jan 2026 · SOAP · draft · PHQ-9 9 · risk not assessed ·" in text
    assert (
        "19 Jan 2026 · SOAP · signed · PHQ-9 11 · GAD-7 9 · risk: low passive thoughts, safety plan reviewed ·"
        in text
    )
    assert "12 Jan 2026 · SOAP · signed · PHQ-9 17 · GAD-7 12 · risk: none ·" in text
    assert "05 Jan 2026 · Intake · signed · PHQ-9 21 · GAD-7 16 · risk: none denies ideation" in text
    raw = (built(practice, tmp_path / "again").html / "timeline.html").read_text()
    assert '<strong class="cn-risk-flag">risk: <span class="cn-risk cn-risk-low"' in raw  # a flag stands out


PLAN = """objectives:
  - goal: Sleep through the night
    objective: In bed by 23:00 on five nights of seven
    target: 2026-03-31
    status: in progress
  - goal: Return to work part-time
    objective: Two half days a week
    status: not started
"""


def test_the_plan_shows_objectives_with_target_dates_and_status(practice: Env, tmp_path: Path) -> None:
    from site_fixtures import note

    seal_story(practice)
    body = "## Goals\nSleep; work.\n\n## Objectives and interventions\nCBT-I; graded return.\n"
    (practice.practice.inbox / "p.md").write_text(
        note(
            "eeeeeeeeeeeeeee1",
            "2026-01-13",
            "treatment-plan",
            extra='goals: ["Sleep through the night"]\n' + PLAN,
            body=body,
        )
    )
    assert practice.run("check", str(practice.practice.inbox / "p.md")).code == 0
    assert "sealed 1" in practice.run("syncd", "--once").text
    plan = html(built(practice, tmp_path), "plan.html")
    assert "From the plan of 13 Jan 2026" in plan
    assert re.search(
        r"Sleep through the night\s*In bed by 23:00 on five nights of seven\s*31 Mar 2026\s*in progress", plan
    )
    assert re.search(r"Return to work part-time\s*Two half days a week\s*none set\s*not started", plan)


def test_a_wrong_objective_is_named_by_check(practice: Env) -> None:
    from site_fixtures import note

    path = practice.practice.inbox / "p.md"
    path.write_text(
        note(
            "eeeeeeeeeeeeeee2",
            "2026-01-13",
            "treatment-plan",
            status="draft",
            extra='goals: ["Sleep"]\n' + PLAN.replace("in progress", "nearly"),
        )
    )
    result = practice.run("check", str(path))
    assert result.code == 1 and "objectives" in result.err and "item 1: status must be one of" in result.err


def test_homework_reads_not_done_when_the_next_note_leaves_it_unticked() -> None:
    import datetime as dt

    from site_builder.timeline import Entry, homework_done

    def following(body: str) -> Entry:
        return Entry("a" * 16, dt.date(2026, 1, 12), "soap", {}, body, 1, True)

    assert (
        homework_done("Walk three times", following("- [ ] Walk three times: how did it go?")) == "not done"
    )
    assert homework_done("Walk three times", following("- [X] walk three times: two of three")) == "done"
    assert (
        homework_done("Walk three times", following("## Subjective\nWe did not talk about it."))
        == "not recorded"
    )
    assert homework_done("Walk three times", None) == "next session"


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (27, [0, 5, 10, 15, 20, 25]),
        (21, [0, 5, 10, 15, 20]),
        (4, [0, 1, 2, 3, 4]),
        (100, [0, 20, 40, 60, 80, 100]),
    ],
)
def test_chart_scores_tick_at_whole_numbers(top, ticks) -> None:
    from site_builder.charts import y_ticks

    assert y_ticks(top) == ticks


def test_charts_label_the_time_axis_and_never_a_half_score(site) -> None:
    page = (site.html / "measures.html").read_text()
    labels = re.findall(r'text-anchor="middle">([^<]+)</text>', page)
    assert labels[:3] == ["05 Jan", "12 Jan", "19 Jan"]  # each session of the short span
    assert ">13.5<" not in page and ">10.5<" not in page and ">25<" in page
    import datetime as dt

    from site_builder.charts import x_ticks

    months = [label for _, label in x_ticks([dt.date(2025, 1, 6), dt.date(2025, 6, 2), dt.date(2026, 1, 5)])]
    assert months == ["Mar 2025", "May 2025", "Jul 2025", "Sep 2025", "Nov 2025", "Jan 2026"]


def test_the_overview_shows_a_trend_arrow_beside_each_score(site) -> None:
    text = html(site, "index.html")
    assert "PHQ-9 11 (19 Jan 2026) ↓ down 6 from 17 on 12 Jan 2026 moderate -10" in text
    assert "GAD-7 9 (19 Jan 2026) ↓ down 3 from 12 on 12 Jan 2026 mild -7" in text
