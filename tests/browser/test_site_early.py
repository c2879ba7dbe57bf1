"""A long history: the overview is served at once, the other pages follow while it is read.

The build is held after the overview (as a long history would take seconds) so that what
the practitioner meets in that window is seen, not raced: the overview, and for any other
page a fixed "still preparing" page that reloads itself into the real one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSPHRASE, Env
from helpers.opening import HeldOpen, client, get
from site_fixtures import CHROMIUM_ARGS, MARKER, note, require_chromium

import site_builder.site
from site_builder import BuiltSite, build_site
from site_builder.server import PREPARING
from vault import Passphrase

OTHER = "wombatlantern"  # only in the second client's note


@pytest.fixture
def early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any history counts as long: the overview first, the rest by two processes."""
    monkeypatch.setattr(site_builder.site, "PARALLEL_FROM", 1)


def test_a_browser_reads_the_overview_while_the_rest_is_built_then_the_rest_without_the_token(
    story: Env, tmp_path: Path, early: None
) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = require_chromium()
    held = HeldOpen(story, "AB-1", tmp_path / "ram")
    assert held.opened is not None
    base = held.opened.url.split("/?")[0]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(held.opened.url)
            page.wait_for_url(base + "/")
            assert page.locator("h1").first.inner_text() == "AB-1"  # the overview, styled and whole
            assert "In care since" in page.content()
            page.get_by_role("link", name="Timeline").first.click()
            page.wait_for_url("**/timeline.html")
            body = page.locator("body")  # it reloads itself each second: read through retries
            expect(body).to_contain_text("still being prepared")  # not an error, not a half page
            expect(body).not_to_contain_text("AB-1")
            expect(body).not_to_contain_text(MARKER)
            held.release()
            page.wait_for_selector("ul.cn-timeline", timeout=20_000)  # it reloaded itself into the page
            assert page.locator("h1").first.inner_text() == "Timeline"
            page.locator("ul.cn-timeline li strong a").last.click()  # the oldest: its month page
            page.wait_for_url("**/sessions/2026-01.html*")
            assert MARKER in page.content()  # the cookie from the one token still opens every page
            browser.close()
    finally:
        held.close()


def test_a_page_not_built_yet_shows_nothing_of_another_client_nor_of_an_earlier_site(
    story: Env, tmp_path: Path, early: None
) -> None:
    vault = story.vault()
    other = vault.add_client("CD-2")
    text = note("cccccccccccccc01", "2026-01-14", body=f"## Subjective\nTalked about {OTHER}.\n")
    vault.seal(other, "cccccccccccccc01", text.replace("client: AB-1", "client: CD-2").encode())
    vault.close()

    first = HeldOpen(story, "AB-1", tmp_path / "first")
    first.release()  # the first client's site, whole and open
    assert first.opened is not None
    month = "/sessions/2026-01.html"
    status, page = get(client(first.opened), first.opened.url.split("/?")[0] + month)
    assert status == 200 and MARKER.encode() in page
    second = HeldOpen(story, "CD-2", tmp_path / "second")  # the same month page, not yet written
    try:
        assert second.opened is not None
        opener = client(second.opened)
        base = second.opened.url.split("/?")[0]
        for path in (month, "/timeline.html", "/search/search_index.json"):
            status, page = get(opener, base + path)
            assert status == 503 and page == PREPARING, path
        status, page = get(opener, base + "/")
        assert status == 200 and b"CD-2" in page and MARKER.encode() not in page
        second.release()
        status, page = get(opener, base + month)
        assert status == 200 and OTHER.encode() in page and MARKER.encode() not in page
        status, page = get(opener, base + "/search/search_index.json")
        assert status == 200 and OTHER.encode() in page and MARKER.encode() not in page
    finally:
        second.close()
        first.close()
    assert not (tmp_path / "first").exists() and not (tmp_path / "second").exists()


def _tamper(env: Env, note_id: str) -> None:
    vault = env.vault()
    [(_, _, path)] = vault.revisions(vault.resolve("AB-1"), note_id)
    raw = bytearray(path.read_bytes())
    raw[300] ^= 1
    path.write_bytes(bytes(raw))
    vault.close()


def _built(env: Env, directory: Path) -> tuple[BuiltSite, list[dict[str, object]]]:
    """The site of AB-1, and the audit entries its decryption added."""
    vault = env.vault()
    before = sum(1 for _ in vault.audit.entries())
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    directory.mkdir()
    site = build_site(vault, practitioner, vault.resolve("AB-1"), "AB-1", directory)
    added = [e.data for e in list(vault.audit.entries())[before:] if e.event == "decrypt"]
    vault.close()
    return site, added


def test_a_note_damaged_in_the_second_process_is_shown_damaged_as_in_one_process(
    story: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notes are split in two (sorted by id): a2 is read here, a4 by the forked child."""
    _tamper(story, "aaaaaaaaaaaaaaa2")
    _tamper(story, "aaaaaaaaaaaaaaa4")
    alone, alone_audit = _built(story, tmp_path / "alone")
    monkeypatch.setattr(site_builder.site, "PARALLEL_FROM", 1)
    both, both_audit = _built(story, tmp_path / "both")
    assert [(d.note_id, d.why) for d in both.timeline.damaged] == [
        (d.note_id, d.why) for d in alone.timeline.damaged
    ]
    assert [d.note_id for d in both.timeline.damaged] == ["aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa4"]
    assert "signature does not match" in both.timeline.damaged[1].why
    timeline = (both.html / "timeline.html").read_text()
    assert "Note aaaaaaaaaaaaaaa4 is damaged" in timeline and "Note aaaaaaaaaaaaaaa2 is damaged" in timeline
    assert "2 notes failed their integrity check" in (both.html / "index.html").read_text()
    assert [e.note_id for e in both.timeline.entries] == [e.note_id for e in alone.timeline.entries]
    assert MARKER in (both.html / "sessions" / "2026-01.html").read_text()  # a1, read here
    assert both_audit == alone_audit and [a["notes"] for a in both_audit] == [3]  # one entry, both shares


def test_a_second_process_that_dies_costs_no_note(
    story: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, early: None
) -> None:
    """This process decrypts the child's share itself: every note shown, audited once."""
    from vault.store import reading

    parent, real = os.getpid(), reading.open_notes

    def dies_in_the_child(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "open_notes", dies_in_the_child)
    site, audit = _built(story, tmp_path / "site")
    assert sorted(e.note_id for e in site.timeline.entries) == [f"aaaaaaaaaaaaaaa{n}" for n in (1, 2, 3, 4)]
    assert not site.timeline.damaged and [a["notes"] for a in audit] == [5]


def _checked_ahead(env: Env) -> int:
    """What `open` does while the passphrase is derived, run to the end: every note's
    newest revision read and its signature checked; how many were not (failed)."""
    vault = env.vault()
    run = site_builder.site.check_ahead(vault, vault.resolve("AB-1"))
    run(lambda: False)
    assert site_builder.site._ahead is not None
    return len(vault.note_ids(vault.resolve("AB-1"))) - len(site_builder.site._ahead[2].checked)


def test_notes_checked_while_the_passphrase_is_derived_show_the_same_site(
    story: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tamper(story, "aaaaaaaaaaaaaaa2")  # before the check: it fails then, and again when read
    alone, alone_audit = _built(story, tmp_path / "alone")
    monkeypatch.setattr(site_builder.site, "PARALLEL_FROM", 1)
    assert _checked_ahead(story) == 1  # a2 fails: left out, to be reported when read
    ahead, ahead_audit = _built(story, tmp_path / "ahead")
    assert [(d.note_id, d.why) for d in ahead.timeline.damaged] == [
        (d.note_id, d.why) for d in alone.timeline.damaged
    ]
    assert [d.note_id for d in ahead.timeline.damaged] == ["aaaaaaaaaaaaaaa2"]
    assert [(e.note_id, e.body) for e in ahead.timeline.entries] == [
        (e.note_id, e.body) for e in alone.timeline.entries
    ]
    assert ahead_audit == alone_audit


def test_a_note_changed_after_its_check_is_read_again_and_shown_damaged(
    story: Env, tmp_path: Path, early: None
) -> None:
    assert _checked_ahead(story) == 0
    _tamper(story, "aaaaaaaaaaaaaaa4")  # while the passphrase was being typed
    site, _ = _built(story, tmp_path / "site")
    assert [(d.note_id, d.why) for d in site.timeline.damaged] == [
        ("aaaaaaaaaaaaaaa4", "signature does not match: the file was changed or forged")
    ]
    assert "1 note failed its integrity check" in (site.html / "index.html").read_text()


def _newest(env: Env, note_id: str) -> Path:
    vault = env.vault()
    path = vault.revisions(vault.resolve("AB-1"), note_id)[-1][2]
    vault.close()
    return path


def _flipped(path: Path) -> bytes:
    raw = bytearray(path.read_bytes())
    raw[300] ^= 1
    return bytes(raw)


def _in_place(path: Path, raw: bytes, link: Path) -> None:
    """Through a hard link made before the check: same inode, size and mtime."""
    before = os.stat(path)
    with link.open("r+b") as file:
        file.write(raw)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _renamed_over(path: Path, raw: bytes, link: Path) -> None:
    """A copy of the same size and mtime renamed over it (its old inode kept by the link)."""
    before = os.stat(path)
    copy = path.with_name("copy.tmp")
    copy.write_bytes(raw)
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(copy, path)


@pytest.mark.parametrize("change", [_in_place, _renamed_over], ids=["in place", "renamed over"])
@pytest.mark.parametrize("what", ["changed", "another note's revision"])
def test_a_revision_replaced_after_its_check_keeping_size_and_times_is_checked_again(
    story: Env, tmp_path: Path, early: None, change: Any, what: str
) -> None:
    """Between the check and the decryption, a4's newest revision is changed (one bit) or
    swapped for a3's (cut or padded to its size): shown damaged, as without the
    check ahead, never as a4's note or a3's."""
    path = _newest(story, "aaaaaaaaaaaaaaa4")
    other = _newest(story, "aaaaaaaaaaaaaaa3").read_bytes()
    raw = _flipped(path) if what == "changed" else other + bytes(max(0, path.stat().st_size - len(other)))
    raw = raw[: path.stat().st_size]
    link = tmp_path / "link"
    os.link(path, link)
    assert _checked_ahead(story) == 0
    change(path, raw, link)
    ahead, ahead_audit = _built(story, tmp_path / "ahead")
    assert [d.note_id for d in ahead.timeline.damaged] == ["aaaaaaaaaaaaaaa4"]
    site_builder.site._ahead = None
    alone, alone_audit = _built(story, tmp_path / "alone")
    assert [(d.note_id, d.why) for d in ahead.timeline.damaged] == [
        (d.note_id, d.why) for d in alone.timeline.damaged
    ]
    assert [(e.note_id, e.body) for e in ahead.timeline.entries] == [
        (e.note_id, e.body) for e in alone.timeline.entries
    ]
    assert ahead_audit == alone_audit and [a["notes"] for a in ahead_audit] == [4]


def test_a_revision_added_after_the_check_is_the_one_read(story: Env, tmp_path: Path, early: None) -> None:
    """A forged newer revision of a4 (the checked one with a bit changed, numbered after it)."""
    path = _newest(story, "aaaaaaaaaaaaaaa4")
    assert _checked_ahead(story) == 0
    number, rest = path.name.split("-", 1)
    path.with_name(f"{int(number) + 1:0{len(number)}d}-{rest}").write_bytes(_flipped(path))
    site, _ = _built(story, tmp_path / "site")
    assert [d.note_id for d in site.timeline.damaged] == ["aaaaaaaaaaaaaaa4"]
