"""The smaller things of issue 30 (item 8) a practitioner noticed in a week of use."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from conftest import PASSPHRASE, Env
from notes import note_text

from site_builder import build_site, pages
from site_builder.timeline import Entry, assemble
from vault import Passphrase


def test_a_back_dated_note_carries_homework_from_before_its_date_not_after(practice: Env) -> None:
    inbox = practice.practice.inbox
    for name, day, note_id, task in (
        ("a.md", "2026-10-01", "aaaaaaaaaaaaaaaa", "Sleep diary"),
        ("b.md", "2026-11-01", "bbbbbbbbbbbbbbbb", "Thought record twice"),
    ):
        (inbox / name).write_text(note_text(date=day, note_id=note_id, extra=f'homework: ["{task}"]\n'))
    assert practice.run("syncd", "--once").code == 0
    made = practice.run("new", "AB-1", "--no-edit", "--carry", "--date", "2026-10-15")
    text = Path(made.text.strip()).read_text()
    assert "- [ ] Sleep diary: how did it go?" in text  # the session before 15 October
    assert "Thought record" not in text  # set on 1 November: after the note's date


def test_a_ticked_homework_box_is_a_checkbox_not_the_text_x(story: Env, tmp_path: Path) -> None:
    vault = story.vault()
    directory = tmp_path / "ram"
    directory.mkdir()
    site = build_site(vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), "AB-1", directory)
    month = (site.html / "sessions" / "2026-01.html").read_text()
    assert re.search(r'<input[^>]*checked[^>]*type="checkbox"|<input[^>]*type="checkbox"[^>]*checked', month)
    assert "[x] Sleep diary" not in month


def test_a_session_without_goals_of_its_own_counts_for_the_goals_in_force() -> None:
    plan = Entry("a" * 16, dt.date(2026, 10, 1), "treatment-plan", {"goals": ["Sleep", "Work"]}, "", 1, True)
    plain = [Entry(f"{n:016x}", dt.date(2026, 10, 1 + 7 * n), "soap", {}, "", 1, True) for n in (1, 2)]
    changed = Entry("c" * 16, dt.date(2026, 10, 29), "soap", {"goals": ["Sleep"]}, "", 1, True)
    t = assemble("AB-1", [plan, *plain, changed], today=dt.date(2026, 12, 7))
    assert len(t.sessions_for_goal("Sleep")) == 3 and len(t.sessions_for_goal("Work")) == 2
    assert "**Sleep**: 3 sessions" in pages.plan(t)  # the two notes made without --carry count


def test_the_plan_page_shows_the_plans_diagnosis_and_review_date() -> None:
    body = "## Diagnosis or formulation\nF41.1 generalised anxiety (fictional).\n\n## Review date\nIn twelve weeks.\n"
    meta = {"goals": ["Sleep"], "review_date": dt.date(2027, 1, 15)}
    plan = Entry("a" * 16, dt.date(2026, 10, 1), "treatment-plan", meta, body, 1, True)
    page = pages.plan(assemble("AB-1", [plan], today=dt.date(2026, 12, 7)))
    assert "## Diagnosis or formulation" in page and "F41.1 generalised anxiety" in page
    assert "**Review date:** 15 Jan 2027" in page and "In twelve weeks." in page


def test_a_treatment_plan_made_with_carry_starts_from_the_intakes_goals(practice: Env) -> None:
    (practice.practice.inbox / "intake.md").write_text(
        note_text(date="2026-10-01", note_id="aaaaaaaaaaaaaaaa", extra='goals: ["Sleep through the night"]\n')
    )
    assert practice.run("syncd", "--once").code == 0
    carried = practice.run("new", "AB-1", "--no-edit", "--carry", "--template", "treatment-plan")
    assert 'goals: ["Sleep through the night"]' in Path(carried.text.strip()).read_text()
    fresh = practice.run("new", "AB-1", "--no-edit", "--template", "treatment-plan", "--date", "2026-10-02")
    path = Path(fresh.text.strip())
    assert 'goals: ["First goal: what will change' in path.read_text()
    assert practice.run("check", str(path)).code == 0  # a new plan's draft still seals


def test_the_chart_header_says_age_pronouns_diagnosis_review_and_next_session() -> None:
    plan_meta = {"goals": ["Sleep"], "review_date": dt.date(2026, 12, 1), "diagnosis": ["F41.1"]}
    plan = Entry("a" * 16, dt.date(2026, 9, 1), "treatment-plan", plan_meta, "", 1, True)
    intake = Entry(
        "b" * 16, dt.date(2026, 8, 25), "intake", {"pronouns": "they/them", "risk": "none"}, "", 1, True
    )
    last = Entry(
        "c" * 16, dt.date(2026, 11, 30), "soap", {"next_session": dt.date(2026, 12, 14)}, "", 1, True
    )
    t = assemble("AB-1", [plan, intake, last], today=dt.date(2026, 12, 7))
    t.born = dt.date(1990, 12, 8)  # 36 tomorrow
    overview = pages.overview(t)
    header = next(line for line in overview.splitlines() if line.startswith("**age**"))
    assert header == (
        "**age** 35 · **pronouns** they/them · **diagnosis** F41.1 · **plan review** 01 Dec 2026 (due) · "
        "**next session** 14 Dec 2026 (in 7 days)"
    )
    assert "**last session** [30 Nov 2026](" in overview and "(SOAP), 7 days ago" in overview
    assert overview.index("!!! ") < overview.index("**age**")  # the safety banner first


def test_a_header_shows_only_what_is_known() -> None:
    t = assemble(
        "AB-1", [Entry("a" * 16, dt.date(2026, 11, 30), "soap", {}, "", 1, True)], today=dt.date(2026, 12, 7)
    )
    assert "**age**" not in pages.overview(t) and "next session" not in pages.overview(t)


def test_the_age_comes_from_the_date_of_birth_in_the_profile(practice: Env, tmp_path: Path) -> None:
    assert practice.run("client", "add", "CD-2", "--dob", "1990-04-01").code == 0
    (practice.practice.inbox / "a.md").write_text(note_text(client="CD-2", note_id="cccccccccccccccc"))
    assert practice.run("syncd", "--once").code == 0
    vault = practice.vault()
    (tmp_path / "ram").mkdir()
    site = build_site(
        vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("CD-2"), "CD-2", tmp_path / "ram"
    )
    today = dt.datetime.now().astimezone().date()
    age = today.year - 1990 - ((today.month, today.day) < (4, 1))
    assert f"age</strong> {age}" in (site.html / "index.html").read_text()


def test_a_back_dated_note_leaves_the_time_for_the_practitioner_not_the_typing_time(practice: Env) -> None:
    made = practice.run("new", "AB-1", "--no-edit", "--date", "2026-10-15", "--template", "dap")
    path = Path(made.text.strip())
    front = path.read_text().split("---")[1]
    assert re.search(r"(?m)^time:$", front), front  # empty: not the time it was typed
    assert practice.run("check", str(path)).code == 0  # a draft without its time still seals
    refused = practice.run("sign", str(path))
    assert refused.code == 1 and "time (line" in refused.err and 'e.g. time: "14:30"' in refused.err
    today = practice.run("new", "AB-1", "--no-edit", "--template", "dap")
    assert re.search(r'(?m)^time: "\d\d:\d\d"$', Path(today.text.strip()).read_text())  # today's: now


def test_one_date_format_on_a_page_and_in_new_notes(practice: Env) -> None:
    made = practice.run("new", "AB-1", "--no-edit", "--date", "2026-12-07", "--template", "soap")
    assert "# SOAP note, 07 Dec 2026" in Path(made.text.strip()).read_text()
    entry = Entry("a" * 16, dt.date(2026, 12, 7), "soap", {"risk": "none"}, "", 1, True)
    t = assemble("AB-1", [entry], today=dt.date(2026, 12, 8))
    shown = pages.overview(t) + pages.session(t, entry)
    assert "07 Dec 2026" in shown
    assert not re.search(r"2026-12-07|7 December 2026|07 December 2026", shown)


def test_an_addendum_to_a_note_whose_id_is_all_digits_keeps_the_id() -> None:
    """One note id in about two thousand is all decimal digits: YAML reads it as a number."""
    import note_templates

    raw = (
        b"---\nid: aaaaaaaaaaaaaaa2\nclient: AB-1\ndate: 2026-11-03\ntemplate: addendum\n"
        b"amends: 1234567890123456\nstatus: draft\n---\n\n## Reason\nMistyped.\n"
    )
    assert note_templates.check(raw, Path("a.md")) == []
    assert note_templates.read_note(raw, Path("a.md")).meta["amends"] == "1234567890123456"
    from note_templates.excerpt import excerpt
    from note_templates.front_matter import parse_sealed

    shared = excerpt(raw, ["reason"], Path("a.md"))
    assert parse_sealed(shared, Path("a.md"))[0]["amends"] == "1234567890123456"  # shared as written


def test_a_signed_notes_page_says_who_signed_it_and_when(story: Env, tmp_path: Path) -> None:
    vault = story.vault()
    (tmp_path / "ram").mkdir()
    site = build_site(
        vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), "AB-1", tmp_path / "ram"
    )
    month = re.sub(r"<[^>]+>", "", (site.html / "sessions" / "2026-01.html").read_text())
    assert re.search(r"revision 1 · signed by you on \d\d \w\w\w \d{4}", month), month[:2000]
    assert "draft by" not in month
