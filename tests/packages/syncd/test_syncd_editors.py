"""The real daemon, real inotify: each editor's way of saving gives exactly the revisions
the practitioner made, and nothing else is sealed."""

from __future__ import annotations

import os
import time

import editors
import pytest
from conftest import Env
from daemon import RunningDaemon, configure, revision_count, sealed_notes, state, wait_for
from notes import note_text

QUIET = 0.3


@pytest.fixture
def daemon(practice: Env):
    configure(practice, quiet_period_seconds=QUIET)
    running = RunningDaemon(practice).wait_ready()
    yield running
    assert running.stop() == 0
    assert "Traceback" not in running.log_text()


def v(body: str, **fields: str) -> bytes:
    return note_text(body=body, **fields).encode()


def settle() -> None:
    time.sleep(QUIET * 4)


def expect(env: Env, *versions: bytes, note_id: str = "0123456789abcdef") -> None:
    wait_for(lambda: revision_count(env) >= len(versions), what=f"{len(versions)} revision(s)")
    settle()  # and then nothing more
    assert sealed_notes(env) == {note_id: list(versions)}


@pytest.mark.parametrize(
    "save",
    [
        editors.plain,
        editors.vim_in_place,
        editors.vim_rename,
        editors.emacs,
        editors.nano,
        editors.jetbrains,
        editors.obsidian,
    ],
)
def test_each_save_of_each_editor_is_one_revision(daemon: RunningDaemon, save) -> None:
    env = daemon.env
    note = env.practice.inbox / "note.md"
    first, second = v("first save"), v("second save")
    save(note, first)
    wait_for(lambda: revision_count(env) == 1, what="the first revision")
    settle()
    save(note, second)
    expect(env, first, second)


def test_vscode_truncate_then_write_never_seals_the_empty_file(daemon: RunningDaemon) -> None:
    env = daemon.env
    note = env.practice.inbox / "note.md"
    editors.plain(note, v("before"))
    wait_for(lambda: revision_count(env) == 1)
    editors.vscode(note, v("after"), pause=QUIET * 3)  # the empty file sits longer than the quiet period
    expect(env, v("before"), v("after"))


def test_a_burst_of_saves_is_one_revision_and_a_no_op_save_is_none(daemon: RunningDaemon) -> None:
    env = daemon.env
    note = env.practice.inbox / "note.md"
    for index in range(15):
        editors.plain(note, v(f"typing {index}"))
        time.sleep(QUIET / 10)
    wait_for(lambda: revision_count(env) == 1)
    settle()
    editors.plain(note, v("typing 14"))  # saved again, same bytes
    os.utime(note)
    expect(env, v("typing 14"))


def test_swap_autosave_and_crash_files_are_residue_never_notes(daemon: RunningDaemon) -> None:
    env = daemon.env
    inbox = env.practice.inbox
    note = inbox / "note.md"
    editors.emacs(note, v("draft"), keep_autosave=True)
    editors.nano_crash(inbox / "other.md", v("unsaved", note_id="fedcba9876543210"))
    (inbox / ".note.md.swp").write_bytes(b"vim swap")
    editors.macos_junk(inbox)
    expect(env, v("draft"))
    wait_for(lambda: {"#note.md#", "other.md.save", ".note.md.swp"} <= set(state(env)["files"]))
    files = state(env)["files"]
    for residue in ("#note.md#", "other.md.save", ".note.md.swp"):
        assert files[residue]["state"] == "residue" and "holds plaintext" in files[residue]["reason"]
    assert not {".DS_Store", "._note.md", ".#note.md"} & set(files)


def test_a_note_moved_into_the_inbox_is_sealed(daemon: RunningDaemon, tmp_path) -> None:
    env = daemon.env
    outside = tmp_path / "desk" / "note.md"
    outside.parent.mkdir()
    outside.write_bytes(v("written elsewhere"))
    os.rename(outside, env.practice.inbox / "note.md")
    expect(env, v("written elsewhere"))


def test_notes_in_subfolders_are_sealed(daemon: RunningDaemon) -> None:
    env = daemon.env
    folder = env.practice.inbox / "2026" / "november"
    folder.mkdir(parents=True)
    editors.plain(folder / "note.md", v("in a folder"))
    expect(env, v("in a folder"))


def test_a_signed_note_leaves_the_inbox_with_its_backups_and_cannot_change(daemon: RunningDaemon) -> None:
    env = daemon.env
    inbox = env.practice.inbox
    note = inbox / "note.md"
    editors.emacs(note, v("draft"))
    wait_for(lambda: revision_count(env) == 1)
    settle()
    editors.emacs(note, v("final", status="signed"))
    (inbox / "note.md~").write_bytes(v("draft"))  # emacs keeps the backup
    wait_for(lambda: not note.exists(), what="the signed plaintext to go")
    assert not (inbox / "note.md~").exists() and not (inbox / "#note.md#").exists()
    assert sealed_notes(env) == {"0123456789abcdef": [v("draft"), v("final", status="signed")]}
    editors.plain(note, v("changed after signing", status="signed"))
    wait_for(lambda: state(env)["files"].get("note.md", {}).get("state") == "locked", what="the refusal")
    assert note.read_bytes() == v("changed after signing", status="signed")  # kept, not lost
    assert "addendum" in state(env)["files"]["note.md"]["reason"]
    assert len(sealed_notes(env)["0123456789abcdef"]) == 2


def test_a_note_without_an_id_keeps_one_id_across_saves_and_renames(daemon: RunningDaemon) -> None:
    env = daemon.env
    note = env.practice.inbox / "note.md"
    editors.plain(note, v("one", note_id=""))
    wait_for(lambda: revision_count(env) == 1)
    settle()
    editors.vim_rename(note, v("two", note_id=""))
    wait_for(lambda: revision_count(env) == 2)
    settle()
    os.rename(note, env.practice.inbox / "renamed.md")
    settle()
    editors.plain(env.practice.inbox / "renamed.md", v("three", note_id=""))
    wait_for(lambda: revision_count(env) == 3)
    settle()
    [revisions] = sealed_notes(env).values()
    assert revisions == [v("one", note_id=""), v("two", note_id=""), v("three", note_id="")]


def test_bad_notes_are_kept_reported_once_and_never_sealed(daemon: RunningDaemon) -> None:
    env = daemon.env
    inbox = env.practice.inbox
    bad = {
        "nofront.md": b"just text\n",
        "notyaml.md": b"---\nclient: [\n---\n",
        "unknown.md": v("x", client="ZZ-9"),
        "nodate.md": b"---\nclient: AB-1\n---\nbody\n",
        "latin1.md": v("caf\xe9").replace(b"caf\xc3\xa9", b"caf\xe9"),
    }
    for name, raw in bad.items():
        (inbox / name).write_bytes(raw)
    wait_for(lambda: set(bad) <= set(state(env)["files"]), what="every bad note to be reported")
    for name in bad:  # touched again without a change: no new log line
        os.utime(inbox / name)
    settle()
    log = daemon.log_text()
    for name, raw in bad.items():
        assert (inbox / name).read_bytes() == raw
        assert state(env)["files"][name]["state"] == "error"
        assert name not in log  # the log names notes by id; `casenotes status` names the files
    assert log.count("could not be sealed") == len(bad)  # once each, not on every touch
    assert revision_count(env) == 0


def test_links_fifos_and_huge_files_are_refused(daemon: RunningDaemon, tmp_path) -> None:
    env = daemon.env
    inbox = env.practice.inbox
    outside = tmp_path / "outside.md"
    outside.write_bytes(v("outside"))
    (inbox / "symlink.md").symlink_to(outside)
    os.link(outside, inbox / "hardlink.md")
    os.mkfifo(inbox / "fifo.md")
    (inbox / "huge.md").write_bytes(v("x") + b"y" * (6 * 1024 * 1024))
    names = {"symlink.md", "hardlink.md", "fifo.md", "huge.md"}
    wait_for(lambda: names <= set(state(env)["files"]), what="every refusal")
    for name in names:
        assert state(env)["files"][name]["state"] == "refused"
    assert revision_count(env) == 0


def test_the_log_never_holds_note_text(daemon: RunningDaemon) -> None:
    env = daemon.env
    editors.plain(env.practice.inbox / "note.md", v("zephyrquill secret words"))
    editors.plain(env.practice.inbox / "bad.md", b"---\nclient: AB-1\ndate: nope\n---\nzephyrquill\n")
    wait_for(lambda: revision_count(env) == 1 and "bad.md" in state(env)["files"])
    assert "zephyrquill" not in daemon.log_text()
    assert b"zephyrquill" not in (env.practice.state_dir / "state.json").read_bytes()
