"""Sealing a note and reading it back: exact bytes, newest first, clear refusals."""

from __future__ import annotations

from conftest import Env
from notes import note_text, write_note


def test_seal_then_cat_gives_the_exact_bytes(practice: Env) -> None:
    note = write_note(practice.practice.inbox, body="Déjà vu, ünïcode and\ttabs — kept exactly.\r\n")
    sealed = practice.run("seal", str(note))
    assert sealed.code == 0, sealed.err
    assert "revision 1" in sealed.text
    out = practice.run("cat", "AB-1")
    assert out.code == 0, out.err
    assert out.out == note.read_bytes()


def test_each_save_is_a_new_revision_and_cat_shows_the_newest(practice: Env) -> None:
    note = write_note(practice.practice.inbox, body="first version")
    assert practice.run("seal", str(note)).code == 0
    note.write_text(note_text(body="second version"))
    second = practice.run("seal", str(note))
    assert "revision 2" in second.text
    assert practice.run("cat", "AB-1", "--note", "0123456789abcdef").out == note.read_bytes()


def test_cat_lists_sessions_newest_first_by_the_notes_own_date(practice: Env) -> None:
    inbox = practice.practice.inbox
    # sealed out of order: the session date in the note decides, not the sealing time
    for date, nid in [
        ("2026-03-01", "aaaaaaaaaaaaaaaa"),
        ("2026-05-01", "bbbbbbbbbbbbbbbb"),
        ("2026-01-01", "cccccccccccccccc"),
    ]:
        note = write_note(inbox, f"{date}.md", date=date, note_id=nid, body=f"session of {date}")
        assert practice.run("seal", str(note)).code == 0
    text = practice.run("cat", "AB-1").text
    assert (
        text.index("session of 2026-05-01")
        < text.index("session of 2026-03-01")
        < text.index("session of 2026-01-01")
    )


def test_a_note_without_an_id_gets_one_and_says_so(practice: Env) -> None:
    note = write_note(practice.practice.inbox, note_id=None)
    result = practice.run("seal", str(note))
    assert result.code == 0
    assert "add 'id: " in result.err


def test_a_signed_note_cannot_change(practice: Env) -> None:
    note = write_note(practice.practice.inbox, status="signed")
    assert practice.run("seal", str(note)).code == 0
    note.write_text(note_text(status="signed", body="a quiet edit after signing"))
    result = practice.run("seal", str(note))
    assert result.code == 1 and "is signed" in result.err and "addendum" in result.err
    assert b"quiet edit" not in practice.run("cat", "AB-1").out


def test_cat_with_a_wrong_passphrase_exits_2_and_logs_the_failed_unlock(practice: Env) -> None:
    note = write_note(practice.practice.inbox)
    practice.run("seal", str(note))
    before = {
        p: p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file() and "audit" not in p.parts
    }
    result = practice.run("cat", "AB-1", passphrase="not it")
    assert result.code == 2 and "wrong passphrase" in result.err and result.out == b""
    after = {
        p: p.read_bytes() for p in practice.vault_dir.rglob("*") if p.is_file() and "audit" not in p.parts
    }
    assert after == before
    events = [e.event for e in practice.vault().audit.entries()]
    assert events[-1] == "unlock-failed"


def test_every_decryption_is_audited_by_client_id(practice: Env) -> None:
    note = write_note(practice.practice.inbox)
    practice.run("seal", str(note))
    practice.run("cat", "AB-1")
    vault = practice.vault()
    decrypts = [e for e in vault.audit.entries() if e.event == "decrypt"]
    assert decrypts and decrypts[-1].data["client"] == vault.resolve("AB-1")


# -- bad input: a clear message naming the file and line, and nothing lost ----------------


def seal_bad(practice: Env, raw: bytes, name: str = "bad.md"):
    path = practice.practice.inbox / name
    path.write_bytes(raw)
    result = practice.run("seal", str(path))
    assert path.read_bytes() == raw  # nothing lost
    return result


def test_missing_front_matter(practice: Env) -> None:
    r = seal_bad(practice, b"# Just a heading\n\nNo fields here.\n")
    assert r.code == 1 and "bad.md:1" in r.err and "no front matter" in r.err


def test_front_matter_that_is_not_yaml_names_the_line(practice: Env) -> None:
    r = seal_bad(practice, b"---\nclient: AB-1\ndate: 2026-11-20\nplan: [unclosed\n---\n\nbody\n")
    assert r.code == 1 and "not valid YAML" in r.err
    assert "bad.md:5" in r.err or "bad.md:4" in r.err


def test_unknown_handle_names_the_file_line_and_field(practice: Env) -> None:
    r = seal_bad(practice, note_text(client="ZZ-9").encode())
    assert r.code == 1 and "bad.md:3: client" in r.err and "ZZ-9" not in r.err


def test_not_utf8_names_the_line(practice: Env) -> None:
    r = seal_bad(practice, note_text().encode() + b"caf\xe9\n")
    assert r.code == 1 and "not UTF-8" in r.err and "bad.md:10" in r.err


def test_missing_or_impossible_date(practice: Env) -> None:
    r = seal_bad(practice, b"---\nclient: AB-1\n---\nbody\n")
    assert r.code == 1 and "date" in r.err and "missing" in r.err
    r = seal_bad(practice, b"---\nclient: AB-1\ndate: 2026-02-30\n---\nbody\n")
    assert r.code == 1 and "bad.md:3: date" in r.err


def test_binary_and_huge_files_are_refused(practice: Env) -> None:
    r = seal_bad(practice, b"---\x00\x01\x02binary", "blob.md")
    assert r.code == 1 and "binary" in r.err
    huge = practice.practice.inbox / "huge.md"
    huge.write_bytes(note_text().encode() + b"x" * (9 * 1024 * 1024))
    r = practice.run("seal", str(huge))
    assert r.code == 1 and "at most" in r.err


def test_a_symlink_is_refused(practice: Env, tmp_path) -> None:
    target = write_note(tmp_path / "elsewhere")
    link = practice.practice.inbox / "link.md"
    link.symlink_to(target)
    r = practice.run("seal", str(link))
    assert r.code == 1 and "not a regular file" in r.err


def test_bad_input_leaves_the_vault_without_revisions(practice: Env) -> None:
    seal_bad(practice, b"---\nclient: [\n---\n")
    seal_bad(practice, note_text(client="ZZ-9").encode())
    assert len(list(practice.vault_dir.rglob("*.rev"))) == 1  # only the client's profile


def test_an_all_digit_id_keeps_its_leading_zero(practice: Env) -> None:
    note = write_note(practice.practice.inbox, note_id="0123456789012345")
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("cat", "AB-1", "--note", "0123456789012345").out == note.read_bytes()


def test_the_reserved_all_zero_id_is_refused(practice: Env) -> None:
    r = seal_bad(practice, note_text(note_id="0000000000000000").encode())
    assert r.code == 1 and "bad.md:2: id" in r.err


def test_reading_a_profile_is_audited_too(practice: Env) -> None:
    assert practice.run("client", "show", "AB-1").code == 0
    assert practice.run("client", "list").code == 0
    events = [e for e in practice.vault().audit.entries()]
    assert [e.event for e in events[-4:]] == ["unlock", "decrypt-profile", "unlock", "decrypt-profiles"]
    assert events[-3].data["client"] == practice.vault().resolve("AB-1")


def test_sealing_the_same_bytes_twice_makes_no_new_revision(practice: Env) -> None:
    note = write_note(practice.practice.inbox)
    assert "revision 1" in practice.run("seal", str(note)).text
    again = practice.run("seal", str(note))
    assert again.code == 0 and "unchanged" in again.text
    assert len(list(practice.vault_dir.rglob("*.rev"))) == 2  # the profile and one revision


def test_sealing_a_signed_note_again_unchanged_is_not_an_error(practice: Env) -> None:
    """A crash between sealing a signed note and removing its plaintext must not wedge it."""
    note = write_note(practice.practice.inbox, status="signed")
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("seal", str(note)).code == 0


def test_odd_front_matter_is_reported_not_a_crash(practice: Env) -> None:
    r = seal_bad(practice, b"---\nclient: AB-1\ndate: 2026-11-20\n\nno closing line\n", "open.md")
    assert r.code == 1 and "open.md:1" in r.err and "not closed" in r.err and "Traceback" not in r.err
    r = seal_bad(practice, note_text(extra="template: [soap]\n").encode(), "list.md")
    assert r.code == 1 and "list.md:6: template: unknown template" in r.err
    good = write_note(practice.practice.inbox, "good.md")
    once = practice.run("syncd", "--once")  # the odd files do not stop the good one
    assert once.code == 1 and "sealed 1 revision," in once.text and good.exists()  # odd files left
