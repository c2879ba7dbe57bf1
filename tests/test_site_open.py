"""`casenotes open` end to end: served, then gone, on every way out; and in a real browser."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from site_fixtures import MARKER, seal_story

RAM = Path("/dev/shm")


class Opened:
    def __init__(self, env: Env, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "casenotes", "open", "AB-1", "--no-browser", *args],
            env={**env.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + self.proc.stderr.read()
        self.url = line.split()[-1]
        self.base = self.url.split("/?")[0]

    def directories(self) -> list[Path]:
        return [
            p
            for base in (RAM, Path(tempfile.gettempdir()))
            for p in base.glob(f"casenotes-site-{self.proc.pid}-*")
        ]

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


def no_marker_left(env: Env) -> None:
    places = [env.practice.root, RAM] + list(Path(tempfile.gettempdir()).glob("casenotes-*"))
    for place in places:
        for path in place.rglob("*") if place.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                assert MARKER.encode() not in path.read_bytes(), path


@pytest.fixture
def story(practice: Env) -> Env:
    seal_story(practice)
    return practice


def fetch_with_token(opened: Opened) -> bytes:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(opened.url, timeout=10) as response:  # follows the 303 with the cookie
        return response.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_site_and_wipes_it(story: Env, signum: int) -> None:
    opened = Opened(story)
    assert b"In care since" in fetch_with_token(opened)
    [directory] = opened.directories()
    assert directory.parent == RAM and oct(directory.stat().st_mode & 0o777) == oct(0o700)
    opened.proc.send_signal(signum)
    code, err = opened.finish()
    assert code == 0, err
    assert not directory.exists()
    no_marker_left(story)
    events = [(e.event, e.data.get("reason")) for e in story.vault().audit.entries()]
    assert ("site-open", None) in events and ("site-close", "stopped") in events


def test_the_idle_timeout_wipes_the_site(story: Env) -> None:
    opened = Opened(story, "--idle-timeout", "0.05")  # three seconds
    [directory] = opened.directories()
    code, _ = opened.finish(timeout=30)
    assert code == 0 and not directory.exists()
    no_marker_left(story)
    assert any(e.event == "site-close" and e.data["reason"] == "idle" for e in story.vault().audit.entries())


def test_a_crashed_open_is_wiped_by_the_next_command(story: Env) -> None:
    opened = Opened(story)
    [directory] = opened.directories()
    os.kill(opened.proc.pid, signal.SIGKILL)
    opened.finish()
    assert directory.exists()  # a crash leaves it behind...
    assert story.run("status").code == 0
    assert not directory.exists()  # ...and the next command removes it
    no_marker_left(story)


def test_open_refuses_clearly(story: Env) -> None:
    before = set(RAM.glob("casenotes-site-*"))
    wrong = story.run("open", "AB-1", "--no-browser", passphrase="wrong")
    assert wrong.code == 2 and "wrong passphrase" in wrong.err
    unknown = story.run("open", "ZZ-9", "--no-browser")
    assert unknown.code == 1 and "no client has this handle" in unknown.err
    vault = story.vault()
    access = next((vault.client_dir(vault.resolve("AB-1")) / "access").iterdir())
    access.unlink()
    denied = story.run("open", "AB-1", "--no-browser")
    assert denied.code == 1 and "holds no key for client" in denied.err
    assert set(RAM.glob("casenotes-site-*")) <= before  # nothing was decrypted, nothing left


def test_a_tampered_note_is_named_on_stderr(story: Env) -> None:
    vault = story.vault()
    [(_, _, path)] = vault.revisions(vault.resolve("AB-1"), "aaaaaaaaaaaaaaa2")
    raw = bytearray(path.read_bytes())
    raw[300] ^= 1
    path.write_bytes(bytes(raw))
    opened = Opened(story)
    time.sleep(0.2)
    opened.proc.send_signal(signal.SIGTERM)
    _, err = opened.finish()
    assert "note aaaaaaaaaaaaaaa2 is damaged" in err


def test_in_a_real_browser_newest_first_a_chart_and_no_other_host(story: Env) -> None:
    from playwright.sync_api import sync_playwright

    opened = Opened(story)
    requested: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(opened.url)
            assert page.locator("h1").first.inner_text() == "AB-1"
            page.get_by_role("link", name="Timeline").first.click()
            page.wait_for_url("**/timeline.html")
            first = page.locator("ul.cn-timeline li strong a").first
            assert first.inner_text() == "19 Jan 2026"
            page.get_by_role("link", name="Measures").first.click()
            page.wait_for_url("**/measures.html")
            assert page.locator("svg.cn-chart").count() == 2
            assert page.locator("svg.cn-chart circle").first.is_visible()
            page.locator("input.md-search__input").click()
            page.locator("input.md-search__input").press_sequentially("bereavement", delay=30)
            page.wait_for_selector(".md-search-result__item", timeout=10_000)
            browser.close()
    finally:
        opened.proc.send_signal(signal.SIGTERM)
        opened.finish()
    hosts = {url.split("/")[2] for url in requested if url.startswith("http")}
    assert hosts == {opened.base.split("/")[2]}, hosts
