"""A client's amendment request (HIPAA 45 CFR 164.526): accepted by an addendum, denied in
writing, and the client's statement of disagreement shown with the note on the site, in a
real browser at a desk's and a phone's width."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.amendments import amendment, denied_with_statement
from helpers.people import ok, seal
from site_fixtures import CHROMIUM_ARGS, require_chromium

from site_builder import build_site
from vault import Passphrase
from vault.rights import requests


def page_text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", path.read_text()))


def test_a_denial_and_the_clients_statement_appear_with_the_note(practice: Env, tmp_path: Path) -> None:
    note_id, rid = denied_with_statement(practice, tmp_path)
    vault = practice.vault()
    me = vault.unlock(Passphrase(PASSPHRASE))
    directory = tmp_path / "ram"
    directory.mkdir()
    site = build_site(vault, me, vault.resolve("AB-1"), "AB-1", directory)
    raw = (site.html / "sessions" / "2026-10.html").read_text()
    text = page_text(site.html / "sessions" / "2026-10.html")
    assert "Amendment requested on" in text and f"request {rid}" in text and "denied on" in text
    assert "the note records what was said (velmora)" in text
    assert "Client's statement of disagreement" in text and "plumvex" in text
    assert "<b>I was unwell</b>" not in raw  # the client's words are text, never HTML
    # neither the reason nor the statement is anywhere in the vault's clear bytes
    for path in practice.vault_dir.rglob("*"):
        if path.is_file():
            assert b"velmora" not in path.read_bytes() and b"plumvex" not in path.read_bytes()
    assert "statement linked; `casenotes request close" in ok(practice, "request", "list")


def test_an_accepted_amendment_starts_an_addendum_linked_to_the_request(practice: Env) -> None:
    note_id, rid = amendment(practice)
    accepted = practice.run("amend", "accept", rid, "--no-edit")
    assert accepted.code == 0, accepted.err
    draft = Path(accepted.text.strip())
    assert f"amends: {note_id}" in draft.read_text() and "template: addendum" in draft.read_text()
    found = requests.find(practice.vault(), rid)
    assert [d.decision for d in found.decisions] == ["accept"]
    assert found.decisions[0].ref and f"id: {found.decisions[0].ref}" in draft.read_text()
    ok(practice, "request", "close", rid, "--outcome", "addendum signed, client told")
    again = practice.run("amend", "deny", rid, "--reason", "x")
    assert again.code == 1 and "was closed on" in again.err


def test_an_amendment_decision_needs_an_amendment_request(practice: Env) -> None:
    seal(practice, "2026-10-01", "a session")
    rid = ok(practice, "request", "add", "AB-1", "--kind", "access").split()[1]
    wrong = practice.run("amend", "deny", rid, "--reason", "no")
    assert wrong.code == 1 and "not an amendment request" in wrong.err
    other = practice.run("request", "add", "AB-1", "--kind", "amendment", "--about", "0123456789abcdef")
    assert other.code != 0


@pytest.mark.parametrize("width", [1280, 390])
def test_the_statement_of_disagreement_reads_whole_on_a_desk_and_a_phone(
    practice: Env, tmp_path: Path, width: int
) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    note_id, _ = denied_with_statement(practice, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "open", "AB-1", "--no-browser"],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[-1]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            base = url.split("/?")[0]
            page.wait_for_url(base + "/")
            page.goto(f"{base}/sessions/2026-10.html#n-{note_id}")
            denial = page.locator("article .admonition.warning").first
            assert "denied on" in denial.locator(".admonition-title").inner_text()
            assert "velmora" in denial.inner_text()
            statement = page.locator("article .admonition.quote").first
            assert statement.is_visible()
            words = statement.inner_text()
            assert "plumvex" in words and "<b>I was unwell</b>" in words  # shown as typed, not as HTML
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing cut off
            box = statement.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
            if shots := os.environ.get("CASENOTES_SCREENSHOTS"):
                page.screenshot(path=f"{shots}/amendment-{width}.png", full_page=True)
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
