"""A small HTTP server for one built site: 127.0.0.1 only, a token once, a cookie after.

Not `mkdocs serve`: that is a development server with no Host or token check. Here:

- Each run serves its site under a random path prefix (``/<prefix>/``) and names its
  cookie at random, with the cookie's ``Path`` set to the prefix. Cookies are not
  isolated by port (RFC 6265), so a cookie with ``Path=/`` would reach every other server
  on 127.0.0.1; this one reaches only a server asked for the secret prefix. Two sites open
  at once keep two cookies.
- The token is single-use: the first exchange consumes it. It answers with a small page
  that refreshes to the site, so that the first real page load is a same-origin
  navigation (a 303 after a navigation from the ``file://`` launcher would be a
  cross-site one, and the ``SameSite=Strict`` cookie would not be sent).
- A request whose ``Sec-Fetch-Site`` or ``Origin`` says it comes from another site is
  refused, as is one naming another Host (DNS rebinding).
- While the rest of a long history is rendered, only the overview and the theme's files
  are served; any other page gets a fixed "still preparing" page that reloads itself
  (after the same checks: it too needs the cookie).
- Only an authenticated request keeps the site alive; any refusal closes the connection
  (a body is never parsed as the next request); at most MAX_CONNECTIONS at a time. When
  all are taken, the oldest connection that has not shown the cookie is closed for the
  new one: idle or trickling connections (any local user can open them) never keep the
  practitioner, or the client at the form, out.

Nothing is cached, nothing is listed, nothing is logged.
"""

from __future__ import annotations

import hmac
import html
import mimetypes
import posixpath
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

MAX_CONNECTIONS = 32  # a browser opens six per host; beyond this an unauthenticated one is closed
EVICTED_WITHIN = 0.5  # seconds a new connection waits for the slot of one closed for it
CONNECTION_TIMEOUT = 20.0  # seconds an idle keep-alive connection may hold a slot
FOREIGN_FETCH_SITES = {"cross-site", "same-site"}  # same-site: another port of 127.0.0.1
PREPARING = (
    b'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="1">'
    b"<title>casenotes: preparing</title></head><body><p>This page is still being prepared; "
    b"it opens by itself in a moment.</p></body></html>\n"
)


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """No inline script runs but the ones the build wrote (by hash); nothing from elsewhere.

    Styles keep 'unsafe-inline': Material sets style attributes, and a style cannot run
    code (docs/decisions.md).
    """
    scripts = " ".join(f"'{h}'" for h in sorted(set(script_hashes)))
    return (
        f"default-src 'self'; script-src 'self' {scripts}".rstrip()
        + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; form-action 'none'; "
        "base-uri 'none'"
    )


class Stop(Protocol):
    """What serve_until waits on: a StopFlag, or a threading.Event where no signal sets it."""

    def wait(self, timeout: float) -> bool: ...


class GuardedServer(ThreadingHTTPServer):
    """The guard every local page of casenotes stands behind: 127.0.0.1 only, a random path
    prefix, a single-use token exchanged for a ``Path``-scoped cookie, a Host check, bounded
    connections. What is served behind it is the handler's (the site's files, the client's
    measure form)."""

    daemon_threads = False  # server_close() joins them, after closing their sockets
    block_on_close = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], csp: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.prefix = "/" + secrets.token_urlsafe(18)
        self.cookie = "casenotes_" + secrets.token_hex(8)
        self.token = secrets.token_urlsafe(32)
        self.session = secrets.token_urlsafe(32)
        self.csp = csp
        self.last_request = time.monotonic()
        self.requests = 0
        self._token_used = False
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: dict[socket.socket, bool] = {}  # open connections (oldest first): authenticated?
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://{self.host}"

    @property
    def url(self) -> str:
        return f"{self.origin}{self.prefix}/?token={self.token}"

    def launcher_html(self) -> str:
        """A page that sends the browser to the token URL (the token stays off any argv)."""
        url = html.escape(self.url, quote=True)
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={url}"><title>casenotes</title></head>'
            f'<body><p><a href="{url}">Open the site</a></p></body></html>\n'
        )

    def consume(self, token: str) -> bool:
        """True once, for the right token; every later exchange is refused."""
        good = hmac.compare_digest(token.encode("utf-8", "surrogateescape"), self.token.encode("ascii"))
        with self._lock:
            if not good or self._token_used:
                return False
            self._token_used = True
            return True

    def has_session(self, cookie_header: str) -> bool:
        """Whether a Cookie header carries this run's session (bytes compared: any input is fine)."""
        expected = self.session.encode("ascii")
        for pair in cookie_header.split(";"):
            name, _, value = pair.strip().partition("=")
            if name == self.cookie and hmac.compare_digest(
                value.strip().encode("utf-8", "surrogateescape"), expected
            ):
                return True
        return False

    def site_path(self, raw_path: str) -> str | None:
        """The path inside the site a request names, or None if it is outside the prefix."""
        path = urlsplit(raw_path).path
        if not path.startswith(self.prefix + "/"):
            return None
        return path[len(self.prefix) :]

    def touch(self) -> None:
        self.last_request = time.monotonic()

    # -- connections: bounded, and closed on shutdown ------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False) and not (
            self._evict() and self._slots.acquire(timeout=EVICTED_WITHIN)
        ):
            self.shutdown_request(request)  # too many at once, all authenticated: closed, nothing read
            return
        with self._lock:
            self._open[request] = False
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _evict(self) -> bool:
        """Close the oldest connection that has not shown the cookie (its thread then ends
        and frees its slot); False if every one has."""
        with self._lock:
            for sock, authenticated in self._open.items():
                if not authenticated:
                    self._open[sock] = True  # not chosen twice
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return True
        return False

    def authenticated(self, request: Any) -> None:
        """The connection showed the cookie (or exchanged the token): never evicted."""
        with self._lock:
            if request in self._open:
                self._open[request] = True

    def _release(self, request: Any) -> None:
        with self._lock:
            self._open.pop(request, None)
        self._slots.release()

    def server_close(self) -> None:
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # a browser's keep-alive must not hold us open
                except OSError:
                    pass
        super().server_close()

    def start(self) -> None:
        """Answer requests in a thread from now on."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
            )
            self._thread.start()

    def serve_until(self, stop: Stop, idle_timeout: float) -> str:
        """Serve until stop is set or no authenticated request came for idle_timeout seconds.

        ``stop`` may be set from a signal handler: it is a StopFlag there (stopping.py),
        whose wait takes no lock the handler could be waiting for."""
        self.start()
        try:
            while not stop.wait(0.2):
                if time.monotonic() - self.last_request > idle_timeout:
                    return "idle"
            return "stopped"
        finally:
            self.close()

    def close(self) -> None:
        """Stop answering, and close every connection (idempotent)."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        if not self._closed:
            self._closed = True
            self.server_close()


class SiteServer(GuardedServer):
    """One built site's files, behind the guard, GET and HEAD only."""

    def __init__(self, root: Path, script_hashes: Iterable[str] = (), complete: bool = True) -> None:
        super().__init__(_Handler, content_security_policy(script_hashes))
        self.root = root.resolve()
        # Set once every page is written. Until then (the overview served while the rest is
        # rendered) only the overview and the theme's files are answered; any other page,
        # possibly half-written, gets PREPARING instead.
        self.complete = threading.Event()
        if complete:
            self.complete.set()

    def resolve(self, raw_path: str) -> Path | None:
        """The file a path inside the site names, or None if it names nothing inside the site."""
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

    def ready(self, target: Path) -> bool:
        """Whether a file may be served now: any once complete, else the early ones."""
        if self.complete.is_set():
            return True
        return target == self.root / "index.html" or target.is_relative_to(self.root / "assets")


class GuardedHandler(BaseHTTPRequestHandler):
    """The guard's checks on every request; ``_answer`` serves what passes them."""

    server: GuardedServer
    protocol_version = "HTTP/1.1"
    timeout = CONNECTION_TIMEOUT
    referrer_policy = "no-referrer"

    def log_message(self, format: str, *args: object) -> None:
        pass  # paths name sessions and dates: never logged

    def _headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", self.referrer_policy)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", self.server.csp)

    def _refuse(self, status: HTTPStatus) -> None:
        """An empty answer, and the connection closed: a body sent with it is never read."""
        self.close_connection = True
        self.send_response(status)
        self._headers()
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _from_elsewhere(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is not None and origin != self.server.origin:
            return True
        return self.headers.get("Sec-Fetch-Site", "").strip().lower() in FOREIGN_FETCH_SITES

    def _handle(self) -> None:
        srv = self.server
        if self.headers.get("Host") != srv.host:
            return self._refuse(HTTPStatus.FORBIDDEN)  # DNS rebinding, or another site's request
        inside = srv.site_path(self.path)
        token = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        if token and inside == "/" and self.command == "GET":
            return self._exchange(token)
        if self._from_elsewhere() or not srv.has_session(self.headers.get("Cookie", "")):
            return self._refuse(HTTPStatus.FORBIDDEN)
        srv.touch()  # authenticated: only now does the site count as in use
        srv.authenticated(self.request)
        return self._answer(inside)

    def _answer(self, inside: str | None) -> None:
        """Answer an authenticated request for INSIDE (a path under the prefix, or None)."""
        return self._refuse(HTTPStatus.NOT_FOUND)

    def _exchange(self, token: str) -> None:
        """The token, once, for the cookie; from the launcher file, so any Sec-Fetch-Site."""
        srv = self.server
        dest = self.headers.get("Sec-Fetch-Dest")
        if (dest is not None and dest != "document") or not srv.consume(token):
            return self._refuse(HTTPStatus.FORBIDDEN)
        srv.touch()
        srv.authenticated(self.request)
        # A refresh from this page is a same-origin navigation: the Strict cookie goes with it.
        body = b'<!doctype html><meta http-equiv="refresh" content="0;url=./"><a href="./">Open</a>\n'
        self.send_response(HTTPStatus.OK)
        self.send_header(
            "Set-Cookie", f"{srv.cookie}={srv.session}; HttpOnly; SameSite=Strict; Path={srv.prefix}/"
        )
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self._headers()
        self.end_headers()
        self.wfile.write(body)
        return None

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away or fell silent

    def __getattr__(self, name: str) -> Any:
        # Every method, known or invented (do_GET, do_HEAD, do_PROPFIND...), takes the same
        # checks: none answers without the cookie; with it, _answer decides (the site answers
        # GET and HEAD alone, the measure form its one POST too).
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class _Handler(GuardedHandler):
    """A built site's files: GET and HEAD, nothing else."""

    server: SiteServer

    def _answer(self, inside: str | None) -> None:
        srv = self.server
        if self.command not in ("GET", "HEAD"):
            return self._refuse(HTTPStatus.METHOD_NOT_ALLOWED)
        target = srv.resolve(inside) if inside is not None else None
        if not srv.complete.is_set() and inside is not None and (target is None or not srv.ready(target)):
            return self._preparing()  # not written yet, or being written: never a part of it
        if target is None:
            return self._refuse(HTTPStatus.NOT_FOUND)
        data = target.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self._headers()
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)
        srv.requests += 1
        return None

    def _preparing(self) -> None:
        """A page the build has not written yet: a fixed page that reloads itself in a
        second (same URL, so the cookie goes with it). It says nothing of the site."""
        self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PREPARING)))
        self.send_header("Retry-After", "1")
        self._headers()
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(PREPARING)
