"""A small HTTP server for one built site: 127.0.0.1 only, a token, a cookie, nothing else.

Not `mkdocs serve`: that is a development server with no Host or token check. Here every
request must carry the session cookie (obtained once with the per-run token in the URL),
name the served address in its Host header (against DNS rebinding), and resolve to a
file inside the site directory. Nothing is cached, nothing is listed, nothing is logged.
"""

from __future__ import annotations

import mimetypes
import posixpath
import secrets
import threading
import time
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

COOKIE = "casenotes_session"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Material needs its inline config script and styles; nothing may come from elsewhere.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
    ),
}


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.token = secrets.token_urlsafe(32)
        self.session = secrets.token_urlsafe(32)
        self.last_request = time.monotonic()
        self.requests = 0

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/?token={self.token}"

    def resolve(self, raw_path: str) -> Path | None:
        """The file a request path names, or None if it names nothing inside the site."""
        path = unquote(urlsplit(raw_path).path)
        if "\x00" in path or "\\" in path:
            return None
        clean = posixpath.normpath("/" + path.lstrip("/"))
        target = (self.root / clean.lstrip("/")).resolve()
        if target != self.root and not target.is_relative_to(self.root):
            return None
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def serve_until(self, stop: threading.Event, idle_timeout: float) -> str:
        """Serve until stop is set or no request came for idle_timeout seconds."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        try:
            while not stop.wait(0.2):
                if time.monotonic() - self.last_request > idle_timeout:
                    return "idle"
            return "stopped"
        finally:
            self.shutdown()
            thread.join()
            self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # paths name sessions and dates: never logged

    def _refuse(self, status: HTTPStatus) -> None:
        self.send_response(status)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _has_session(self) -> bool:
        try:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = cookie.get(COOKIE)
        return morsel is not None and secrets.compare_digest(morsel.value, self.server.session)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        self.server.last_request = time.monotonic()
        if self.headers.get("Host") != self.server.host:
            return self._refuse(HTTPStatus.FORBIDDEN)  # DNS rebinding, or another site's request
        query = parse_qs(urlsplit(self.path).query)
        token = query.get("token", [""])[0]
        if token:
            if not secrets.compare_digest(token, self.server.token):
                return self._refuse(HTTPStatus.FORBIDDEN)
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header(
                "Set-Cookie", f"{COOKIE}={self.server.session}; HttpOnly; SameSite=Strict; Path=/"
            )
            self.send_header("Location", urlsplit(self.path).path or "/")
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if not self._has_session():
            return self._refuse(HTTPStatus.FORBIDDEN)
        target = self.server.resolve(self.path)
        if target is None:
            return self._refuse(HTTPStatus.NOT_FOUND)
        data = target.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(data)
        self.server.requests += 1
        return None

    def do_POST(self) -> None:  # noqa: N802
        self._refuse(HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST  # noqa: N815
