"""The site server: a token once, a cookie after, the Host checked, nothing outside served."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from site_builder.server import COOKIE, SiteServer


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "site"
    (root / "sessions").mkdir(parents=True)
    (root / "index.html").write_text("<h1>overview</h1>")
    (root / "sessions" / "one.html").write_text("<h1>one session</h1>")
    (tmp_path / "secret.txt").write_text("outside the site")
    srv = SiteServer(root)
    stop = threading.Event()
    thread = threading.Thread(target=srv.serve_until, args=(stop, 3600))
    thread.start()
    yield srv
    stop.set()
    thread.join()


def request(
    srv: SiteServer, path: str, host: str | None = None, cookie: str | None = None, method: str = "GET"
):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    headers = {"Host": host or srv.host}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def session(srv: SiteServer) -> str:
    response, _ = request(srv, f"/?token={srv.token}")
    assert response.status == 303
    cookie = response.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return cookie.split(";")[0].split("=", 1)[1]


def test_the_token_buys_a_cookie_and_the_cookie_opens_pages(server: SiteServer) -> None:
    cookie = session(server)
    response, body = request(server, "/", cookie=cookie)
    assert response.status == 200 and b"overview" in body
    assert response.getheader("Cache-Control") == "no-store"
    assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    response, body = request(server, "/sessions/one.html", cookie=cookie)
    assert response.status == 200 and b"one session" in body


@pytest.mark.parametrize("cookie", [None, "wrong", ""])
def test_no_cookie_no_page(server: SiteServer, cookie: str | None) -> None:
    response, body = request(server, "/", cookie=cookie)
    assert response.status == 403 and body == b""


def test_a_wrong_token_is_refused(server: SiteServer) -> None:
    response, _ = request(server, "/?token=guess")
    assert response.status == 403 and response.getheader("Set-Cookie") is None


@pytest.mark.parametrize("host", ["localhost", "evil.example", "127.0.0.1", "127.0.0.1:1", "[::1]"])
def test_another_host_header_is_refused(server: SiteServer, host: str) -> None:
    cookie = session(server)
    response, _ = request(server, "/", host=host, cookie=cookie)
    assert response.status == 403
    response, _ = request(server, f"/?token={server.token}", host=host)
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
    for method in ("POST", "PUT", "DELETE"):
        assert request(server, "/", cookie=cookie, method=method)[0].status == 405


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
