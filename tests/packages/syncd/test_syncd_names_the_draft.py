"""syncd's lines in the terminal name the draft's file, and its counts read as English
(issue 30, item 8: "syncd's lines never name the draft"; "note(s)"). A practitioner who
watches `casenotes syncd` sees which of the day's files was sealed or refused; the log
file, which outlives a purge, still names a note by id alone.
"""

from __future__ import annotations

from conftest import Env
from daemon import RunningDaemon, configure, wait_for
from notes import note_text


def test_the_terminal_names_the_file_sealed_and_the_file_refused_the_log_file_does_not(practice: Env) -> None:
    configure(practice, quiet_period_seconds=0.2)
    daemon = RunningDaemon(practice).wait_ready()
    inbox = practice.practice.inbox
    try:
        (inbox / "AB-1-2026-11-20-soap.md").write_text(note_text(note_id="0123456789abcdef"))
        (inbox / "AB-1-broken.md").write_text("---\nclient: AB-1\ndate: not a date\n---\n\nText.\n")
        wait_for(
            lambda: (
                "sealed revision 1 of note 0123456789abcdef" in daemon.log_text()
                and "could not be sealed" in daemon.log_text()
            ),
            what="syncd to seal one draft and refuse the other",
        )
    finally:
        assert daemon.stop() == 0
    terminal = daemon.stderr
    assert "sealed revision 1 of note 0123456789abcdef (inbox: AB-1-2026-11-20-soap.md)" in terminal
    refused = next(line for line in terminal.splitlines() if "could not be sealed" in line)
    assert refused.endswith("(inbox: AB-1-broken.md)")
    assert "AB-1-" not in daemon.log_text()  # a handle and a date: never in the file


def test_syncd_once_counts_in_words_not_with_s_in_brackets(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "a.md").write_text(note_text(note_id="0123456789abcdef"))
    one = practice.run("syncd", "--once")
    assert "sealed 1 revision, removed 0 signed or parked plaintexts" in one.text
    (inbox / "a.md").write_text(note_text(note_id="0123456789abcdef", body="Changed."))
    (inbox / "b.md").write_text(note_text(note_id="fedcba9876543210", status="signed"))
    two = practice.run("syncd", "--once")
    assert "sealed 2 revisions, removed 1 signed or parked plaintext" in two.text
    (inbox / "bad.md").write_text("---\nclient: AB-1\ndate: not a date\n---\n\nText.\n")
    left = practice.run("syncd", "--once")
    assert left.code == 1 and "1 note left in the inbox unsealed (bad.md)" in left.err
    assert "(s)" not in one.text + two.text + left.text + left.err
