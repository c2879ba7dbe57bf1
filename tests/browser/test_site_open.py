"""`casenotes open` end to end: served, then gone, on every way out; and in a real browser."""

from __future__ import annotations

import http.server
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.opening import RAM, Opened, _open_elsewhere, no_marker_left
from site_fixtures import CHROMIUM, CHROMIUM_ARGS, LocalServer, note, require_chromium


def fetch_with_token(opened: Opened) -> bytes:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(opened.url, timeout=10).close()  # the token for the cookie, once
    with opener.open(opened.base + "/", timeout=10) as response:
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
    assert "Site closed (Ctrl-C or stop); its files are wiped." in err  # the practitioner is told
    no_marker_left(story)
    events = [(e.event, e.data.get("reason")) for e in story.vault().audit.entries()]
    assert ("site-open", None) in events and ("site-close", "stopped") in events


def test_the_idle_timeout_wipes_the_site(story: Env) -> None:
    opened = Opened(story, "--idle-timeout", "0.05")  # three seconds
    [directory] = opened.directories()
    code, err = opened.finish(timeout=30)
    assert code == 0 and not directory.exists()
    assert "Site closed (idle timeout); its files are wiped." in err
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
    # Nothing was decrypted, nothing left (another test's open, still running, may add its own).
    assert {p for p in RAM.glob("casenotes-site-*") if not _open_elsewhere(p)} <= before


def test_an_open_with_a_wrong_passphrase_changes_nothing_in_the_vault(story: Env) -> None:
    """The signatures are checked while the passphrase is derived: a wrong one writes
    nothing but its own audit entry (`unlock-failed`, no `decrypt`)."""

    def files() -> dict[Path, bytes]:
        return {
            p: p.read_bytes() for p in story.vault_dir.rglob("*") if p.is_file() and p.parent.name != "audit"
        }

    before, entries = files(), sum(1 for _ in story.vault().audit.entries())
    wrong = story.run("open", "AB-1", "--no-browser", passphrase="wrong")
    assert wrong.code == 2 and "wrong passphrase" in wrong.err
    assert files() == before
    assert [e.event for e in list(story.vault().audit.entries())[entries:]] == ["unlock-failed"]


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

    chromium = require_chromium()
    opened = Opened(story)
    requested: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.goto(opened.url)
            page.wait_for_url(opened.base + "/")  # the token page refreshes to the site
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
            page.goto(opened.base + "/timeline.html")
            page.locator("ul.cn-timeline li strong a").first.click()  # a month page, under the prefix
            page.wait_for_url(re.compile(r".*/sessions/[^/]+\.html(#.*)?$"))
            assert "Slept better" in page.content()
            browser.close()
    finally:
        opened.proc.send_signal(signal.SIGTERM)
        opened.finish()
    hosts = {url.split("/")[2] for url in requested if url.startswith("http")}
    assert hosts == {opened.base.split("/")[2]}, hosts


class Collector(LocalServer):
    """Another web server on 127.0.0.1, as any local program could run one: it records the
    Cookie header of every request a browser sends it, and serves a page that makes the
    browser ask the site for a page (with whatever cookies the browser attaches)."""

    def __init__(self, site_page: str) -> None:
        self.cookies: list[str] = []
        self.page = (
            f'<img src="{site_page}"><script>fetch("{site_page}", '
            '{credentials: "include", mode: "no-cors"}).then(() => document.title = "sent", '
            '() => document.title = "sent");</script>'
        ).encode()
        super().__init__(self._answer)

    def _answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        self.cookies.append(request.headers.get("Cookie") or "")
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.send_header("Content-Length", str(len(self.page)))
        request.end_headers()
        request.wfile.write(self.page)


def replay(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_in_a_real_browser_another_local_server_gets_no_cookie_and_its_page_gets_nothing(story: Env) -> None:
    """The attack of issue 14: a page on another 127.0.0.1 port collects and replays the session."""
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    opened = Opened(story)
    site_page = opened.base + "/index.html"  # the attacker is even given the secret prefix
    collector = Collector(site_page)
    answers: dict[str, int] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context()
            page = context.new_page()
            page.goto(opened.url)
            page.wait_for_url(opened.base + "/")
            assert page.locator("h1").first.inner_text() == "AB-1"  # logged in
            evil = context.new_page()
            evil.on("response", lambda r: answers.update({r.url: r.status}) if r.url == site_page else None)
            for path in ("/", "/index.html", "/casenotes/"):
                evil.goto(collector.origin + path)
                evil.wait_for_function("document.title === 'sent'", timeout=10_000)
            page.reload()
            assert page.locator("h1").first.inner_text() == "AB-1"  # the site still works
            browser.close()
        assert collector.cookies and not any(collector.cookies), collector.cookies  # nothing reached it
        assert answers and set(answers.values()) == {403}, answers  # what its page asked for, refused
        for cookie in set(collector.cookies):
            assert replay(site_page, cookie) == 403
    finally:
        collector.close()
        opened.proc.send_signal(signal.SIGTERM)
        opened.finish()


def fake_browser(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A BROWSER that records its own command line and environment, as /proc shows them."""
    cmdline, environ = tmp_path / "cmdline", tmp_path / "environ"
    script = tmp_path / "browser.sh"
    script.write_text(
        f"#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ > {environ}\n"  # before cmdline: the test waits for that
        f"tr '\\0' '\\n' < /proc/$$/cmdline > {cmdline}.part && mv {cmdline}.part {cmdline}\n"
    )
    script.chmod(0o700)
    return script, cmdline, environ


def test_the_browser_gets_no_token_on_its_command_line_and_no_passphrase(story: Env, tmp_path: Path) -> None:
    script, cmdline, environ = fake_browser(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "open", "AB-1"],
        env={**story.env, "CASENOTES_PASSPHRASE": PASSPHRASE, "BROWSER": str(script)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("Serving http://127.0.0.1:"), line
        url = line.split()[-1]
        token = url.split("token=")[1]
        deadline = time.monotonic() + 20
        while not cmdline.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        argv = cmdline.read_text().split("\n")
        assert token not in cmdline.read_text() and "token=" not in cmdline.read_text()
        assert PASSPHRASE not in environ.read_text() and "CASENOTES_PASSPHRASE" not in environ.read_text()
        launcher = Path(argv[2].removeprefix("file://"))  # sh, the script, the file
        assert argv[2].startswith("file://") and launcher.parent.parent == RAM
        assert oct(launcher.stat().st_mode & 0o777) == oct(0o600) and token in launcher.read_text()
        if Path(CHROMIUM).exists():  # the rest needs a real browser
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:  # and a real browser opened at that file gets in
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(argv[2])
                page.wait_for_url(url.split("?")[0])
                assert page.locator("h1").first.inner_text() == "AB-1"
                browser.close()
            again = replay(url, "")  # the token was used up by that visit
            assert again == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_two_sites_open_at_once_in_one_browser_both_keep_working(story: Env) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    first, second = Opened(story), Opened(story)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context()
            pages = []
            for opened in (first, second):
                page = context.new_page()
                page.goto(opened.url)
                page.wait_for_url(opened.base + "/")
                pages.append(page)
            for page, opened in zip(pages, (first, second), strict=True):
                page.goto(opened.base + "/timeline.html")
                assert page.locator("h1").first.inner_text() != "", opened.base
                assert "403" not in page.title()
                page.reload()
                assert page.locator("ul.cn-timeline li").count() > 0
            browser.close()
    finally:
        for opened in (first, second):
            opened.proc.send_signal(signal.SIGTERM)
            opened.finish()


def test_a_hostile_label_and_note_cannot_run_script_in_a_real_browser(tmp_path: Path) -> None:
    """A share's label and notes are another practitioner's text: none of it may run."""
    import threading

    from playwright.sync_api import Dialog, sync_playwright

    from site_builder import build_shared_site, create
    from site_builder.server import SiteServer
    from vault import OpenedNote, Plaintext

    chromium = require_chromium()
    label = "\"><img src=x onerror=\"document.title='pwned'\"> AB-1' onmouseover='alert(1)"
    body = '<script>document.title="pwned"</script>\n<img src=x onerror="document.title=\'pwned\'">\n'
    text = note("aaaaaaaaaaaaaaa1", "2026-02-02", body=body)
    directory = create(tmp_path)
    built = build_shared_site(
        label,
        [OpenedNote("aaaaaaaaaaaaaaa1", 1, "2026-02-02", True, Plaintext(text.encode()))],
        directory,
        "banner <b>",
    )
    config = (directory / "mkdocs.yml").read_text()
    import yaml

    site_name = yaml.safe_load(config)["site_name"]
    assert not set(site_name) & set("<>\"'=&"), site_name
    from site_builder import theme

    server = SiteServer(built.html, theme.script_hashes(built.html))
    stop = threading.Event()
    thread = threading.Thread(target=server.serve_until, args=(stop, 3600))
    thread.start()
    dialogs: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()

            def dismiss(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)
            page.goto(server.url)
            page.wait_for_url(f"{server.origin}{server.prefix}/")
            month = page.locator('a[href^="sessions/"]').first.get_attribute("href")
            for path in ("/", "/timeline.html", f"/{month}"):
                page.goto(f"{server.origin}{server.prefix}{path}")
                page.mouse.move(10, 10)
                page.hover("header")
                page.wait_for_timeout(300)
                assert page.title() != "pwned", path
                assert page.locator(".md-header").count() == 1  # Material's own scripts ran the page
            browser.close()
    finally:
        stop.set()
        thread.join()
    assert dialogs == []


@pytest.fixture
def long_story(story: Env) -> Env:
    """The story and 150 more draft notes: a history long enough to be built by two
    processes while the overview is served (site_builder.site.PARALLEL_FROM)."""
    with story.vault() as vault:
        client_id = vault.resolve("AB-1")
        for n in range(150):
            day = f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}"
            text = note(
                f"{n + 1:016x}", day, "soap", "draft", body=f"## Subjective\nFictional session {n}.\n"
            )
            vault.seal(client_id, f"{n + 1:016x}", text.encode())
    return story


@pytest.mark.parametrize("moment", ["building", "serving-overview"])
def test_a_signal_while_the_site_is_built_stops_it_and_wipes_it(long_story: Env, moment: str) -> None:
    """A signal in the middle of the build (decrypting, rendering in two processes) must
    end the process and wipe the site's plaintext: a stop raised at a random point of the
    build once left `open` hung, its site on disk, past its idle timeout."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "open", "AB-1", "--no-browser"],
        env={**long_story.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(RAM.glob(f"casenotes-site-{proc.pid}-*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        [directory] = RAM.glob(f"casenotes-site-{proc.pid}-*")
        if moment == "serving-overview":
            assert proc.stdout is not None and proc.stdout.readline().startswith("Serving ")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Site closed (Ctrl-C or stop); its files are wiped." in err
    assert not directory.exists()
    no_marker_left(long_story)


SIGNALLED_AT_CREATE = """
import os, signal, sys
from site_builder import ramdir
real = ramdir.create
def create(base):
    directory = real(base)
    os.kill(os.getpid(), signal.SIGTERM)  # the stop arrives the moment the directory exists
    return directory
ramdir.create = create
from casenotes.cli import main
sys.argv = ["casenotes", *sys.argv[1:]]
main()
"""


def test_a_signal_the_moment_the_site_directory_is_made_still_wipes_it(story: Env, tmp_path: Path) -> None:
    """The handlers are in place before the directory exists: a stop between the two once
    killed `open` outright and left its directory behind."""
    script = tmp_path / "signalled_open.py"
    script.write_text(SIGNALLED_AT_CREATE)
    proc = subprocess.Popen(
        [sys.executable, str(script), "open", "AB-1", "--no-browser"],
        env={**story.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Site closed (Ctrl-C or stop); its files are wiped." in err
    assert "Serving" not in out
    assert not list(RAM.glob(f"casenotes-site-{proc.pid}-*"))
    no_marker_left(story)


def test_what_a_sync_left_half_made_is_named_once_every_page_is_ready(story: Env) -> None:
    """The scan for leftovers is not on the way to the pages: its warning comes after "all
    pages ready", and the site still serves and is wiped as ever."""
    from vault.format.encoding import new_id

    with story.vault() as vault:
        arriving = vault.client_dir(vault.resolve("AB-1")) / "records" / new_id()
    arriving.mkdir()  # another machine's new note, its folder synced before its file
    old = time.time() - 7200  # past the hour after which a half-made folder is named
    os.utime(arriving, (old, old))
    opened = Opened(story)
    assert b"In care since" in fetch_with_token(opened)
    [directory] = opened.directories()
    told = []
    for line in opened.proc.stderr:  # every page served before the stop
        told.append(line)
        if line.startswith("casenotes: all pages ready"):
            break
    opened.proc.send_signal(signal.SIGTERM)
    err = "".join(told) + opened.proc.stderr.read()  # the rest: communicate() would skip what is buffered
    code, _ = opened.finish()  # and the pipes closed
    assert code == 0 and not directory.exists(), err
    ready = err.index("casenotes: all pages ready")
    named = err.index(f"{arriving}: holds no note yet (skipped)")
    assert ready < named < err.index("Site closed")
    assert arriving.is_dir()  # left alone: a sync engine may still be filling it
