"""A long history: an overview of the newest notes is served at once, saying plainly that
it is partial, and the complete overview replaces it while the practitioner reads.

The thresholds are lowered so that a five-note client counts as long; the build is held
before the complete overview is served, so that the partial one is seen, not raced."""

from __future__ import annotations

import datetime as dt
import functools
import http.cookiejar
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.opening import HeldOpen, client, get
from site_fixtures import CHROMIUM_ARGS, note, require_chromium

import site_builder.site
from site_builder import BuiltSite, build_site
from vault import Passphrase

OLD_RISK = "disclosed a plan, safety plan made"


@pytest.fixture
def long_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_builder.site, "PARALLEL_FROM", 1)
    monkeypatch.setattr(site_builder.site, "PARTIAL_FROM", 3)
    monkeypatch.setattr(site_builder.site, "PARTIAL_NOTES", 2)


def _seal_history(env: Env) -> None:
    """EF-3: an old note with a risk flag, sealed first, then four newer ones."""
    vault = env.vault()
    cid = vault.add_client("EF-3")
    sealed = [("eeeeeeeeeeeeeee1", "2025-06-02", f"risk: high - {OLD_RISK}\n")]
    sealed += [(f"eeeeeeeeeeeeeee{n}", f"2026-02-0{n}", "risk: none\n") for n in range(2, 6)]
    for n, (nid, day, extra) in enumerate(sealed):
        vault.clock = functools.partial(dt.datetime, 2026, 3, 1, 9, n, tzinfo=dt.UTC)  # sealed in this order
        text = note(nid, day, extra=extra, body=f"## Subjective\nSession of {day}.\n")
        vault.seal(cid, nid, text.replace("client: AB-1", "client: EF-3").encode())
    vault.close()


class HeldComplete(HeldOpen):
    """build_site in a thread, as `casenotes open` serves it, held before the complete
    overview replaces the partial one."""

    def __init__(self, env: Env, directory: Path) -> None:
        with env.vault() as vault:
            self.before = sum(1 for _ in vault.audit.entries())
        self.opener: urllib.request.OpenerDirector | None = None
        super().__init__(env, "EF-3", directory)

    def on_overview(self, site: BuiltSite) -> None:
        if self.opened is None:
            assert site.partial is not None
            super().on_overview(site)  # served, and held there
        else:
            assert site.partial is None
            self.opened.replace(site)

    def get(self, path: str = "/") -> tuple[int, bytes]:
        """``path`` of the site, as the practitioner's browser asks for it (token and cookie)."""
        assert self.opened is not None
        if self.opener is None:
            self.opener = client(self.opened)
        return get(self.opener, self.opened.url.split("/?")[0] + path)

    def decrypt_entries(self) -> list[dict[str, object]]:
        return [e.data for e in list(self.vault.audit.entries())[self.before :] if e.event == "decrypt"]


def _alone(env: Env, directory: Path) -> bytes:
    """The overview `open` shows without a partial stage (no one to serve it early)."""
    vault = env.vault()
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    directory.mkdir()
    site = build_site(vault, practitioner, vault.resolve("EF-3"), "EF-3", directory)
    vault.close()
    assert site.partial is None
    return (site.html / "index.html").read_bytes()


def test_the_newest_notes_first_marked_partial_then_the_complete_overview_with_an_older_risk_flag(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    _seal_history(story)
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        status, page = held.get()
        assert status == 200
        text = page.decode()
        assert "Partial overview: showing the newest 2 of 5 notes" in text
        assert "Risk flags, goals, measures and damaged notes from the 3 older notes are not yet" in text
        assert 'http-equiv="refresh"' in text  # it reloads itself into the complete one
        assert "2026-02-05" in text or "05 February 2026" in text  # the newest session
        assert OLD_RISK not in text  # not yet read: and the page says so above
        assert [d["notes"] for d in held.decrypt_entries()] == [2]  # what is shown is recorded
        status, page = held.get("/timeline.html")
        assert status == 503  # the rest: "still being prepared"
        held.release()
        status, page = held.get()
        assert status == 200 and b"Partial overview" not in page and b"http-equiv" not in page
        assert OLD_RISK in page.decode()
        status, page = held.get("/timeline.html")
        assert status == 200 and b"2025" in page
        # the newest two audited before they were shown, then the complete read
        assert [d["notes"] for d in held.decrypt_entries()] == [2, 5]
    finally:
        held.close()
    assert not (tmp_path / "ram").exists() or not any((tmp_path / "ram").iterdir())
    assert _alone(story, tmp_path / "alone") == _complete_overview(story, tmp_path / "again")


def _complete_overview(env: Env, directory: Path) -> bytes:
    held = HeldComplete(env, directory)
    try:
        held.release()
        assert held.opened is not None
        return (held.opened.site.html / "index.html").read_bytes()
    finally:
        held.close()


def test_an_older_damaged_note_is_reported_by_the_complete_overview(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    _seal_history(story)
    vault = story.vault()
    [(_, _, path)] = vault.revisions(vault.resolve("EF-3"), "eeeeeeeeeeeeeee1")
    vault.close()
    raw = bytearray(path.read_bytes())
    raw[300] ^= 1
    path.write_bytes(bytes(raw))
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        status, page = held.get()
        assert b"Partial overview" in page and b"failed" not in page
        held.release()
        status, page = held.get()
        assert b"1 note failed its integrity check" in page and b"Partial overview" not in page
    finally:
        held.close()


def test_a_browser_on_the_partial_overview_is_taken_to_the_complete_one_by_itself(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    from playwright.sync_api import expect, sync_playwright
    from site_fixtures import CHROMIUM_ARGS, require_chromium

    chromium = require_chromium()
    _seal_history(story)
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(held.opened.url)
            body = page.locator("body")
            expect(body).to_contain_text("Partial overview: showing the newest 2 of 5 notes")
            expect(body).not_to_contain_text(OLD_RISK)
            held.release()
            expect(body).to_contain_text(OLD_RISK, timeout=20_000)  # it reloaded itself
            expect(body).not_to_contain_text("Partial overview")
            browser.close()
    finally:
        held.close()


# -- attacks: what a partial overview must never do ----------------------------------------


def test_a_psychotherapy_note_among_the_newest_stays_out_of_the_partial_overview(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    _seal_history(story)
    vault = story.vault()
    vault.clock = lambda: dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)  # the newest of all
    text = note("eeeeeeeeeeeeeee6", "2026-02-06", "psychotherapy", body="## Process notes\nzebrafinch.\n")
    vault.seal(
        vault.resolve("EF-3"), "eeeeeeeeeeeeeee6", text.replace("client: AB-1", "client: EF-3").encode()
    )
    vault.close()
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        _, page = held.get()
        assert b"Partial overview" in page and b"zebrafinch" not in page
        assert b"1 psychotherapy note is kept apart" in page  # as the complete overview says
        held.release()
        _, page = held.get()
        assert b"Partial overview" not in page and b"zebrafinch" not in page
    finally:
        held.close()


def _damage_newest(env: Env, where: str) -> None:
    """Flip a byte of the newest note's revision: in its signed header, or its sealed body."""
    vault = env.vault()
    [(_, _, path)] = vault.revisions(vault.resolve("EF-3"), "eeeeeeeeeeeeeee5")
    vault.close()
    raw = bytearray(path.read_bytes())
    raw[20 if where == "header" else len(raw) - 5] ^= 1
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("where", ["header", "body"])
def test_a_damaged_newest_note_is_reported_on_the_partial_overview_and_the_complete_one(
    story: Env, tmp_path: Path, long_history: None, where: str
) -> None:
    """The newest session damaged: the partial overview must not show the two before it as
    'the newest' with no word of it (its banner speaks only of the older notes)."""
    _seal_history(story)
    _damage_newest(story, where)
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        _, page = held.get()
        assert b"Partial overview" in page and b"1 note failed its integrity check" in page
        held.release()
        _, page = held.get()
        assert b"Partial overview" not in page and b"1 note failed its integrity check" in page
    finally:
        held.close()


def test_requests_racing_the_swap_get_one_whole_overview_and_nothing_outside_the_site(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    _seal_history(story)
    held = HeldComplete(story, tmp_path / "ram")
    answers: list[tuple[str, int, bytes]] = []
    stop = threading.Event()
    try:
        assert held.opened is not None
        opener = client(held.opened)
        base = held.opened.url.split("/?")[0]
        paths = [
            "/",
            "/index.html",
            "/../partial/site/index.html",
            "/%2e%2e/partial/site/index.html",
            "/..%2f..%2fpartial/site/index.html",
            "/../../site/index.html",
            "/../mkdocs.yml",
        ]

        def hammer() -> None:
            while not stop.is_set():
                for path in paths:
                    answers.append((path, *get(opener, base + path)))

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            held.release()
            for _ in range(20):  # on past the swap and the completion
                answers.append(("/", *get(opener, base + "/")))
        finally:
            stop.set()
            thread.join()
    finally:
        held.close()
    overviews = [page for path, status, page in answers if path in ("/", "/index.html") and status == 200]
    assert overviews and all(
        (b"Partial overview" in page) != (OLD_RISK.encode() in page) for page in overviews
    )  # the partial one (banner, no older risk) or the complete one (no banner): never a mix
    assert OLD_RISK.encode() in overviews[-1]
    for path, status, page in answers:
        if path not in ("/", "/index.html"):
            assert status in (403, 404, 503) or (status == 200 and b"Partial overview" not in page), path
            assert b"site_name" not in page  # never the build's own files


# `casenotes open` itself, the thresholds lowered, and each share of the complete read held
# (as a long history's would take seconds) until the test opens the gate.
GATED_OPEN = """
import os, sys, time
from pathlib import Path
import site_builder.site as s
s.PARALLEL_FROM, s.PARTIAL_FROM, s.PARTIAL_NOTES = 1, 3, 2
gate = Path(sys.argv.pop(1))
read, serve_partial, in_partial = s.read_entries, s._serve_partial, [False]
def _serve_partial(*args):
    in_partial[0] = True
    try:
        return serve_partial(*args)
    finally:
        in_partial[0] = False
def _read(notes):
    if not in_partial[0]:
        (gate.parent / f"reading-{os.getpid()}").touch()
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return read(notes)
s._serve_partial, s.read_entries = _serve_partial, _read
from casenotes.cli import main
main()
"""


class GatedOpen:
    def __init__(self, env: Env, tmp_path: Path) -> None:
        import subprocess
        import sys

        script = tmp_path / "gated_open.py"
        script.write_text(GATED_OPEN)
        self.gate = tmp_path / "gate"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.gate), "open", "EF-3", "--no-browser"],
            env={**env.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a terminal's Ctrl-C reaches all of it
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + self.proc.stderr.read()
        self.url = line.split()[-1]
        self.base = self.url.split("/?")[0]
        [self.directory] = Path("/dev/shm").glob(f"casenotes-site-{self.proc.pid}-*")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.opener.open(self.url, timeout=10).close()

    def child(self) -> int:
        """The second process of the complete read, once it is held at the gate."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = [int(p.name.split("-")[1]) for p in self.gate.parent.glob("reading-*")]
            others = [pid for pid in pids if pid != self.proc.pid]
            if others:
                return others[0]
            time.sleep(0.01)
        raise AssertionError("no second process")

    def finish(self) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.communicate()
        return self.proc.returncode, err


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the group", "SIGHUP"])
def test_a_signal_while_the_partial_overview_is_served_ends_open_and_wipes_both_sites(
    story: Env, tmp_path: Path, how: str
) -> None:
    _seal_history(story)
    opened = GatedOpen(story, tmp_path)
    _, page = get(opened.opener, opened.base + "/")
    assert b"Partial overview" in page
    assert (opened.directory / "partial").is_dir()
    opened.child()
    if how == "SIGINT to the group":
        os.killpg(opened.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the child too
    else:
        opened.proc.send_signal(getattr(signal, how))
    opened.gate.touch()  # the rest of the read goes on as it would
    code, err = opened.finish()
    assert code == 0, err
    assert "Site closed (Ctrl-C or stop); its files are wiped." in err
    assert not opened.directory.exists()
    events = [(e.event, e.data.get("reason")) for e in story.vault().audit.entries()]
    assert ("site-close", "stopped") in events


def test_the_second_process_killed_while_the_partial_overview_is_served_costs_no_note(
    story: Env, tmp_path: Path
) -> None:
    _seal_history(story)
    opened = GatedOpen(story, tmp_path)
    try:
        os.kill(opened.child(), signal.SIGKILL)
        opened.gate.touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, page = get(opened.opener, opened.base + "/")
            if b"Partial overview" not in page:
                break
            time.sleep(0.2)
        assert b"Partial overview" not in page and OLD_RISK.encode() in page  # every note, in the end
    finally:
        opened.proc.send_signal(signal.SIGTERM)
        code, err = opened.finish()
    assert code == 0, err
    assert not opened.directory.exists()


def test_an_addendum_of_a_psychotherapy_note_older_than_the_newest_stays_out_of_the_partial_overview(
    story: Env, tmp_path: Path, long_history: None
) -> None:
    """The newest notes hold an addendum to an addendum of a psychotherapy note, the two it
    amends both older than the newest batch: the chain is followed through notes outside
    it, so the process notes' words stay apart on the partial overview as on the complete."""
    vault = story.vault()
    cid = vault.add_client("EF-3")
    process = "eeeeeeeeeeeeeee1"
    sealed = [
        (process, note(process, "2025-06-02", "psychotherapy", body="## Process notes\nzebrafinch.\n")),
        ("eeeeeeeeeeeeeee2", note("eeeeeeeeeeeeeee2", "2025-06-03", "addendum", extra=f"amends: {process}\n",
                                  body="## Addendum\nkingfisher.\n")),
    ]  # fmt: skip
    sealed += [
        (f"eeeeeeeeeeeeeee{n}", note(f"eeeeeeeeeeeeeee{n}", f"2026-02-0{n}", extra="risk: none\n", body="Session."))
        for n in range(3, 6)
    ]  # fmt: skip
    sealed.append(
        ("eeeeeeeeeeeeeee6", note("eeeeeeeeeeeeeee6", "2026-02-06", "addendum",
                                  extra="amends: eeeeeeeeeeeeeee2\nrisk: high - heronwing\n",
                                  body="## Significant events\nheronwing.\n"))
    )  # fmt: skip
    for n, (nid, text) in enumerate(sealed):
        vault.clock = functools.partial(dt.datetime, 2026, 3, 1, 9, n, tzinfo=dt.UTC)  # sealed in this order
        vault.seal(cid, nid, text.replace("client: AB-1", "client: EF-3").encode())
    vault.close()
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        _, page = held.get()
        assert b"Partial overview: showing the newest 2 of 6 notes" in page
        assert b"heronwing" not in page and b"kingfisher" not in page and b"zebrafinch" not in page
        assert b"1 psychotherapy note is kept apart" in page
        held.release()
        _, page = held.get()
        assert b"Partial overview" not in page and b"heronwing" not in page
        assert b"3 psychotherapy notes are kept apart" in page
    finally:
        held.close()


def _seal_scored_history(env: Env) -> None:
    """EF-3: the first session a year earlier, PHQ-9 21 with a high risk; three sessions
    without a score; the newest at PHQ-9 12. The newest two are what a partial shows."""
    vault = env.vault()
    cid = vault.add_client("EF-3")
    sealed = [
        ("eeeeeeeeeeeeeee1", "2025-06-02", f"measures:\n  phq9: 21\nrisk: high - {OLD_RISK}\n"),
        *((f"eeeeeeeeeeeeeee{n}", f"2026-02-0{n}", "risk: none\n") for n in range(2, 5)),
        ("eeeeeeeeeeeeeee5", "2026-02-05", "measures:\n  phq9: 12\nrisk: none\n"),
    ]
    for n, (nid, day, extra) in enumerate(sealed):
        vault.clock = functools.partial(dt.datetime, 2026, 3, 1, 9, n, tzinfo=dt.UTC)
        text = note(nid, day, extra=extra, body=f"## Subjective\nSession of {day}.\n")
        vault.seal(cid, nid, text.replace("client: AB-1", "client: EF-3").encode())
    vault.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_partial_overview_never_states_a_figure_of_the_whole_history_it_has_not_read(
    story: Env, tmp_path: Path, long_history: None, width: int
) -> None:
    """Issue 26 item 6: under its partial box, the body said "In care since" the oldest
    note it had read, "change since first +0" from a baseline it had not read, and "Risk
    flags: none" with the older notes unread. Every such figure now says what it rests on;
    in a real browser, at a desk's width and a phone's, nothing of it cut off."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    _seal_scored_history(story)
    held = HeldComplete(story, tmp_path / "ram")
    try:
        assert held.opened is not None
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(held.opened.url)
            page.wait_for_url(held.opened.url.split("/?")[0] + "/")
            text = page.locator("article").inner_text()
            assert "Partial overview: showing the newest 2 of 5 notes" in text
            assert "In care since at least 04 Feb 2026" in text  # never "since" the oldest read
            assert "2 sessions in the newest 2 of 5 notes" in text
            assert "+0" not in text  # PHQ-9's first score is in a note not read yet
            assert "first score" not in text  # it is the first read, not the first
            assert (
                "Trend and change from the scores in the newest 2 notes; 3 older notes not read yet" in text
            )
            assert "None: every assessed session says" not in text
            assert "No risk flag in the newest 2 notes; 3 older notes not read yet" in text
            assert OLD_RISK not in text
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing cut off
            scores = page.locator("article table").first.evaluate("t => [t.scrollWidth, t.clientWidth]")
            assert scores[0] <= scores[1] + 1, scores  # the scores whole, no sideways scroll
            held.release()
            try:
                page.reload()
            except PlaywrightError:  # the page's own refresh to the complete overview raced it
                page.wait_for_load_state()
            page.wait_for_function("() => !document.querySelector('article').innerText.includes('Partial')")
            complete = page.locator("article").inner_text()
            assert "Partial overview" not in complete and "not read yet" not in complete
            assert "In care since 02 Jun 2025 · 5 sessions" in complete and "-9" in complete
            assert OLD_RISK in complete
            browser.close()
    finally:
        held.close()
