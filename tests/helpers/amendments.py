"""A client's amendment request, denied, with the client's statement of disagreement
on file."""

from __future__ import annotations

from pathlib import Path

from conftest import Env

from helpers.people import ok, seal

STATEMENT = (
    "I never said I would stop coming (plumvex).\n\nThe note should say <b>I was unwell</b> that day.\n"
)


def amendment(env: Env, day: str = "2026-10-01") -> tuple[str, str]:
    note_id = seal(env, day, "the client said they would stop coming")
    made = ok(env, "request", "add", "AB-1", "--kind", "amendment", "--about", note_id)
    return note_id, made.split()[1]


def denied_with_statement(env: Env, tmp_path: Path) -> tuple[str, str]:
    note_id, rid = amendment(env)
    statement = tmp_path / "statement.txt"
    statement.write_text(STATEMENT)
    early = env.run("amend", "disagreement", rid, str(statement))
    assert early.code == 1 and "has not been denied" in early.err
    denied = env.run(
        "amend", "deny", rid, "--reason", "-", stdin="the note records what was said (velmora)\n"
    )
    assert denied.code == 0, denied.err
    ok(env, "amend", "disagreement", rid, str(statement))
    return note_id, rid
