"""Attacks on `casenotes measure`, the form a client fills in on the practitioner's machine:
what a careless clinician, the client at the keyboard, or another local user could make of it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.measures import Measuring, cookie_of, request
from helpers.opening import Opened

from note_templates.front_matter import _parse
from note_templates.instruments import catalogue
from note_templates.measures import read, with_measure
from site_builder.measure_form import FormServer, FormState


@pytest.mark.parametrize("spelling", ["PHQ-9", "PHQ9", "phq_9", "'PHQ-9'"])
def test_the_forms_scores_replace_the_instrument_however_the_draft_spells_it(spelling: str) -> None:
    # Before: the scores went in beside `PHQ-9: 12` as a second PHQ-9, and the draft no
    # longer checked (the instrument written twice) until the clinician found which to keep.
    raw = f"---\nclient: AB-1\nmeasures:\n  {spelling}: 12\n  gad7: 3\nrisk:\n---\n\nBody.\n".encode()
    after = with_measure(raw, "phq9", "{items: [1, 1, 1, 1, 1, 1, 1, 1, 0], total: 8}")
    assert after == (
        b"---\nclient: AB-1\nmeasures:\n  phq9: {items: [1, 1, 1, 1, 1, 1, 1, 1, 0], total: 8}\n  gad7: 3\n"
        b"risk:\n---\n\nBody.\n"
    )
    meta, _, _ = _parse(after.decode().split("---")[1])
    assert read("phq9", meta["measures"]["phq9"]).total == 8


# -- the device in the client's hands ------------------------------------------------------------


def test_the_form_is_not_opened_while_a_clients_site_is_served_in_this_browser(story: Env) -> None:
    # Before: the form opened in a new tab of the browser that showed the site, its cookie
    # there: the client, holding the device, was a tab away from the clinician's notes.
    opened = Opened(story)
    try:
        measuring = subprocess.run(
            [
                sys.executable,
                "-m",
                "casenotes",
                "measure",
                "AB-1",
                "phq9",
                "--no-browser",
                "--idle-timeout",
                "0.05",
            ],
            env=story.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        opened.proc.send_signal(signal.SIGTERM)
        opened.finish()
    assert measuring.returncode == 1 and "Serving" not in measuring.stdout, (
        measuring.stdout + measuring.stderr
    )
    assert "a client's site is open" in measuring.stderr and "close it" in measuring.stderr, measuring.stderr


def test_a_site_is_not_opened_while_a_client_fills_in_a_form(story: Env) -> None:
    measuring = Measuring(story, "phq9")
    try:
        opened = story.run("open", "AB-1", "--no-browser", "--idle-timeout", "0.05")  # 3 s, if it opens
    finally:
        measuring.proc.send_signal(signal.SIGTERM)
        measuring.finish()
    assert opened.code == 1 and b"Serving" not in opened.out, opened.err
    assert "a client's form is open" in opened.err, opened.err


# -- a stop at any instant -------------------------------------------------------------------


def test_a_signal_just_after_done_ends_the_form_within_two_seconds(practice: Env) -> None:
    # Before: once Done was pressed the command waited up to 5 s for the thank-you page to
    # be fetched, whatever signal came meanwhile.
    import http.client
    import time
    import urllib.parse

    measuring = Measuring(practice, "gad7")
    url = urllib.parse.urlsplit(measuring.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    host = {"Host": url.netloc}
    conn.request("GET", f"{url.path}?{url.query}", headers=host)
    answer = conn.getresponse()
    answer.read()
    cookie = {"Cookie": answer.getheader("Set-Cookie").split(";")[0], **host}
    posted = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    for body in [*(f"step={n}&answer=1" for n in range(7)), "step=7&finish=1"]:
        conn.request("POST", url.path, body=body, headers=posted)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 303  # the redirect not followed: the thank-you page never fetched
    draft = next(practice.practice.inbox.glob("*.md"))
    time.sleep(0.5)  # the command has seen Done (it looks five times a second)
    sent = time.monotonic()
    measuring.proc.send_signal(signal.SIGTERM)
    try:
        code, out, err = measuring.finish(timeout=2.0)
    except subprocess.TimeoutExpired:
        measuring.proc.kill()
        measuring.finish()
        raise AssertionError("`casenotes measure` still ran 2 s after SIGTERM") from None
    finally:
        conn.close()
    assert time.monotonic() - sent < 2.0
    assert code == 0 and "GAD-7: 7 (mild)" in out, err
    assert "  gad7: {items: [1, 1, 1, 1, 1, 1, 1], total: 7}\n" in draft.read_text()


def test_a_kill_as_a_draft_is_rewritten_leaves_no_plaintext_copy_in_the_inbox_for_good(
    practice: Env, strace: list[str]
) -> None:
    # `sign` and the form's answers rewrite a draft in place: a temp file beside it, renamed
    # over it. Killed at that rename, the temp (the whole note) stayed in the inbox for good,
    # a hidden file no command named, after its note was sealed and its plaintext removed.
    import os
    import time

    from notes import write_every_section

    draft = Path(practice.run("new", "AB-1", "--no-edit").text.strip())
    write_every_section(draft)
    calls = "rename,renameat,renameat2"
    killed = subprocess.run(
        [*strace, "-e", f"trace={calls}", "-e", f"inject={calls}:signal=SIGKILL:when=1"]
        + [sys.executable, "-m", "casenotes", "sign", str(draft)],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode != 0
    [temp] = [p for p in practice.practice.inbox.iterdir() if p.name.startswith(".tmp-")]
    hour_ago = time.time() - 2 * 3600
    os.utime(temp, (hour_ago, hour_ago))  # as a later run finds it: untouched for hours
    assert practice.run("sign", str(draft)).code == 0
    assert practice.run("syncd", "--once").code == 0
    assert not draft.exists()  # signed and sealed: its plaintext gone from the inbox
    assert list(practice.practice.inbox.iterdir()) == [], "a plaintext copy stayed in the inbox"


@pytest.fixture
def phq9_form() -> Iterator[FormServer]:
    server = FormServer(FormState([catalogue()["phq9"]]), lambda _: None)
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_silent_connections_from_another_local_user_never_keep_the_client_from_the_form(
    phq9_form: FormServer,
) -> None:
    # Before: MAX_CONNECTIONS sockets opened and left silent (a trickle of a byte now and
    # then keeps them past any timeout) closed every connection the client's browser made.
    import socket
    import time

    from site_builder.server import MAX_CONNECTIONS

    server = phq9_form
    cookie = cookie_of(server)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in held:
            sock.sendall(b"G")  # a request line begun, never finished
        time.sleep(0.3)
        status, _, page = request(server, "GET", f"{server.prefix}/", cookie)
        assert status == 200 and b"Question 1 of 9" in page
        answer = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
        assert request(server, "POST", f"{server.prefix}/", answer, "step=0&answer=1")[0] == 303
    finally:
        for sock in held:
            sock.close()


def test_the_clients_answers_held_in_memory_never_reach_a_core_file(practice: Env) -> None:
    # Before: `measure` left core dumps on, as no command that decrypts does: a crash while
    # the client answered wrote the answers to a core file (systemd-coredump keeps them).
    import re

    measuring = Measuring(practice, "phq9")
    try:
        limits = Path(f"/proc/{measuring.proc.pid}/limits").read_text()
    finally:
        measuring.proc.send_signal(signal.SIGTERM)
        measuring.finish()
    core = re.search(r"^Max core file size\s+(\S+)\s+(\S+)", limits, re.MULTILINE)
    assert core is not None and core.groups() == ("0", "0"), limits
