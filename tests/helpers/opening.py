"""`casenotes open` as a real process or held in a thread after the overview, a client
of its site, and the check that nothing it decrypted is left behind."""

from __future__ import annotations

import http.cookiejar
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from conftest import PASSPHRASE, Env
from site_fixtures import MARKER

from site_builder import BuiltSite, OpenSite, build_site
from vault import Passphrase

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


def _open_elsewhere(path: Path) -> bool:
    """A site folder of another `open` still running (another test, in parallel)."""
    match = re.match(r"casenotes-site-(\d+)-", path.name)
    if not match:
        return False
    try:
        os.kill(int(match[1]), 0)
    except OSError:
        return False  # its process is gone: whatever it left is a leak
    return True


def no_marker_left(env: Env) -> None:
    places = [env.practice.root, *RAM.iterdir(), *Path(tempfile.gettempdir()).glob("casenotes-*")]
    for place in places:
        if _open_elsewhere(place):
            continue
        for path in [place] if place.is_file() else place.rglob("*") if place.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                assert MARKER.encode() not in path.read_bytes(), path


class HeldOpen:
    """`casenotes open` in a thread, held after the overview until release()."""

    def __init__(self, env: Env, handle: str, directory: Path) -> None:
        self.vault = env.vault()
        self.handle = handle
        practitioner = self.vault.unlock(Passphrase(PASSPHRASE))
        self.overview, self.held, self.done = threading.Event(), threading.Event(), threading.Event()
        self.opened: OpenSite | None = None
        self.errors: list[BaseException] = []
        directory.mkdir()

        def run() -> None:
            try:
                build_site(
                    self.vault,
                    practitioner,
                    self.vault.resolve(handle),
                    handle,
                    directory,
                    on_overview=self.on_overview,
                )
                assert self.opened is not None
                self.opened.completed()
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)
                self.overview.set()
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.overview.wait(120) and not self.errors, self.errors
        opened: OpenSite | None = self.opened  # set by the thread above
        assert opened is not None and not opened.server.complete.is_set()

    def on_overview(self, site: BuiltSite) -> None:
        self.opened = OpenSite(self.vault, {"client": self.handle}, site)
        self.opened.start()
        self.overview.set()
        self.held.wait(60)  # the other pages are not all written until released

    def release(self) -> None:
        self.held.set()
        assert self.done.wait(120) and not self.errors, self.errors

    def close(self) -> None:
        self.held.set()
        self.thread.join()
        if self.opened is not None:
            self.opened.close("stopped")


def client(opened: OpenSite) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    opener.open(opened.url, timeout=10).close()  # the token for the cookie, once
    return opener


def get(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, bytes]:
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
