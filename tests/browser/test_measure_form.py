"""The client's form: filled in a real browser, its answers scored into today's draft and
charted once sealed; and it serves the form and nothing else, to this browser alone."""

from __future__ import annotations

import datetime as dt
import re
import signal
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from helpers.measures import Measuring, cookie_of, request
from hypothesis import given, settings
from hypothesis import strategies as st
from notes import write_every_section

from note_templates.instruments import catalogue
from note_templates.measures import read, with_measure, written
from site_builder.measure_form import FormServer, FormState

SECRET_NOTE = "Private reflection on the unusual word quillmarrow."  # the clinician's words
OTHER_CLIENT = "Another client's note mentions the word zephyrbloom."


# -- the form's state, as plain data -----------------------------------------------------------


def test_answers_move_forward_back_and_a_stale_click_changes_nothing():
    state = FormState([catalogue()["gad7"]])
    assert state.answer(0, 2) and state.answer(1, 3)
    assert not state.answer(1, 0)  # a second click on a question already answered
    assert not state.answer(2, 7)  # an answer the item cannot take
    assert state.back(2) and state.position == 1
    assert state.answer(1, 1)
    for step in range(2, 7):
        assert state.answer(step, 0)
    assert not state.finish(6) and state.finish(7)
    assert state.results() == {"gad7": (2, 1, 0, 0, 0, 0, 0)}
    state.forget()
    assert state.results() == {"gad7": ()}


@pytest.mark.parametrize("key", ["core10", "cssrs"])
def test_an_instrument_whose_items_may_not_be_shown_is_never_put_on_the_form(key):
    with pytest.raises(ValueError):
        FormState([catalogue()[key]])


# -- the guard, over real HTTP ------------------------------------------------------------------


@pytest.fixture
def form():
    results: list[dict] = []
    server = FormServer(FormState([catalogue()["phq9"]]), results.append)
    server.start()
    try:
        yield server, results
    finally:
        server.close()


def test_the_form_serves_its_one_page_and_nothing_else(form):
    server, _ = form
    cookie = cookie_of(server)
    status, headers, page = request(server, "GET", f"{server.prefix}/", cookie)
    assert status == 200 and b"Little interest or pleasure in doing things" in page
    assert b"<script" not in page and b"http" not in page.replace(b'action="./"', b"")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp and "script-src" not in csp
    for path in ("/index.html", "/measures.html", "/../", "/form.html", "//", "/sessions/"):
        assert request(server, "GET", server.prefix + path, cookie)[0] == 404, path
    assert request(server, "GET", "/", cookie)[0] == 404  # outside its prefix there is nothing either
    assert request(server, "DELETE", f"{server.prefix}/", cookie)[0] == 405


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),  # no cookie
        ({"Origin": "http://127.0.0.1:1"}, 403),  # another local server's page posting here
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "evil.example:80"}, 403),  # DNS rebinding
    ],
)
def test_an_answer_from_anywhere_but_the_form_is_refused(form, headers, status):
    server, _ = form
    cookie = cookie_of(server) if headers else {}
    body = "step=0&answer=3"
    sent = {**cookie, **headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert request(server, "POST", f"{server.prefix}/", sent, body)[0] == status
    assert server.state.position == 0  # nothing was recorded


def test_the_token_is_used_once_and_a_long_or_odd_body_is_refused(form):
    server, _ = form
    cookie = cookie_of(server)
    assert request(server, "GET", f"{server.prefix}/?token={server.token}")[0] == 403
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    assert (
        request(server, "POST", f"{server.prefix}/", {**cookie, **form_type}, "step=0&" + "a" * 600)[0] == 400
    )
    assert (
        request(server, "POST", f"{server.prefix}/", {**cookie, "Content-Type": "text/plain"}, "step=0")[0]
        == 400
    )
    status, headers, _ = request(
        server, "POST", f"{server.prefix}/", {**cookie, **form_type}, "step=0&answer=2"
    )
    assert status == 303 and headers["Location"] == f"{server.prefix}/"
    assert server.state.answers[0][0] == 2


# -- the whole story, through the command and a real browser ------------------------------------


def _todays_draft(env: Env, handle: str, words: str) -> Path:
    result = env.run("new", handle, "--no-edit")
    assert result.code == 0, result.err
    path = Path(result.text.strip())
    path.write_text(path.read_text() + f"\n{words}\n")
    return path


def test_a_client_fills_in_a_phq9_and_the_total_is_in_the_draft_and_on_the_chart(practice: Env, tmp_path):
    from playwright.sync_api import sync_playwright
    from site_fixtures import CHROMIUM_ARGS, require_chromium

    chromium = require_chromium()
    assert practice.run("client", "add", "CD-2").code == 0
    draft = _todays_draft(practice, "AB-1", SECRET_NOTE)
    _todays_draft(practice, "CD-2", OTHER_CLIENT)
    answers = [1, 2, 0, 1, 3, 0, 1, 2, 1]  # 11, moderate; item 9 endorsed
    labels = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    measuring = Measuring(practice, "phq9")
    seen: list[str] = []
    requested: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: requested.append(r.url))
            page.goto(measuring.url)
            page.wait_for_url(measuring.base + "/")
            page.get_by_text("Question 1 of 9").wait_for()
            page.get_by_role("button", name="Nearly every day").click()  # a slip, put right with Back
            page.get_by_text("Question 2 of 9").wait_for()
            page.get_by_role("button", name="Back to the last question").click()
            page.get_by_text("Question 1 of 9").wait_for()
            for number, answer in enumerate(answers, start=1):
                page.get_by_text(f"Question {number} of 9").wait_for()
                seen.append(page.content())
                page.get_by_role("button", name=labels[answer], exact=True).click()
            page.get_by_text("All 9 questions answered").wait_for()
            page.get_by_role("button", name="Done").click()
            page.get_by_text("Please hand the device back").wait_for()
            seen.append(page.content())
            browser.close()
        code, out, err = measuring.finish()
    finally:
        if measuring.proc.poll() is None:
            measuring.proc.send_signal(signal.SIGTERM)
            measuring.finish()
    assert code == 0, err
    assert "PHQ-9: 11 (moderate)" in out and f"written to {draft}" in out
    assert "PHQ-9 item 9" in err and "review risk" in err  # told to the clinician, not shown to the client
    text = draft.read_text()
    assert "  phq9: {items: [1, 2, 0, 1, 3, 0, 1, 2, 1], total: 11}\n" in text and SECRET_NOTE in text
    # nothing of the clinician's notes, the client's name, or another client reached the page
    for content in seen:
        for secret in ("quillmarrow", "zephyrbloom", "AB-1", "CD-2", "Wilhelmina"):
            assert secret not in content
    assert {u.split("/")[2] for u in requested if u.startswith("http")} == {measuring.base.split("/")[2]}
    # risk: none would be refused now; with the words it stands, and once sealed it is charted
    write_every_section(draft, risk="none - item 9 endorsed, reviewed with the client, no current thoughts")
    assert practice.run("check", str(draft)).code == 0
    sealed = practice.run("syncd", "--once")
    assert sealed.code == 0 and "sealed 2" in sealed.text  # the draft (kept to go on writing), and CD-2's
    from site_builder import build_site
    from vault import Passphrase

    vault = practice.vault()
    site = build_site(
        vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), "AB-1", tmp_path / "ram", False
    )
    measures = (site.html / "measures.html").read_text()
    assert 'aria-label="PHQ-9 over time"' in measures and "<title>" in measures
    assert re.search(r"Baseline 11 \(\d\d \w+ \d{4}\)", re.sub(r"<[^>]+>", "", measures))


def test_a_new_draft_is_started_when_the_client_has_none_today(practice: Env):
    import urllib.request

    measuring = Measuring(practice, "wsas")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(measuring.url, timeout=10).read()  # the token, for the cookie
    for step in range(5):
        opener.open(measuring.base + "/", data=f"step={step}&answer={step}".encode(), timeout=10).read()
    opener.open(measuring.base + "/", data=b"step=5&finish=1", timeout=10).read()
    code, out, err = measuring.finish()
    assert code == 0, err
    today = dt.datetime.now().astimezone().date().isoformat()  # the command's own today
    path = practice.practice.inbox / f"{today}-AB-1-soap.md"
    assert f"written to {path}" in out and "WSAS: 10 (significant impairment)" in out
    assert "  wsas: {items: [0, 1, 2, 3, 4], total: 10}\n" in path.read_text()
    assert practice.run("check", str(path)).code == 0


def test_a_form_closed_before_done_writes_nothing(practice: Env):
    measuring = Measuring(practice, "gad7")
    measuring.proc.send_signal(signal.SIGTERM)
    code, _, err = measuring.finish()
    assert code == 1 and "before the client pressed Done; nothing was written" in err
    assert not list(practice.practice.inbox.glob("*.md"))


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (("core10",), "is not shown to clients"),
        (("cssrs",), "is not shown to clients"),
        (("ors",), "no instrument"),
    ],
)
def test_an_instrument_that_may_not_be_shown_is_refused_before_anything_opens(practice: Env, keys, words):
    result = practice.run("measure", "AB-1", *keys, "--no-browser")
    assert result.code == 2 and words in result.err and "Serving" not in result.text


# -- writing into a draft ------------------------------------------------------------------------

DRAFTS = [
    ("measures:\n  phq9:\n  gad7:\nrisk:\n", "measures:\n  phq9: {items: [1], total: 1}\n  gad7:\nrisk:\n"),
    ("measures:\n  gad7: 4\nrisk:\n", "measures:\n  gad7: 4\n  phq9: {items: [1], total: 1}\nrisk:\n"),
    ("measures:\n    phq9:\n      items: [0, 0]\n      total: 0\nrisk:\n", "measures:\n    phq9: {items: [1], total: 1}\nrisk:\n"),
    ("risk:\n", "risk:\nmeasures:\n  phq9: {items: [1], total: 1}\n"),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after"), DRAFTS)
def test_the_answers_replace_the_measure_and_leave_every_other_line_as_written(before, after):
    raw = f"---\nclient: AB-1\n{before}---\n\nBody.\n".encode()
    assert (
        with_measure(raw, "phq9", "{items: [1], total: 1}")
        == f"---\nclient: AB-1\n{after}---\n\nBody.\n".encode()
    )


def test_an_inline_measures_line_is_not_rewritten_behind_the_clinicians_back():
    with pytest.raises(ValueError):
        with_measure(b"---\nmeasures: {gad7: 4}\n---\n", "phq9", "{items: [1], total: 1}")


@pytest.mark.parametrize("kind", ["soap", "dap", "birp", "girp", "progress", "intake", "discharge"])
@settings(max_examples=25, deadline=None)
@given(keys=st.lists(st.sampled_from(["phq9", "gad7", "wsas", "dass21"]), min_size=1, max_size=4))
def test_scores_written_into_any_template_change_that_measure_alone(kind, keys):
    import note_templates
    from note_templates import parse

    text = note_templates.render(
        note_templates.get(kind),
        {
            "id": "0123456789abcdef",
            "client": "AB-1",
            "date": "2026-11-20",
            "time": "09:30",
            "title": "A session",
            "goals": "[Sleep better]",
            "carried": "",
        },
    )
    raw = text.encode()
    before, body, _ = parse(raw, Path("x.md"))
    for key in keys:
        instrument = catalogue()[key]
        answers = tuple(instrument.items.values(n)[-1] for n in range(1, instrument.items.count + 1))
        raw = with_measure(raw, key, written(instrument, answers))
    after, body_after, _ = parse(raw, Path("x.md"))
    assert body_after == body
    assert {k: v for k, v in after.items() if k != "measures"} == {
        k: v for k, v in before.items() if k != "measures"
    }
    for key in set(keys):
        assert read(key, after["measures"][key]).items  # readable, from its items
    untouched = {k: v for k, v in (before.get("measures") or {}).items() if k not in keys}
    assert {k: after["measures"][k] for k in untouched} == untouched
