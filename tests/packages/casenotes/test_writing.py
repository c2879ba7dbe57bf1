"""Writing notes: templates, the schema's rules, new / edit / addendum / sign / check / status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Env
from daemon import RunningDaemon
from notes import note_text, write_every_section

import note_templates

KINDS = sorted(k for k in note_templates.KINDS if k != "addendum")


def new(env: Env, *args: str) -> Path:
    result = env.run("new", "AB-1", "--no-edit", *args)
    assert result.code == 0, result.err
    return Path(result.text.strip())


def fill_in(path: Path, words: str) -> bytes:
    raw = path.read_bytes().replace(b"risk:\n", b"risk:\nfiller: " + words.encode() + b"\n")
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
    # status is already in the note: change that line (a second one is its own problem)
    path.write_text(
        note_text(status=line.split(": ")[1]) if field == "status" else note_text(extra=line + "\n")
    )
    result = practice.run("check", str(path))
    assert result.code == 1
    line_number = 7 if field.startswith("measures.") else 5 if field == "status" else 6
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
    for field in ("duration_minutes", "modality"):
        assert f"soap.md:2: {field}: missing" in result.err
    # the session's time is asked for at signing (a back-dated draft leaves it empty), not here
    assert "soap.md:2: time: missing" not in result.err
    assert "3 of 3 notes have problems" in result.err


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


def test_new_never_overwrites_a_draft_and_says_which_file_is_the_second(practice: Env) -> None:
    first = new(practice, "--date", "2026-11-20")
    again = practice.run("new", "AB-1", "--no-edit", "--date", "2026-11-20")
    second = Path(again.text.strip())
    assert first != second and first.exists() and second.name == "2026-11-20-AB-1-soap-2.md"
    assert f"{first.name} is already in the inbox; this draft is {second.name}" in again.err


def test_new_without_an_editor_says_nothing_was_opened_and_where_the_draft_is(practice: Env) -> None:
    practice.env.pop("VISUAL", None)
    practice.env.pop("EDITOR", None)
    result = practice.run("new", "AB-1")
    draft = Path(result.text.strip())
    assert result.code == 0 and draft.exists()
    assert "no editor was opened" in result.err and f"The draft is {draft}" in result.err
    practice.env["EDITOR"] = "no-such-editor-anywhere"
    missing = practice.run("new", "AB-1")
    assert missing.code == 1 and "could not start your editor 'no-such-editor-anywhere'" in missing.err
    assert "the draft is " in missing.err


def test_new_takes_a_template_name_in_any_case_and_help_lists_them(practice: Env) -> None:
    draft = new(practice, "--template", "SOAP")
    assert draft.name.endswith("-AB-1-soap.md") and "## Subjective" in draft.read_text()
    listed = practice.run("new", "--help").text
    for kind in note_templates.KINDS:
        assert kind in listed


def test_new_warns_that_the_draft_stays_plaintext_while_syncd_is_stopped(practice: Env) -> None:
    result = practice.run("new", "AB-1", "--no-edit")
    assert "syncd is not running" in result.err and "stays unencrypted" in result.err
    daemon = RunningDaemon(practice).wait_ready()
    try:
        assert "syncd is not running" not in practice.run("new", "AB-1", "--no-edit", "--template", "dap").err
    finally:
        assert daemon.stop() == 0


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
    assert "Addendum to the note of 20 Nov 2026" in text  # dated as `new` titles notes
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
    assert "sealed 0 revisions," in practice.run("syncd", "--once").text  # unchanged: no new revision
    again = practice.run("edit", "0123456789abcdef", "--no-edit")
    assert again.code == 1 and "already in the inbox" in again.err


def test_sign_marks_a_draft_signed_and_syncd_seals_and_removes_it(practice: Env) -> None:
    path = new(practice, "--template", "dap")
    write_every_section(path)
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
    assert "sealed 2 revisions," in practice.run("syncd", "--once").text


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
    # a draft is named a draft: sealed is not signed (issue 30, item 5)
    assert "draft, sealed as revision 1, not signed" in lines["sealed.md"] and "AB-1" in lines["sealed.md"]
    assert "error" in lines["broken.md"] and "gad7" in lines["broken.md"]
    assert "draft, not sealed yet" in lines["fresh.md"]
    assert "residue" in lines[".fresh.md.swp"]
    assert "syncd: not running" in table.text
    daemon = RunningDaemon(practice).wait_ready()
    try:
        assert f"running, PID {daemon.proc.pid}" in practice.run("status").text
    finally:
        assert daemon.stop() == 0


# -- signing only what is written -----------------------------------------------------------
def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_signing_a_blank_template_is_refused_naming_each_section_and_line(practice: Env) -> None:
    path = new(practice, "--template", "birp")
    before = path.read_bytes()
    result = practice.run("sign", str(path))
    assert result.code == 1
    for heading in ("Behavior", "Intervention", "Response", "Plan"):
        assert f"{heading} (line {line_of(path, '## ' + heading)})" in result.err, result.err
    assert f"risk (line {line_of(path, 'risk:')}) is not assessed" in result.err
    assert "Significant events" not in result.err  # "None." is an answer, not a prompt
    assert "status: draft" in result.err
    assert path.read_bytes() == before


def test_sections_still_holding_the_prompt_are_named_and_written_ones_are_not(practice: Env) -> None:
    path = new(practice, "--template", "birp")
    text = path.read_text().replace("risk:\n", "risk: none\n")
    text = text.replace("## Behavior\n", "## Behavior\nArrived early, low mood, fictional.\n")
    text = text.replace("- Next session:", "- Next session: in a week")
    path.write_text(text)
    result = practice.run("sign", str(path))
    assert result.code == 1
    assert "Intervention (line" in result.err and "Response (line" in result.err
    assert "still holds only the template's prompt text" in result.err
    assert "Behavior" not in result.err and "Plan" not in result.err and "risk" not in result.err
    write_every_section(path)
    assert practice.run("sign", str(path)).code == 0


def test_check_warns_on_an_unfinished_draft_and_fails_it_once_marked_signed(practice: Env) -> None:
    path = new(practice, "--template", "soap")
    draft = practice.run("check", str(path))
    assert draft.code == 0, draft.err
    assert f"warning: {path}:{line_of(path, '## Subjective')}: Subjective is empty" not in draft.err
    assert f"warning: {path}:{line_of(path, '## Subjective')}: Subjective still holds" in draft.err
    assert f"{path}:{line_of(path, 'risk:')}: risk is not assessed" in draft.err
    assert "5 warnings to settle before signing" in draft.text
    path.write_text(path.read_text().replace("status: draft", "status: signed"))
    signed = practice.run("check", str(path))
    assert signed.code == 1 and "warning" not in signed.err
    assert f"{path}:{line_of(path, '## Plan')}: Plan: still holds" in signed.err


def test_syncd_keeps_a_signed_but_blank_note_in_the_inbox_with_one_message(practice: Env) -> None:
    path = new(practice, "--template", "progress")
    path.write_text(path.read_text().replace("status: draft", "status: signed"))
    before = path.read_bytes()
    result = practice.run("syncd", "--once")
    assert path.read_bytes() == before  # the plaintext stays: nothing is lost, nothing sealed
    assert "sealed 0 revisions," in result.text
    messages = [line for line in result.err.splitlines() if "cannot be signed yet" in line]
    assert len(messages) == 1, result.err
    assert "Session summary (line" in messages[0] and "risk (line" in messages[0]
    status = practice.run("status").text
    assert "cannot be signed yet" in status
    # `seal` by hand refuses the same note in the same words
    sealed = practice.run("seal", str(path))
    assert sealed.code == 1 and "Session summary (line" in sealed.err
    profile = "0000000000000000"  # the client's profile record: the only revision there is
    assert [rev.parent.name for rev in practice.vault_dir.rglob("*.rev")] == [profile]


def test_a_session_note_needs_risk_to_sign_and_none_is_an_answer(practice: Env) -> None:
    for kind in ("soap", "dap", "birp", "girp", "progress", "intake", "psychotherapy", "discharge"):
        assert b"risk: none noted" not in note_templates.get(kind).text.encode()
    path = new(practice, "--template", "dap")
    write_every_section(path)
    path.write_text(path.read_text().replace("risk: none, denies ideation, plan or intent", "risk:"))
    refused = practice.run("sign", str(path))
    assert refused.code == 1 and "risk (line" in refused.err and "Data" not in refused.err
    path.write_text(path.read_text().replace("risk:\n", "risk: none\n"))
    assert practice.run("sign", str(path)).code == 0
    # private process notes are kept apart from the record: their risk lives in the session note
    process = new(practice, "--template", "psychotherapy")
    write_every_section(process)
    process.write_text(process.read_text().replace("risk: none, denies ideation, plan or intent", "risk:"))
    assert practice.run("sign", str(process)).code == 0


def test_a_practice_template_declares_its_required_sections(practice: Env) -> None:
    folder = practice.practice.templates_dir
    folder.mkdir()
    (folder / "couples.md").write_text(
        "---\nid: {{id}}\nclient: {{client}}\ndate: {{date}}\ntemplate: couples\nstatus: draft\nrisk:\n---\n\n"
        "<!-- required: Each partner's view -->\n# Couples session\n\n"
        "## Each partner's view\nIn their own words.\n\n## Optional aside\n"
    )
    (folder / "check-in.md").write_text(
        "---\nid: {{id}}\nclient: {{client}}\ndate: {{date}}\ntemplate: check-in\nstatus: draft\n---\n\n"
        "# Check-in\n\n## How things are\n\n## Next\n"
    )
    couples = new(practice, "--template", "couples")
    assert "required:" not in couples.read_text()  # the declaration stays in the template
    refused = practice.run("sign", str(couples))
    heading = line_of(couples, "## Each partner's view")
    assert refused.code == 1 and f"Each partner's view (line {heading})" in refused.err
    assert "risk (line 7)" in refused.err and "Optional aside" not in refused.err
    write_every_section(couples)
    assert practice.run("sign", str(couples)).code == 0
    # no declaration: every section is required; no `risk:` line: risk is not asked for
    check_in = new(practice, "--template", "check-in")
    refused = practice.run("sign", str(check_in))
    assert "How things are (line" in refused.err and "Next (line" in refused.err
    assert "risk" not in refused.err


def test_sign_takes_a_note_id_or_the_file_name_in_the_inbox(practice: Env) -> None:
    path = new(practice, "--template", "soap")
    raw = write_every_section(path)
    note_id = re.search(rb"^id: ([0-9a-f]{16})$", raw, re.M)[1].decode()
    by_id = practice.run("sign", note_id)
    assert by_id.code == 0, by_id.err
    assert b"status: signed" in path.read_bytes()
    other = new(practice, "--template", "dap", "--date", "2026-11-21")
    write_every_section(other)
    assert practice.run("sign", other.name).code == 0
    missing = practice.run("sign", "fedcba9876543210")
    assert missing.code == 1 and "casenotes edit fedcba9876543210" in missing.err
