"""The client's To do page lists the notes awaiting a supervisor's co-signature (issue 30,
"What needs me": co-signatures awaited, for the supervisee and the supervisor), read from
what `open` already reads: that client's notes and supervision files, no other client's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.people import BEA_PASS, People, ok, seal
from helpers.people import people as people  # a fixture

from site_builder import build_site, pages
from site_builder.site import load_timeline
from vault import Passphrase
from vault.sharing import supervision


def test_the_supervisees_to_do_page_lists_the_note_awaiting_the_supervisors_cosignature(
    people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(people.bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    ok(people.bea, "supervise", "EF-3", "Alex", passphrase=BEA_PASS)
    note_id = seal(people.bea, "2026-11-02", "supervised session", client="EF-3")
    ok(people.bea, "client", "add", "GH-4", passphrase=BEA_PASS)  # another client: never looked at
    vault = people.bea.vault()
    me = vault.unlock(Passphrase(BEA_PASS))
    other = vault.resolve("GH-4")
    looked: list[str] = []
    real = vault.client_dir
    monkeypatch.setattr(vault, "client_dir", lambda client_id: looked.append(client_id) or real(client_id))
    (tmp_path / "site").mkdir()
    site = build_site(vault, me, vault.resolve("EF-3"), "EF-3", tmp_path / "site")
    assert other not in looked
    todo = (site.html / "todo.html").read_text()
    assert "Awaiting co-signature" in todo and "soap of 02 Nov 2026, by Alex" in todo
    said = ok(people.bea, "todo", "EF-3", passphrase=BEA_PASS)
    assert f"Awaiting co-signature:\n  soap of 02 Nov 2026, by Alex (note {note_id})" in said
    assert said.count(note_id) == 1  # not again under the practice-wide list
    ok(people.alex, "cosign", note_id, "--yes")
    timeline = load_timeline(vault, me, vault.resolve("EF-3"), "EF-3", include_psychotherapy=False)
    assert timeline.awaiting == {} and "Awaiting co-signature" not in pages.todo(timeline)
    assert supervision.awaiting(vault) == []  # the practice-wide rule agrees
