"""Writing notes: templates, the schema's rules, new / edit / addendum / sign / check / status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Env
from daemon import RunningDaemon
from notes import note_text

import note_templates

KINDS = sorted(k for k in note_templates.KINDS if k != "addendum")


def new(env: Env, *args: str) -> Path:
    result = env.run("new", "AB-1", "--no-edit", *args)
    assert result.code == 0, result.err
    return Path(result.text.strip())


def fill_in(path: Path, words: str) -> bytes:
    raw = path.read_bytes().replace(b"risk: none noted", b"risk: none noted\nfiller: " + words.encode())
    raw += f"\n{words}\n".encode()
    path.write_bytes(raw)
    return raw


@pytest.mark.parametrize("kind", KINDS)
def test_every_template_passes_check_and_round_trips_through_syncd(practice: Env, kind: str) -> None:
    path = new(practice, "--template", kind, "--date", "2026-11-20")
    assert path.parent == practice.practice.inbox and path.name == f"2026-11-20-AB-1-{kind}.md"
    checked = practice.run("check", str(path))
    assert checked.code == 0, checked.err
    raw = fill_in(path, f"Written in the {kind} template.")
    assert practice.run("syncd", "--once").code == 0
    note_id = re.search(rb"^id: ([0-9a-f]{16})$", raw, re.M)[1].decode()
    out = practice.run("cat", "AB-1", "--note", note_id)
    assert out.code == 0 and out.out == raw


def test_a_template_has_the_elements_a_good_note_holds() -> None:
    progress = note_templates.get("progress").text
    for heading in (
        "Session summary",
        "Interventions",
        "Client response",
        "Goals and treatment plan",
        "Homework",
        "Significant events",
    ):
        assert f"## {heading}" in progress
    for kind in KINDS:
        front = note_templates.get(kind).text.split("---")[1]
        for field in ("date:", "time:", "duration_minutes:", "modality:", "measures:", "homework:", "goals:"):
            assert field in front, (kind, field)


BAD = [
    ('time: "25:00"', "time", "HH:MM"),
    ("time: 14:30", "time", "in quotes"),
    ("duration_minutes: 0", "duration_minutes", "from 1 to 600"),
    ("modality: telepathy", "modality", "must be one of"),
    ("tags: {a: b}", "tags", "must be a list"),
    ("template: sonnet", "template", "unknown template"),
    ("status: final", "status", "must be one of"),
    ("amends: nope", "amends", "note id"),
    ("measures:\n  phq9: 28", "measures.phq9", "from 0 to 27"),
    ("measures:\n  gad7: -1", "measures.gad7", "from 0 to 21"),
    ("measures:\n  sleep: lots", "measures.sleep", "must be a number"),
]


@pytest.mark.parametrize("line, field, words", BAD)
def test_each_rule_names_the_field_and_line(practice: Env, line: str, field: str, words: str) -> None:
    path = practice.practice.inbox / "bad.md"
    path.write_text(note_text(extra=line + "\n"))
    result = practice.run("check", str(path))
    assert result.code == 1
    line_number = 7 if field.startswith("measures.") else 6
    [message] = [m for m in result.err.splitlines() if f"bad.md:{line_number}: {field}: " in m]
    assert words in message
    # syncd reports the same words and keeps the note
    once = practice.run("syncd", "--once")
    assert message.removeprefix("casenotes: ") in once.err and path.exists()


def test_kind_specific_required_fields(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "plan.md").write_text(note_text(extra="template: treatment-plan\n"))
    (inbox / "add.md").write_text(note_text(extra="template: addendum\n"))
    (inbox / "soap.md").write_text(note_text(extra="template: soap\n"))
    result = practice.run("check", str(inbox / "plan.md"), str(inbox / "add.md"), str(inbox / "soap.md"))
    assert "plan.md:2: goals: missing" in result.err
    assert "add.md:2: amends: missing" in result.err
    for field in ("time", "duration_minutes", "modality"):
        assert f"soap.md:2: {field}: missing" in result.err
    assert "3 of 3 note(s) have problems" in result.err


def test_check_reports_every_problem_not_just_the_first(practice: Env) -> None:
    path = practice.practice.inbox / "bad.md"
    path.write_text(note_text(extra="duration_minutes: 9999\nmeasures:\n  phq9: 99\n"))
    result = practice.run("check", str(path))
    assert "bad.md:6: duration_minutes" in result.err and "bad.md:8: measures.phq9" in result.err


def test_check_knows_an_unknown_handle(practice: Env) -> None:
    path = practice.practice.inbox / "who.md"
    path.write_text(note_text(client="ZZ-9"))
    result = practice.run("check", str(path))
    assert result.code == 1 and "who.md:3: client: no client has this handle" in result.err


def test_new_refuses_an_unknown_handle_or_template(practice: Env) -> None:
    assert "no client has this handle" in practice.run("new", "ZZ-9", "--no-edit").err
    result = practice.run("new", "AB-1", "--no-edit", "--template", "sonnet")
    assert result.code == 1 and "no template 'sonnet'" in result.err and "soap" in result.err
    assert not list(practice.practice.inbox.iterdir())


def test_new_opens_the_practitioners_editor(practice: Env, tmp_path: Path) -> None:
    log = tmp_path / "opened.txt"
    editor = tmp_path / "fake-editor"
    editor.write_text(f'#!/bin/sh\necho "$1" > {log}\n')
    editor.chmod(0o755)
    practice.env["EDITOR"] = str(editor)
    result = practice.run("new", "AB-1")
    assert result.code == 0
    assert log.read_text().strip() == result.text.strip()


def test_new_never_overwrites_a_draft(practice: Env) -> None:
    first = new(practice, "--date", "2026-11-20")
    second = new(practice, "--date", "2026-11-20")
    assert first != second and first.exists() and second.name.endswith("-2.md")


def test_carry_brings_goals_and_last_homework(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "old.md").write_text(
        note_text(
            date="2026-10-01",
            note_id="aaaaaaaaaaaaaaaa",
            extra='goals: ["Sleep better"]\nhomework: ["Old task"]\n',
        )
    )
    (inbox / "last.md").write_text(
        note_text(date="2026-11-01", note_id="bbbbbbbbbbbbbbbb", extra='homework: ["Thought record twice"]\n')
    )
    assert practice.run("syncd", "--once").code == 0
    path = new(practice, "--carry", "--template", "soap")
    text = path.read_text()
    assert 'goals: ["Sleep better"]' in text
    assert "## Homework from last session\n- [ ] Thought record twice: how did it go?" in text
    assert "Old task" not in text
    assert practice.run("check", str(path)).code == 0


def test_a_signed_note_cannot_be_edited_and_an_addendum_links_to_it(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "n.md").write_text(note_text(status="signed"))
    assert practice.run("syncd", "--once").code == 0
    refused = practice.run("edit", "0123456789abcdef", "--no-edit")
    assert refused.code == 1 and "addendum" in refused.err
    made = practice.run("addendum", "0123456789abcdef", "--no-edit")
    assert made.code == 0, made.err
    path = Path(made.text.strip())
    text = path.read_text()
    assert "amends: 0123456789abcdef" in text and "template: addendum" in text
    assert "Addendum to the note of 2026-11-20" in text
    assert practice.run("check", str(path)).code == 0
    assert practice.run("syncd", "--once").code == 0


def test_edit_brings_a_parked_draft_back_unchanged(practice: Env) -> None:
    note = practice.practice.inbox / "n.md"
    note.write_text(note_text(body="half written"))
    assert practice.run("seal", str(note)).code == 0
    original = note.read_bytes()
    note.unlink()  # parked: only the vault has it
    result = practice.run("edit", "0123456789abcdef", "--no-edit")
    assert result.code == 0, result.err
    back = Path(result.text.strip())
    assert back.read_bytes() == original
    assert "sealed 0 revision(s)" in practice.run("syncd", "--once").text  # unchanged: no new revision
    again = practice.run("edit", "0123456789abcdef", "--no-edit")
    assert again.code == 1 and "already in the inbox" in again.err


def test_sign_marks_a_draft_signed_and_syncd_seals_and_removes_it(practice: Env) -> None:
    path = new(practice, "--template", "dap")
    result = practice.run("sign", str(path))
    assert result.code == 0 and "casenotes syncd" in result.text
    assert b"status: signed" in path.read_bytes() and b"status: draft" not in path.read_bytes()
    assert practice.run("syncd", "--once").code == 0
    assert not path.exists()


def test_sign_refuses_a_note_that_would_not_seal(practice: Env) -> None:
    path = practice.practice.inbox / "bad.md"
    path.write_text(note_text(extra="measures:\n  phq9: 40\n"))
    before = path.read_bytes()
    result = practice.run("sign", str(path))
    assert result.code == 1 and "measures.phq9" in result.err
    assert path.read_bytes() == before


def test_practice_templates_override_and_add_kinds(practice: Env) -> None:
    folder = practice.practice.templates_dir
    folder.mkdir()
    (folder / "soap.md").write_text(
        '---\nid: {{id}}\nclient: {{client}}\ndate: {{date}}\ntime: "{{time}}"\n'
        "duration_minutes: 50\nmodality: video\ntemplate: soap\nstatus: draft\n---\n\n# Our own SOAP\n"
    )
    (folder / "couples.md").write_text(
        "---\nid: {{id}}\nclient: {{client}}\ndate: {{date}}\ntemplate: couples\n"
        "status: draft\n---\n\n# Couples session\n## Each partner's view\n"
    )
    soap = new(practice, "--template", "soap")
    assert "# Our own SOAP" in soap.read_text()
    couples = new(practice, "--template", "couples")
    assert "Each partner's view" in couples.read_text()
    assert practice.run("check", str(soap), str(couples)).code == 0
    assert "sealed 2 revision(s)" in practice.run("syncd", "--once").text


def test_status_shows_each_draft_at_a_glance(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "sealed.md").write_text(note_text(note_id="aaaaaaaaaaaaaaaa"))
    (inbox / "broken.md").write_text(note_text(note_id="bbbbbbbbbbbbbbbb", extra="measures:\n  gad7: 99\n"))
    assert practice.run("syncd", "--once").code == 1  # broken.md is left in the inbox
    (inbox / "fresh.md").write_text(note_text(note_id="cccccccccccccccc"))
    (inbox / ".fresh.md.swp").write_bytes(b"swap")
    table = practice.run("status")
    assert table.code == 0
    lines = {line.split()[0]: line for line in table.text.splitlines() if line.strip()}
    assert "sealed, revision 1" in lines["sealed.md"] and "AB-1" in lines["sealed.md"]
    assert "error" in lines["broken.md"] and "gad7" in lines["broken.md"]
    assert "pending" in lines["fresh.md"]
    assert "residue" in lines[".fresh.md.swp"]
    assert "syncd: not running" in table.text
    daemon = RunningDaemon(practice).wait_ready()
    try:
        assert f"running, PID {daemon.proc.pid}" in practice.run("status").text
    finally:
        assert daemon.stop() == 0
