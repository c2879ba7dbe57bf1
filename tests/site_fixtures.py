"""A client with a story: sessions, scores, homework, an addendum, a psychotherapy note."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Callable

import pytest
from conftest import Env

MARKER = "quokkamarmalade"  # a word that must never survive outside a RAM directory


def note(
    note_id: str, date: str, kind: str = "soap", status: str = "signed", extra: str = "", body: str = ""
) -> str:
    return (
        f'---\nid: {note_id}\nclient: AB-1\ndate: {date}\ntime: "10:00"\nduration_minutes: 50\n'
        f"modality: video\ntemplate: {kind}\nstatus: {status}\n{extra}---\n\n{body}\n"
    )


# The sections a signed note of each template must have written (sign refuses blank ones).
FINISHED = "## {0}\nWritten for {0}.\n\n## {1}\nWritten for {1}.\n\n## {2}\nWritten for {2}.\n\n## {3}\nWritten for {3}.\n"

STORY = {
    "a1": note(
        "aaaaaaaaaaaaaaa1",
        "2026-01-05",
        "intake",
        extra='goals: ["Sleep through the night", "Return to work"]\nmeasures:\n  phq9: 21\n  gad7: 16\n'
        "risk: none, denies ideation, plan or intent\n",
        body=f"## Reason for referral\nSleep and mood since a bereavement; {MARKER}.\n\n"
        + FINISHED.format("Presenting concerns", "History", "Mental status and risk", "Plan"),
    ),
    "a2": note(
        "aaaaaaaaaaaaaaa2",
        "2026-01-12",
        extra='goals: ["Sleep through the night", "Return to work"]\ntags: [sleep, grief]\n'
        'homework: ["Sleep diary every morning"]\nmeasures:\n  phq9: 17\n  gad7: 12\nrisk: none\n',
        body="## Subjective\nFirst week of the sleep diary planned.\n\n"
        + FINISHED.format("Objective", "Assessment", "Plan", "Significant events"),
    ),
    "a3": note(
        "aaaaaaaaaaaaaaa3",
        "2026-01-19",
        extra='goals: ["Sleep through the night", "Return to work part-time"]\ntags: [sleep, work]\n'
        'homework: ["Walk three times"]\nmeasures:\n  phq9: 11\n  gad7: 9\nrisk: low - passive thoughts, safety plan reviewed\n',
        body="## Homework from last session\n- [x] Sleep diary every morning: how did it go?\n\n"
        "## Subjective\nSlept better with the diary; anxious about work.\n\n"
        + FINISHED.format("Objective", "Assessment", "Plan", "Significant events").replace(
            "Written for Significant events.", "A fall at home on Tuesday."
        ),
    ),
    "a4": note(
        "aaaaaaaaaaaaaaa4",
        "2026-01-20",
        "addendum",
        extra="amends: aaaaaaaaaaaaaaa3\n",
        body="## What is added or corrected\nCorrection: the fall was on Monday.\n\n## Reason\nMisdated.\n",
    ),
    "a5": note(
        "aaaaaaaaaaaaaaa5",
        "2026-01-19",
        "psychotherapy",
        body="## Process notes\nCountertransference around loss: zebrafinch.\n",
    ),
}


def seal_story(env: Env) -> None:
    inbox = env.practice.inbox
    for name, text in STORY.items():
        (inbox / f"{name}.md").write_text(text)
    result = env.run("syncd", "--once")
    assert result.code == 0 and "sealed 5" in result.text, result.text + result.err


CHROMIUM = "/usr/bin/chromium"  # Debian's: the browser the attack tests drive
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_chromium() -> str:
    """Chromium's path; skip (or fail, with CASENOTES_REQUIRE_TOOLS=1) when it is absent."""
    missing = None
    if not shutil.which(CHROMIUM):
        missing = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing:
        if os.environ.get("CASENOTES_REQUIRE_TOOLS") == "1":
            pytest.fail(f"CASENOTES_REQUIRE_TOOLS=1 but {missing}")
        pytest.skip(missing)
    return CHROMIUM


class LocalServer:
    """Another web server on 127.0.0.1, as any local program could run one: each GET is
    answered by ``answer(request)``. For the attacks of a second local server on the site."""

    def __init__(self, answer: Callable[[http.server.BaseHTTPRequestHandler], None]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
