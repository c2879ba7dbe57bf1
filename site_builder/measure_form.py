"""The form a client fills in on the practitioner's machine: one item at a time, large and calm.

It stands behind the same guard as a client's site (server.GuardedServer: 127.0.0.1 only,
a single-use token exchanged for a cookie scoped to a random path, Host and origin
checks) and serves one page and nothing else: the current question. There is no file
behind it, no other page, no script and nothing fetched: every answer is a button of a
plain HTML form posted back to the same address, which answers with a redirect to the
next question (so a reload never answers twice). It knows only the instruments it was
given: no note, no name, no other client.

When the last answer is confirmed, ``on_done`` gets the answers (the command writes them
into the client's draft), the page thanks the client and says to hand the device back,
and the answers held here are dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from html import escape
from http import HTTPStatus
from urllib.parse import parse_qs

from note_templates.instruments import Instrument

from .server import GuardedHandler, GuardedServer

# No script at all; the form posts only to itself; nothing else is loaded from anywhere.
FORM_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
MAX_BODY = 512  # one answer: "step=12&answer=3" and a little room

STYLE = """
body{margin:0;background:#f6f5f1;color:#2b2b2b;font:22px/1.5 system-ui,sans-serif}
main{max-width:46rem;margin:0 auto;padding:2.5rem 1.5rem}
.progress{color:#6b6b6b;font-size:.8em;margin:0 0 1.5rem}
.stem{color:#4a4a4a;font-size:.85em;margin:0 0 1rem}
h1{font-size:1.5em;font-weight:500;line-height:1.35;margin:0 0 2rem}
form{margin:0}
.answers button{display:block;width:100%;text-align:left;margin:0 0 .8rem;padding:1rem 1.25rem;
font:inherit;background:#fff;border:2px solid #cfd8dc;border-radius:.8rem;color:inherit;cursor:pointer}
.answers button:hover,.answers button:focus{border-color:#5c6bc0;outline:none}
.answers button.chosen{border-color:#3f51b5;background:#e8eaf6}
.back{margin-top:2rem}
.back button,.done button{font:inherit;font-size:.8em;padding:.6rem 1.2rem;border-radius:.6rem;
border:1px solid #b0bec5;background:transparent;color:inherit;cursor:pointer}
.done button{font-size:1em;background:#3f51b5;color:#fff;border:none;padding:1rem 2rem}
"""


class FormState:
    """Where the client is in the instruments, and the answers so far (in memory only)."""

    def __init__(self, instruments: Sequence[Instrument]) -> None:
        for instrument in instruments:
            if not instrument.form_ready:
                raise ValueError(f"{instrument.short} may not be shown to a client")
        self.instruments = tuple(instruments)
        self.steps = [(i, n) for i, ins in enumerate(self.instruments) for n in range(1, ins.items.count + 1)]
        self.answers: list[list[int | None]] = [[None] * ins.items.count for ins in self.instruments]
        self.position = 0  # an index into steps; len(steps): every item answered, not yet sent
        self.finished = False

    def answer(self, step: int, value: int) -> bool:
        """Record an answer to the question on screen; False for a stale or impossible one."""
        if self.finished or step != self.position or step >= len(self.steps):
            return False  # a second click, an old tab: the question has moved on
        index, number = self.steps[step]
        if value not in self.instruments[index].items.values(number):
            return False
        self.answers[index][number - 1] = value
        self.position += 1
        return True

    def back(self, step: int) -> bool:
        if self.finished or step != self.position or step == 0:
            return False
        self.position -= 1
        return True

    def finish(self, step: int) -> bool:
        if self.finished or step != self.position or step != len(self.steps):
            return False
        self.finished = True
        return True

    def results(self) -> dict[str, tuple[int, ...]]:
        return {
            ins.key: tuple(int(a) for a in answers if a is not None)
            for ins, answers in zip(self.instruments, self.answers, strict=True)
        }

    def forget(self) -> None:
        """Drop the answers (they are in the client's draft, or were never to be kept)."""
        self.answers = [[None] * len(a) for a in self.answers]

    # -- the one page -----------------------------------------------------------------------
    def page(self, saved: bool | None) -> str:
        """The page for where the client is: a question, the last check, or the thanks."""
        if self.finished:
            if saved is False:
                body = (
                    "<h1>Thank you.</h1><p>Your answers could not be saved on this computer. "
                    "Please hand the device back to your therapist.</p>"
                )
            else:
                body = (
                    "<h1>Thank you, that is everything.</h1>"
                    "<p>Please hand the device back to your therapist.</p>"
                )
            return _html(body)
        if self.position == len(self.steps):
            body = (
                f'<p class="progress">All {len(self.steps)} questions answered</p>'
                "<h1>Thank you. When you are ready, press Done.</h1>"
                f'<form method="post" action="./" class="done"><input type="hidden" name="step" '
                f'value="{self.position}"><button name="finish" value="1">Done</button></form>' + self._back()
            )
            return _html(body)
        index, number = self.steps[self.position]
        instrument = self.instruments[index]
        chosen = self.answers[index][number - 1]
        buttons = "".join(
            f'<button name="answer" value="{a.value}"{" class=chosen" if a.value == chosen else ""}>'
            f"{escape(a.label)}</button>"
            for a in instrument.items.choices(number)
        )
        body = (
            f'<p class="progress">Question {self.position + 1} of {len(self.steps)}</p>'
            f'<p class="stem">{escape(instrument.items.stem)}</p>'
            f"<h1>{escape(instrument.items.wording[number - 1])}</h1>"
            f'<form method="post" action="./" class="answers"><input type="hidden" name="step" '
            f'value="{self.position}">{buttons}</form>' + self._back()
        )
        return _html(body)

    def _back(self) -> str:
        if self.position == 0:
            return ""
        return (
            f'<form method="post" action="./" class="back"><input type="hidden" name="step" '
            f'value="{self.position}"><button name="back" value="1">Back to the last question</button></form>'
        )


def _html(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Questionnaire</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n"
    )


class FormServer(GuardedServer):
    """The form behind the guard. ``done`` is set once the answers were handed to
    ``on_done``; ``saved`` says whether that worked (the page tells the client either way)."""

    def __init__(self, state: FormState, on_done: Callable[[dict[str, tuple[int, ...]]], None]) -> None:
        super().__init__(_FormHandler, FORM_CSP)
        self.state = state
        self.on_done = on_done
        self.done = threading.Event()
        self.thanked = threading.Event()  # the thank-you page was shown: the form may close
        self.saved: bool | None = None
        self.error: BaseException | None = None
        self._form_lock = threading.Lock()

    def act(self, fields: dict[str, list[str]]) -> None:
        """Apply one posted button, under the lock (two tabs, two clicks: one at a time)."""
        try:
            step = int(fields.get("step", [""])[0])
        except ValueError:
            return
        with self._form_lock:
            state = self.state
            if "answer" in fields:
                try:
                    state.answer(step, int(fields["answer"][0]))
                except ValueError:
                    return
            elif "back" in fields:
                state.back(step)
            elif "finish" in fields and state.finish(step):
                try:
                    self.on_done(state.results())
                    self.saved = True
                except Exception as exc:  # any failure: the command reports it; the client is told
                    self.saved, self.error = False, exc
                finally:
                    state.forget()
                    self.done.set()

    def page(self) -> bytes:
        with self._form_lock:
            return self.state.page(self.saved).encode("utf-8")


class _FormHandler(GuardedHandler):
    """GET shows the current question; POST answers it. Only the prefix's root exists."""

    server: FormServer
    # With no-referrer a browser posts a form with `Origin: null`, which the guard refuses
    # as foreign; same-origin names our origin on our own posts and nothing to anyone else.
    referrer_policy = "same-origin"

    def _answer(self, inside: str | None) -> None:
        srv = self.server
        if inside != "/":
            return self._refuse(HTTPStatus.NOT_FOUND)  # no other page, no file, nothing listed
        if self.command == "POST":
            return self._post()
        if self.command not in ("GET", "HEAD"):
            return self._refuse(HTTPStatus.METHOD_NOT_ALLOWED)
        data = srv.page()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._headers()
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)
            if srv.done.is_set():
                srv.thanked.set()
        srv.requests += 1
        return None

    def _post(self) -> None:
        srv = self.server
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if kind != "application/x-www-form-urlencoded" or not 0 <= length <= MAX_BODY:
            return self._refuse(HTTPStatus.BAD_REQUEST)
        try:
            fields = parse_qs(self.rfile.read(length).decode("ascii"), max_num_fields=4)
        except (UnicodeDecodeError, ValueError):
            return self._refuse(HTTPStatus.BAD_REQUEST)
        srv.act(fields)
        # After a POST, a 303 to the same address: the browser shows the next question with
        # a GET, and a reload never posts the answer again.
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", f"{srv.prefix}/")
        self.send_header("Content-Length", "0")
        self._headers()
        self.end_headers()
        return None
