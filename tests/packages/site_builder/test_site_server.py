"""The site server, attacked: a token once, a cookie after, only from here, nothing outside served."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from site_builder.server import MAX_CONNECTIONS, PREPARING, SiteServer

EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"]


def make_site(root: Path) -> Path:
    (root / "sessions").mkdir(parents=True)
    (root / "index.html").write_text("<h1>overview</h1>")
    (root / "sessions" / "one.html").write_text("<h1>one session</h1>")
    return root


class Running:
    """A SiteServer serving in a thread, stopped at the end of the test."""

    def __init__(self, root: Path, idle_timeout: float = 3600) -> None:
        self.srv = SiteServer(root)
        self.stop = threading.Event()
        self.outcome: list[str] = []
        self.thread = threading.Thread(
            target=lambda: self.outcome.append(self.srv.serve_until(self.stop, idle_timeout))
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "secret.txt").write_text("outside the site")
    running = Running(make_site(tmp_path / "site"))
    yield running.srv
    running.close()


def request(
    srv: SiteServer,
    path: str,
    host: str | None = None,
    cookie: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    raw_cookie: str | None = None,
    in_site: bool = True,
):
    """One request on a fresh connection; ``path`` is inside the site's prefix unless in_site=False."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    sent = {"Host": host or srv.host, **(headers or {})}
    if cookie is not None:
        sent["Cookie"] = f"{srv.cookie}={cookie}"
    if raw_cookie is not None:
        sent["Cookie"] = raw_cookie
    conn.putrequest(method, (srv.prefix if in_site else "") + path, skip_host=True, skip_accept_encoding=True)
    for name, value in sent.items():
        conn.putheader(name, value.encode("utf-8"))
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def session(srv: SiteServer) -> str:
    response, _ = request(srv, f"/?token={srv.token}")
    assert response.status == 200
    cookie = response.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={srv.prefix}/" in cookie
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == srv.cookie
    return value


def test_the_token_buys_a_cookie_and_the_cookie_opens_pages(server: SiteServer) -> None:
    cookie = session(server)
    response, body = request(server, "/", cookie=cookie)
    assert response.status == 200 and b"overview" in body
    assert response.getheader("Cache-Control") == "no-store"
    csp = response.getheader("Content-Security-Policy")
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    response, body = request(server, "/sessions/one.html", cookie=cookie)
    assert response.status == 200 and b"one session" in body


def test_each_run_has_its_own_prefix_cookie_name_and_token(tmp_path: Path) -> None:
    one, two = SiteServer(make_site(tmp_path / "a")), SiteServer(make_site(tmp_path / "b"))
    try:
        assert len({one.prefix, two.prefix}) == 2 and len({one.cookie, two.cookie}) == 2
        assert one.url.startswith(f"http://{one.host}{one.prefix}/?token=")
    finally:
        one.server_close()
        two.server_close()


def test_a_used_token_is_refused(server: SiteServer) -> None:
    session(server)
    again, _ = request(server, f"/?token={server.token}")
    assert again.status == 403 and again.getheader("Set-Cookie") is None


@pytest.mark.parametrize("method", EVERY_METHOD)
@pytest.mark.parametrize("cookie", [None, "wrong", "", "é-not-ascii", "\udcff"])
def test_no_cookie_no_page_for_any_method(server: SiteServer, cookie: str | None, method: str) -> None:
    if cookie == "\udcff":
        cookie = None
        raw = "\xff\xfe"  # latin-1 bytes that are not UTF-8
        response, body = request(server, "/", raw_cookie=f"x={raw}", method=method)
    else:
        response, body = request(server, "/", cookie=cookie, method=method)
    assert response.status == 403 and body == b""
    assert response.getheader("Content-Length") == "0"


def raw(srv: SiteServer, data: bytes) -> bytes:
    """Bytes sent as they are (http.client refuses non-ASCII), the whole answer read back."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("token", ["guess", "%C3%BCn%C3%AFcode", "%FF%FE", "ünïcode", "x" * 200, ""])
def test_a_wrong_or_odd_token_is_refused_without_a_traceback(server: SiteServer, token: str, capfd) -> None:
    answer = raw(
        server, f"GET {server.prefix}/?token={token} HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.1 403") and b"Set-Cookie" not in answer
    assert "Traceback" not in capfd.readouterr().err
    assert session(server)  # the real token still works afterwards


def test_a_non_ascii_cookie_is_refused_without_a_traceback(server: SiteServer, capfd) -> None:
    session(server)
    response, _ = request(server, "/", raw_cookie=f"{server.cookie}=Ã©Ã©; other=☃")
    assert response.status == 403
    assert "Traceback" not in capfd.readouterr().err


def test_the_cookie_works_only_under_the_prefix(server: SiteServer, tmp_path: Path) -> None:
    cookie = session(server)
    response, body = request(server, "/index.html", cookie=cookie, in_site=False)
    assert response.status == 404 and b"overview" not in body


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of 127.0.0.1
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "null"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_a_request_from_another_site_is_refused_even_with_the_cookie(
    server: SiteServer, headers: dict[str, str]
) -> None:
    cookie = session(server)
    response, body = request(server, "/", cookie=cookie, headers=headers)
    assert response.status == 403 and body == b""
    fine, _ = request(server, "/", cookie=cookie, headers={"Sec-Fetch-Site": "same-origin"})
    assert fine.status == 200


def test_the_token_is_exchanged_only_for_a_page_navigation(server: SiteServer) -> None:
    response, _ = request(server, f"/?token={server.token}", headers={"Sec-Fetch-Dest": "image"})
    assert response.status == 403
    assert session(server)  # a refused attempt does not consume it


@pytest.mark.parametrize("host", ["localhost", "evil.example", "127.0.0.1", "127.0.0.1:1", "[::1]"])
def test_another_host_header_is_refused(server: SiteServer, host: str) -> None:
    response, _ = request(server, f"/?token={server.token}", host=host)
    assert response.status == 403
    cookie = session(server)
    response, _ = request(server, "/", host=host, cookie=cookie)
    assert response.status == 403


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sessions/../../secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "//etc/passwd",
        "/sessions/",
        "/nothing.html",
        "/%00index.html",
    ],
)
def test_nothing_outside_the_site_and_no_listings(server: SiteServer, path: str) -> None:
    cookie = session(server)
    response, body = request(server, path, cookie=cookie)
    assert response.status == 404 and b"outside" not in body


def test_only_reading_is_allowed(server: SiteServer) -> None:
    cookie = session(server)
    for method in ("POST", "PUT", "DELETE", "PROPFIND"):
        assert request(server, "/", cookie=cookie, method=method)[0].status == 405


def test_a_refused_body_is_never_read_as_the_next_request(server: SiteServer) -> None:
    """A POST whose body is itself a request: smuggled, it would be answered as one."""
    cookie = session(server)
    smuggled = (
        f"GET {server.prefix}/ HTTP/1.1\r\nHost: {server.host}\r\nCookie: {server.cookie}={cookie}\r\n\r\n"
    )
    head = f"POST {server.prefix}/ HTTP/1.1\r\nHost: {server.host}\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    answer = raw(server, (head + smuggled).encode())
    assert answer.startswith(b"HTTP/1.1 403") and answer.count(b"HTTP/1.1") == 1
    assert b"overview" not in answer


def test_connections_beyond_the_cap_never_keep_the_practitioner_out(server: SiteServer) -> None:
    # Any local user can open connections to 127.0.0.1 and hold them silent. Before, a
    # full house of them closed every new connection, the practitioner's too.
    cookie = session(server)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)  # each one now holds a thread, waiting for a request line
        assert request(server, "/", cookie=cookie)[0].status == 200  # one of them closed for it
        more = [
            socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(MAX_CONNECTIONS)
        ]
        time.sleep(0.3)
        assert threading.active_count() < MAX_CONNECTIONS + 20  # still bounded
        assert request(server, "/", cookie=cookie)[0].status == 200
        held += more
    finally:
        for sock in held:
            sock.close()


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    path=st.lists(
        st.sampled_from(
            ["/", ".", "..", "%2e", "%2f", "%5c", "\\", "secret.txt", "sessions", "index.html", "%00"]
        ),
        max_size=12,
    ).map("".join)
)
def test_no_path_resolves_outside_the_site(server: SiteServer, path: str) -> None:
    target = server.resolve("/" + path)
    assert target is None or target.is_relative_to(server.root)


def test_the_idle_timeout_ends_serving(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    srv = SiteServer(root)
    assert srv.serve_until(threading.Event(), idle_timeout=0.3) == "idle"


def test_refused_requests_do_not_keep_the_site_alive(tmp_path: Path) -> None:
    running = Running(make_site(tmp_path / "site"), idle_timeout=1.5)
    try:
        cookie = session(running.srv)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and not running.outcome:
            try:
                request(running.srv, "/", cookie="wrong")  # a stranger knocking
                request(running.srv, "/", host="evil.example", cookie=cookie)
                request(running.srv, f"/?token={running.srv.token}")
                request(running.srv, "/", cookie=cookie, headers={"Sec-Fetch-Site": "same-site"})
            except OSError:
                break  # closed: the site went idle
            time.sleep(0.1)
        running.thread.join(timeout=5)
        assert running.outcome == ["idle"]
    finally:
        running.close()


def test_an_authenticated_request_keeps_it_alive(tmp_path: Path) -> None:
    running = Running(make_site(tmp_path / "site"), idle_timeout=1.0)
    try:
        cookie = session(running.srv)
        for _ in range(12):
            assert request(running.srv, "/", cookie=cookie)[0].status == 200
            time.sleep(0.2)
        assert running.outcome == []
    finally:
        running.close()


def test_two_sites_keep_their_own_cookies(tmp_path: Path) -> None:
    one, two = Running(make_site(tmp_path / "a")), Running(make_site(tmp_path / "b"))
    try:
        first, second = session(one.srv), session(two.srv)
        assert request(one.srv, "/", cookie=first)[0].status == 200
        assert request(two.srv, "/", cookie=second)[0].status == 200
        assert request(one.srv, "/", cookie=second)[0].status == 403
    finally:
        one.close()
        two.close()


def test_while_the_rest_is_built_only_the_overview_is_served_and_the_rest_waits(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site")
    (root / "assets").mkdir()
    (root / "assets" / "main.css").write_text("body{}")
    (root / "sessions" / "half.html").write_text("<h1>half-writ")  # being written by the build
    srv = SiteServer(root, complete=False)
    stop = threading.Event()
    thread = threading.Thread(target=srv.serve_until, args=(stop, 3600))
    thread.start()
    try:
        assert request(srv, "/sessions/one.html")[0].status == 403  # no cookie: nothing, not even "wait"
        cookie = session(srv)
        assert request(srv, "/", cookie=cookie)[1] == b"<h1>overview</h1>"
        assert request(srv, "/assets/main.css", cookie=cookie)[0].status == 200
        for path in ("/sessions/one.html", "/sessions/half.html", "/sessions/not-yet.html", "/search/x.json"):
            response, body = request(srv, path, cookie=cookie)
            assert response.status == 503 and body == PREPARING, path  # the same fixed page for each
            assert response.getheader("Retry-After") and 'http-equiv="refresh"' in body.decode()
            assert response.getheader("Cache-Control") == "no-store"  # never kept in place of the page
        assert request(srv, "/../secret.txt", cookie=cookie)[0].status == 503  # outside: same answer, no file
        assert request(srv, "/sessions/one.html", cookie=cookie, in_site=False)[0].status == 404
        srv.complete.set()
        assert request(srv, "/sessions/one.html", cookie=cookie)[1] == b"<h1>one session</h1>"
        assert request(srv, "/sessions/not-yet.html", cookie=cookie)[0].status == 404
    finally:
        stop.set()
        thread.join()
