"""`casenotes export`: the client's copy of their record, read back with the libraries a
recipient would use (pypdf, poppler, pyHanko, jsonschema), and the disclosure on record."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import PASSPHRASE, Env, fill, require_tool
from helpers.people import BEA_PASS, People, ok, seal
from helpers.people import people as people  # a fixture
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError
from site_fixtures import MARKER
from site_fixtures import note as story_note

from note_templates.front_matter import parse_sealed
from site_builder.export import html_to_pdf, signature, structured
from site_builder.export.pdf import Password
from vault import Passphrase
from vault.format.encoding import new_id
from vault.format.keys import Practitioner
from vault.rights import disclosures
from vault.rights.disclosures import Disclosure

# What each note of the story says (tests/site_fixtures.py), and the psychotherapy note's word.
TEXTS = {
    "aaaaaaaaaaaaaaa1": MARKER,
    "aaaaaaaaaaaaaaa2": "First week of the sleep diary planned",
    "aaaaaaaaaaaaaaa3": "Slept better with the diary",
    "aaaaaaaaaaaaaaa4": "the fall was on Monday",
}
PROCESS_NOTE = "zebrafinch"
EXCLUSION = "1 psychotherapy note is not included"
GP = "Dr Olive Example"


def named(story: Env) -> Env:
    with story.practice.settings_file.open("a", encoding="utf-8") as out:
        out.write('practice_name: "Harbour Counselling"\npractitioner_name: "Sam Rivers"\n')
    return story


def export(env: Env, folder: Path, *args: str, tmp: Path | None = None) -> tuple[int, str, str]:
    code, out, err, _ = export_pid(env, folder, *args, tmp=tmp)
    return code, out, err


def export_pid(env: Env, folder: Path, *args: str, tmp: Path | None = None) -> tuple[int, str, str, int]:
    """Run `casenotes export AB-1 -o FOLDER ARGS`; also its process id (RAM directories are named for it)."""
    run_env = dict(env.env, CASENOTES_PASSPHRASE=PASSPHRASE)
    if tmp is not None:
        run_env["TMPDIR"] = str(tmp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "export", "AB-1", "-o", str(folder), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=run_env,
    )
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode(), proc.pid


def pdf_text(path: Path, password: str | None = None) -> str:
    reader = PdfReader(path)
    if password is not None:
        reader.decrypt(password)
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def exports(env: Env) -> list[Disclosure]:
    """The exports the accounting of disclosures lists (vault/rights/disclosures.py reads them)."""
    vault = env.vault()
    rows = disclosures.accounting(vault, vault.resolve("AB-1"), dt.date(2000, 1, 1), {}, {})
    return [row for row in rows if row.how == "export"]


def test_the_clients_copy_holds_every_note_but_the_psychotherapy_note(story: Env, tmp_path: Path) -> None:
    env, folder, tmp = named(story), tmp_path / "copy", tmp_path / "tmp"
    tmp.mkdir()
    code, out, err, pid = export_pid(env, folder, tmp=tmp)
    assert code == 0, err
    text = pdf_text(folder / "record.pdf")
    for note_id, words in TEXTS.items():
        assert words in text, note_id
    assert PROCESS_NOTE not in text
    assert EXCLUSION in text and "164.524" in text
    assert "Harbour Counselling" in text and "Wilhelmina Testperson" in text
    assert "signed by Sam Rivers" in text and "by you" not in text  # the client is not "you"
    assert text.index(TEXTS["aaaaaaaaaaaaaaa3"]) < text.index(MARKER)  # newest first
    assert "Measures" in text and "Treatment plan" in text and "Sleep through the night" in text
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert written == sorted(
        ["notes.json", "record.pdf"]
        + [
            f"notes/2026-01-{day}-{kind}-{note_id}.md"
            for day, kind, note_id in [
                ("05", "intake", "aaaaaaaaaaaaaaa1"),
                ("12", "soap", "aaaaaaaaaaaaaaa2"),
                ("19", "soap", "aaaaaaaaaaaaaaa3"),
                ("20", "addendum", "aaaaaaaaaaaaaaa4"),
            ]
        ]
    )
    for path in folder.rglob("*"):  # plaintext the practitioner asked for: theirs alone
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert "not encrypted" in err and "left out: 1 psychotherapy note" in out
    # Nothing of the record was left in the temp folder or a RAM directory on the way.
    assert not list(tmp.iterdir())
    assert (
        not [  # and no RAM directory: nothing of it was ever a file before the output
            found
            for base in (Path("/dev/shm"), Path(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")), tmp)
            for found in (base.glob(f"casenotes-*-{pid}-*") if base.is_dir() else [])
        ]
    )
    [entry] = exports(env)
    assert entry.recipient == "the client" and "right of access" in entry.purpose
    assert entry.description == (
        "4 notes (the whole record) as PDF, Markdown and JSON; psychotherapy notes not included"
    )
    # The log itself names the client by id only: the recipient and purpose are sealed.
    log = b"".join(p.read_bytes() for p in (env.vault_dir / "audit").glob("*.log"))
    assert b"right of access" not in log and b"the client" not in log and b'"event":"export"' in log


def test_the_pdf_pages_render_and_read_back(story: Env, tmp_path: Path) -> None:
    """poppler, as a recipient's viewer would: every page draws, and its text is the record's."""
    pdftoppm, pdftotext = require_tool("pdftoppm"), require_tool("pdftotext")
    folder = tmp_path / "copy"
    assert export(named(story), folder)[0] == 0
    subprocess.run(
        [pdftoppm, "-r", "40", "-png", str(folder / "record.pdf"), str(tmp_path / "page")], check=True
    )
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(PdfReader(folder / "record.pdf").pages) >= 4  # cover, notes, measures, plan
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000 for p in pngs)
    cover = subprocess.run(
        [pdftotext, "-f", "1", "-l", "1", str(folder / "record.pdf"), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert "Clinical record" in cover and EXCLUSION in " ".join(cover.split())
    assert "page 1 of" in cover


def test_a_period_exports_only_its_notes(story: Env, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    code, out, err = export(named(story), folder, "--from", "2026-01-12", "--to", "2026-01-19")
    assert code == 0, err
    text = pdf_text(folder / "record.pdf")
    assert TEXTS["aaaaaaaaaaaaaaa2"] in text and TEXTS["aaaaaaaaaaaaaaa3"] in text
    assert MARKER not in text and TEXTS["aaaaaaaaaaaaaaa4"] not in text
    assert "2 notes outside the period (12 Jan 2026 to 19 Jan 2026) are not included" in text
    data = json.loads((folder / "notes.json").read_bytes())
    assert [n["id"] for n in data["notes"]] == ["aaaaaaaaaaaaaaa3", "aaaaaaaaaaaaaaa2"]
    assert data["period"] == {"from": "2026-01-12", "to": "2026-01-19"}
    assert not any(MARKER.encode() in p.read_bytes() for p in folder.rglob("*") if p.is_file())
    [entry] = exports(story)
    assert entry.description.startswith("2 notes (12 Jan 2026 to 19 Jan 2026) as PDF")


def test_the_json_holds_every_field_of_every_note_and_round_trips(story: Env, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    assert export(named(story), folder, "--include-psychotherapy-notes")[0] == 0
    raw = (folder / "notes.json").read_bytes()
    data = json.loads(raw)
    schema = structured.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema)
    assert structured.to_bytes(json.loads(raw)) == raw  # the document round-trips byte for byte
    assert data["psychotherapy_notes_included"] is True
    assert {n["id"] for n in data["notes"]} == {*TEXTS, "aaaaaaaaaaaaaaa5"}
    for note in data["notes"]:
        source = (folder / note["markdown_file"]).read_bytes()
        front_matter, _ = parse_sealed(source, Path(note["markdown_file"]))
        assert note["front_matter"] == structured.plain(front_matter)  # every field, as written
        assert set(note["front_matter"]) == set(front_matter)
        assert note["status"] == "signed" and note["signed_by"] == "Sam Rivers"
    by_id = {n["id"]: n for n in data["notes"]}
    assert by_id["aaaaaaaaaaaaaaa3"]["addenda"] == ["aaaaaaaaaaaaaaa4"]
    assert by_id["aaaaaaaaaaaaaaa4"]["amends"] == "aaaaaaaaaaaaaaa3"
    assert by_id["aaaaaaaaaaaaaaa1"]["front_matter"]["measures"] == {"phq9": 21, "gad7": 16}
    assert by_id["aaaaaaaaaaaaaaa3"]["front_matter"]["risk"].startswith("low")
    # The schema is a check, not a description: a note without its date, or a date that is not one, fails.
    broken = json.loads(raw)
    del broken["notes"][0]["front_matter"]["date"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = json.loads(raw)
    broken["notes"][0]["date"] = "19 Jan 2026"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    [entry] = exports(story)
    assert entry.description.endswith("psychotherapy notes included")
    assert PROCESS_NOTE in pdf_text(folder / "record.pdf")


def test_a_password_protected_copy_opens_only_with_the_password_and_its_signature_holds(
    story: Env, tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    code, out, err = export(named(story), folder, "--password-protect")
    assert code == 0, err
    [password] = [line.rsplit(": ", 1)[1] for line in out.splitlines() if line.startswith("PDF password")]
    assert len(password) == 23 and password.count("-") == 3
    pdf = (folder / "record.pdf").read_bytes()
    assert MARKER.encode() not in pdf
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    with pytest.raises(FileNotDecryptedError):
        reader.pages[0].extract_text()
    assert not PdfReader(io.BytesIO(pdf)).decrypt("not-the-password")
    text = pdf_text(folder / "record.pdf", password)
    assert MARKER in text and EXCLUSION in text and PROCESS_NOTE not in text
    assert reader.trailer["/Encrypt"]["/V"] == 5  # AES-256
    # The signature: the practitioner's derived key, as the fingerprint printed says.
    me = story.vault().unlock(Passphrase(PASSPHRASE))
    mine = signature.derive(me, "Sam Rivers", dt.datetime.now(dt.UTC))
    assert f"signature key fingerprint: {mine.fingerprint}" in out
    certificate = embedded_certificate(pdf, password)
    assert signature.PdfSigner(mine.seed, certificate, "Sam Rivers").fingerprint == mine.fingerprint
    checked = signature.check(pdf, certificate, Password(password))
    assert checked.ok, checked.summary
    # One byte changed inside what was signed: the validator says so.
    start = pdf.index(b"stream", len(pdf) // 4) + 40
    tampered = pdf[:start] + bytes([pdf[start] ^ 0x01]) + pdf[start + 1 :]
    assert not signature.check(tampered, certificate, Password(password)).intact
    # Another practitioner's certificate, even under the same name, does not vouch for it.
    stranger = Practitioner("f" * 16, PrivateKey.generate(), SigningKey.generate())
    other = signature.derive(stranger, "Sam Rivers", dt.datetime.now(dt.UTC))
    assert not signature.check(pdf, other.certificate, Password(password)).trusted
    # The password is printed once and kept nowhere: not in the audit log, the vault or the config.
    for root in (story.practice.root, story.practice.config_dir):
        for path in root.rglob("*"):
            assert not path.is_file() or password.encode() not in path.read_bytes(), path
    [entry] = exports(story)
    assert "as PDF (password-protected), Markdown and JSON" in entry.description


def embedded_certificate(pdf: bytes, password: str) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    reader.decrypt(password)
    [embedded] = reader.embedded_signatures
    return bytes(embedded.signer_cert.dump())


def test_an_export_for_someone_else_needs_their_consent(story: Env, tmp_path: Path) -> None:
    env = named(story)
    code, out, err = export(env, tmp_path / "gp", "--to-recipient", GP, "--purpose", "Referral")
    assert code == 1 and f"has no consent in force to disclose their record to {GP}" in err
    assert err.count("\n") == 1 and not (tmp_path / "gp").exists() and exports(env) == []
    client_id = env.vault().resolve("AB-1")
    made = env.run(
        "consent", "add", "AB-1", "--to", GP, "--outside", "--purpose", "Referral to the memory clinic"
    )
    assert made.code == 0, made.err
    consent_id = made.text.strip()
    shared = env.run("share", "AB-1", "--consent", consent_id, "-o", str(tmp_path / "bundle"))
    assert shared.code == 2 and "does not use casenotes" in shared.err and "export" in shared.err
    code, out, err = export(env, tmp_path / "gp", "--to-recipient", GP, "--include-psychotherapy-notes")
    assert code == 1 and "does not name psychotherapy notes" in err and not (tmp_path / "gp").exists()
    code, out, err = export(env, tmp_path / "gp", "--to-recipient", GP.upper())
    assert code == 0, err
    text = pdf_text(tmp_path / "gp" / "record.pdf")
    assert GP.upper() in text and "Referral to the memory clinic" in text and PROCESS_NOTE not in text
    [entry] = exports(env)
    assert entry.recipient == GP.upper() and entry.purpose == "Referral to the memory clinic"
    [logged] = [e for e in env.vault().audit.entries() if e.event == "export"]
    assert logged.data["consent"] == consent_id and logged.data["client"] == client_id
    listed = ok(env, "disclosures", "AB-1")  # the accounting a client is given
    assert GP.upper() in listed and "Referral to the memory clinic" in listed and " export " in listed
    # Withdrawn, it covers nothing more.
    assert env.run("consent", "revoke", "AB-1", consent_id).code == 0
    code, out, err = export(env, tmp_path / "gp-again", "--to-recipient", GP)
    assert code == 1 and "revoked on" in err and not (tmp_path / "gp-again").exists()


def test_an_export_without_the_names_set_says_where_to_set_them(story: Env, tmp_path: Path) -> None:
    code, out, err = export(story, tmp_path / "copy")
    assert code == 0 and f"set practice_name and practitioner_name in {story.practice.settings_file}" in err
    text = pdf_text(tmp_path / "copy" / "record.pdf")
    assert "(practice name not set)" in text and "signed by the practitioner on" in text
    assert "set practice_name" not in export(named(story), tmp_path / "named")[2]


def test_an_export_never_writes_into_a_folder_that_holds_files(story: Env, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "record.pdf").write_bytes(b"the practitioner's own file")
    code, _, err = export(story, folder)
    assert code == 2 and "is not empty" in err
    assert (folder / "record.pdf").read_bytes() == b"the practitioner's own file" and exports(story) == []

    # Never into the practice folder: syncd would seal the Markdown, a sync engine copy the plaintext.
    for inside in (story.vault_dir / "copy", story.practice.inbox / "copy"):
        code, _, err = export(story, inside)
        assert code == 2 and "inside the practice folder" in err and not inside.exists()
    assert exports(story) == []


def test_html_to_pdf_fetches_nothing_and_writes_a_private_new_file(tmp_path: Path) -> None:
    """The function other commands hand their HTML to: no outside address is asked for."""
    import http.server
    import threading

    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        html_to_pdf(
            f'<link rel="stylesheet" href="{url}/s.css"><p>Letter text</p><img src="{url}/i.png">',
            tmp_path / "letter.pdf",
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert asked == []
    assert "Letter text" in pdf_text(tmp_path / "letter.pdf")
    assert stat.S_IMODE((tmp_path / "letter.pdf").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        html_to_pdf("<p>again</p>", tmp_path / "letter.pdf")


PLAN = """---
id: {note_id}
client: EF-3
date: 2026-11-01
time: "09:00"
template: treatment-plan
status: signed
goals: ["Sleep through the night"]
objectives:
  - goal: Sleep through the night
    objective: Five nights a week of six hours
    target: 2027-01-31
    status: in progress
review_date: 2027-02-01
---

# Treatment plan

## Diagnosis or formulation
Insomnia after a bereavement (fictional).

## Goals
Sleep through the night.

## Objectives and interventions
Sleep diary, stimulus control.
"""


def test_a_supervised_record_shows_who_signed_and_who_co_signed_and_the_plan(
    people: People, tmp_path: Path
) -> None:
    """Bea's client, her notes co-signed by Alex: the copy names both, and holds her treatment plan."""
    bea = people.bea
    with bea.practice.settings_file.open("a", encoding="utf-8") as out:
        out.write('practitioner_name: "Bea Example"\n')
    ok(bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    ok(bea, "supervise", "EF-3", "Alex", passphrase=BEA_PASS)
    session = seal(bea, "2026-11-02", "Slept five hours, twice.", client="EF-3")
    plan = new_id()
    (bea.practice.inbox / "plan.md").write_text(PLAN.format(note_id=plan))
    ok(bea, "seal", str(bea.practice.inbox / "plan.md"), passphrase=BEA_PASS)
    ok(people.alex, "cosign", session, "--yes")
    result = bea.run("export", "EF-3", "-o", str(tmp_path / "copy"), passphrase=BEA_PASS)
    assert result.code == 0, result.err
    text = pdf_text(tmp_path / "copy" / "record.pdf")
    assert "signed by Bea Example on" in text and "co-signed by Alex on" in text
    assert "Five nights a week of six hours" in text and "31 Jan 2027" in text and "in progress" in text
    assert "Insomnia after a bereavement" in text
    data = json.loads((tmp_path / "copy" / "notes.json").read_bytes())
    jsonschema.validate(data, structured.schema())
    by_id = {n["id"]: n for n in data["notes"]}
    assert [c["name"] for c in by_id[session]["cosigned_by"]] == ["Alex"]
    assert by_id[session]["signed_by"] == "Bea Example"
    assert by_id[plan]["front_matter"]["objectives"] == [
        {
            "goal": "Sleep through the night",
            "objective": "Five nights a week of six hours",
            "target": "2027-01-31",
            "status": "in progress",
        }
    ]
    assert by_id[plan]["front_matter"]["review_date"] == "2027-02-01"


def test_a_disk_that_fills_half_way_leaves_no_half_copy(story: Env, tmp_path: Path, tiny_disk: Path) -> None:
    """The PDF fits and a note does not (ENOSPC from a real tmpfs): nothing of the copy stays."""
    assert export(story, tmp_path / "reference")[0] == 0
    pdf_pages = -(-(tmp_path / "reference" / "record.pdf").stat().st_size // 4096)
    fill(tiny_disk)
    filler = tiny_disk / "filler"
    os.truncate(filler, filler.stat().st_size - (pdf_pages + 1) * 4096)
    code, out, err = export(story, tiny_disk / "copy")
    assert code == 1 and err.startswith("casenotes: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]  # no folder, no PDF, no note


def test_a_damaged_note_is_named_on_the_cover_never_exported_as_if_whole(story: Env, tmp_path: Path) -> None:
    [rev] = story.vault_dir.glob("clients/*/records/aaaaaaaaaaaaaaa2/*.rev")
    data = rev.read_bytes()
    rev.write_bytes(data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:])
    code, out, err = export(story, tmp_path / "copy")
    assert code == 0, err
    text = pdf_text(tmp_path / "copy" / "record.pdf")
    assert "1 note failed an integrity check and could not be read" in text
    assert TEXTS["aaaaaaaaaaaaaaa2"] not in text and TEXTS["aaaaaaaaaaaaaaa3"] in text
    exported = json.loads((tmp_path / "copy" / "notes.json").read_bytes())
    assert "aaaaaaaaaaaaaaa2" not in {n["id"] for n in exported["notes"]}
    assert not list((tmp_path / "copy" / "notes").glob("*aaaaaaaaaaaaaaa2.md"))


def test_a_name_that_looks_like_markup_stays_text_on_every_page(tmp_path: Path) -> None:
    """A client's name is data: on the cover and in the footer's CSS string it never ends the
    string, the style sheet or the element it stands in."""
    from site_builder.export import document
    from site_builder.timeline import assemble

    name = 'Ann "Q" </style><h1>Injected</h1> \\ O\'Neil'
    cover = document.Cover(
        "Harbour", name, "the whole record", dt.date(2026, 12, 1), "the client", "copy", ()
    )
    html = document.record_html(cover, assemble("AB-1", []))
    assert "<h1>Injected</h1>" not in html and html.count("</style>") == 1
    html_to_pdf(html, tmp_path / "record.pdf")
    reader = PdfReader(tmp_path / "record.pdf")
    first = " ".join((reader.pages[0].extract_text() or "").split())
    assert 'Ann "Q" </style><h1>Injected</h1>' in first  # shown as written, on the cover
    # The footer still stands on every page: its string was not ended early by the name.
    for page in reader.pages:
        text = " ".join((page.extract_text() or "").split())
        assert "Clinical record of Ann Q /styleh1Injected/h1 O'Neil: confidential" in text


def test_a_name_with_a_form_feed_cannot_restyle_the_cover(tmp_path: Path) -> None:
    """Attack: a form feed ends a CSS string as a newline does; a name holding one then wrote
    style rules that hid the cover's box of what is left out."""
    from site_builder.export import document
    from site_builder.timeline import assemble

    name = "Ann\f;}} .cn-excluded{display:none} @page{@bottom-left{content:'x'"
    left_out = ("1 psychotherapy note is not included: the law says so.",)
    cover = document.Cover(
        "Harbour", name, "the whole record", dt.date(2026, 12, 1), "the client", "copy", left_out
    )
    html_to_pdf(document.record_html(cover, assemble("AB-1", [])), tmp_path / "record.pdf")
    reader = PdfReader(tmp_path / "record.pdf")
    pages = [" ".join((page.extract_text() or "").replace("\x00", "").split()) for page in reader.pages]
    assert "What is not included, and why" in pages[0] and "1 psychotherapy note is not included" in pages[0]
    for text in pages:  # the footer holds the name as text, on every page
        assert "Clinical record of Ann;}} .cn-excluded{display:none}" in text


def test_usage_mistakes_are_refused_before_the_passphrase(story: Env, tmp_path: Path) -> None:
    code, _, err = export(story, tmp_path / "copy", "--from", "2026-02-01", "--to", "2026-01-01")
    assert code == 2 and "--to lies before --from" in err
    code, _, err = export(story, tmp_path / "copy", "--purpose", "court")
    assert code == 2 and "--purpose goes with --to-recipient" in err
    assert not (tmp_path / "copy").exists() and exports(story) == []


def test_the_names_on_the_cover_are_settings_checked_on_load(tmp_path: Path) -> None:
    from casenotes.config import ConfigError, Settings

    found = Settings.from_mapping(
        {"practice_name": " Harbour Counselling ", "practitioner_name": "Sam"}, tmp_path
    )
    assert (found.practice_name, found.practitioner_name) == ("Harbour Counselling", "Sam")
    with pytest.raises(ConfigError, match="practice_name: must be a name in quotes"):
        Settings.from_mapping({"practice_name": 12}, tmp_path)
    assert 'practitioner_name: ""' in Settings().to_yaml()


def test_an_amendment_denied_and_the_clients_statement_are_in_the_copy(practice: Env, tmp_path: Path) -> None:
    """HIPAA 164.526(d)(4)-(5): once denied, the denial and the client's statement go with the note."""
    from helpers.amendments import denied_with_statement

    denied_with_statement(practice, tmp_path)
    assert export(practice, tmp_path / "copy")[0] == 0
    text = pdf_text(tmp_path / "copy" / "record.pdf")
    assert "the client said they would stop coming" in text
    assert "the note records what was said (velmora)" in text
    assert "Client's statement of disagreement" in text and "plumvex" in text
    assert "<b>I was unwell</b>" in text  # the client's words, shown as they wrote them


def test_an_addendum_of_a_damaged_psychotherapy_note_stays_out(story: Env, tmp_path: Path) -> None:
    """Attack: the process note fails its integrity check, so nothing shows that its addendum
    amends one; the addendum (process words too) must still stay out of the client's copy."""
    (story.practice.inbox / "a6.md").write_text(
        story_note(
            "aaaaaaaaaaaaaaa6",
            "2026-01-21",
            "addendum",
            extra="amends: aaaaaaaaaaaaaaa5\n",
            body="## What is added or corrected\nMore process: ocelotprocess.\n\n## Reason\nLater thought.\n",
        )
    )
    result = story.run("syncd", "--once")
    assert result.code == 0 and "sealed 1" in result.text, result.text + result.err
    [rev] = story.vault_dir.glob("clients/*/records/aaaaaaaaaaaaaaa5/*.rev")
    data = rev.read_bytes()
    rev.write_bytes(data[:-20] + bytes([data[-20] ^ 0x01]) + data[-19:])
    code, out, err = export(story, tmp_path / "copy")
    assert code == 0, err
    folder = tmp_path / "copy"
    text = pdf_text(folder / "record.pdf")
    assert "ocelotprocess" not in text and "1 addendum of a note that could not be read" in text
    for path in folder.rglob("*"):
        assert path.is_dir() or b"ocelotprocess" not in path.read_bytes(), path
    assert "aaaaaaaaaaaaaaa6" not in out


def test_a_folder_another_account_can_write_into_is_refused_and_a_planted_link_never_followed(
    story: Env, tmp_path: Path
) -> None:
    """Attack: another local user makes the (empty) output folder, writable by all, and plants
    `notes` as a link into the practice folder once the emptiness check has passed: the
    plaintext Markdown must never follow it."""
    from site_builder.errors import OutputNotEmpty
    from site_builder.export import record

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    code, _, err = export(story, shared)
    assert code == 2 and "other accounts can write" in err and not list(shared.iterdir())
    assert exports(story) == []

    vault = story.vault()
    me = vault.unlock(Passphrase(PASSPHRASE))
    prepared = record.prepare(vault, me, record.Request(vault.resolve("AB-1"), "AB-1"))
    planted = story.practice.inbox / "planted"
    planted.mkdir()
    folder = tmp_path / "copy"
    folder.mkdir(mode=0o700)
    (folder / "notes").symlink_to(planted)  # the race: planted after the check, before the write
    with pytest.raises(OutputNotEmpty):
        record.write(vault, prepared, folder)
    assert not list(planted.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["notes"]  # the link, left; nothing of ours


@pytest.mark.parametrize("process_by", ["alex", "bea"])
def test_a_process_text_written_on_another_machine_while_apart_stays_out(
    people: People, tmp_path: Path, process_by: str
) -> None:
    """Attack: one note changed on two machines while apart, one machine's text made a
    psychotherapy note: the fork's other text (shown with the note) must not carry it out."""
    import shutil

    from notes import note_text

    alex, bea = people.alex, people.bea
    assert alex.run("access", "grant", "AB-1", "Bea").code == 0
    note_id, day = "0123456789abcdef", "2026-01-19"

    def sealed(env: Env, passphrase: str, body: str, extra: str = "") -> None:
        path = env.practice.inbox / f"AB-1-{note_id}.md"
        path.write_text(note_text(date=day, note_id=note_id, body=body, extra=extra))
        done = env.run("seal", str(path), passphrase=passphrase)
        assert done.code == 0, done.err
        path.unlink(missing_ok=True)

    sealed(alex, PASSPHRASE, "First text of the session.")
    process = 'template: psychotherapy\nduration_minutes: 50\nmodality: video\ntime: "10:00"\n'
    alex_says, bea_says = ("Countertransference: pangolinprocess.", process), ("Bea's wording.", "")
    if process_by == "bea":
        alex_says, bea_says = ("Alex's wording.", ""), alex_says
    sealed(alex, PASSPHRASE, *alex_says)
    folder = next(alex.vault_dir.glob(f"clients/*/records/{note_id}"))
    [alex_rev2] = [p for p in folder.iterdir() if p.name.startswith("000002-")]
    aside = folder.parent / "aside.rev"
    shutil.move(alex_rev2, aside)
    sealed(bea, BEA_PASS, *bea_says)
    shutil.move(aside, alex_rev2)
    code, out, err = export(alex, tmp_path / "copy")
    assert code == 0, err
    text = pdf_text(tmp_path / "copy" / "record.pdf")
    assert "pangolinprocess" not in text
    assert EXCLUSION in text or "1 note changed on two machines, one of them as a psychotherapy note" in text
    for path in (tmp_path / "copy").rglob("*"):
        assert path.is_dir() or b"pangolinprocess" not in path.read_bytes(), path


def test_an_output_named_by_a_dangling_link_fails_in_one_sentence(story: Env, tmp_path: Path) -> None:
    """`-o LINK` where the link leads nowhere: one sentence, nothing made at its target."""
    link = tmp_path / "copy"
    link.symlink_to(tmp_path / "gone" / "copy")
    code, out, err = export(story, link)
    assert code == 1 and err.startswith("casenotes: ") and err.count("\n") == 1, err
    assert not (tmp_path / "gone").exists() and "Traceback" not in err
