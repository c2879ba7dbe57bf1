"""The safety banner in a real browser (issue 30, item 3): on the first screen, coloured by level.

The case of the issue: a client who considered an overdose three weeks ago. The first
screen said "Risk at the last session: none" and listed goals; the high-risk entry was a
plain bullet at the bottom. Now the overview opens with the highest level of 90 days.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from site_fixtures import CHROMIUM_ARGS, FINISHED, note, require_chromium

from site_builder.pages import ADMONITION_COLOUR, LEVEL_ADMONITION

GOALS = '["Sleep through the night", "Return to work part-time", "See friends weekly", "Fewer panic attacks"]'


def _seal_hard_stretch(env: Env) -> None:
    today = dt.datetime.now().astimezone().date()
    body = FINISHED.format("Subjective", "Objective", "Assessment", "Plan")
    sessions = [
        (49, "none - denies SI/HI", "phq9: 19"),
        (42, "none - denies SI/HI", "phq9: 18"),
        (21, "high - considered an overdose, means removed with family", "phq9: 22"),
        (14, "moderate - thoughts persist, no intent; safety plan reviewed", "phq9: 17"),
        (7, "none - denies SI/HI", "phq9: 15"),
    ]
    for n, (ago, risk, score) in enumerate(sessions, 1):
        day = (today - dt.timedelta(days=ago)).isoformat()
        extra = (
            f"goals: {GOALS}\nhomework: [Sleep diary, Walk three times, Call a friend]\n"
            f"measures:\n  {score}\n  gad7: 12\nrisk: {risk}\n"
        )
        (env.practice.inbox / f"{n}.md").write_text(note(f"abcdefabcdef000{n}", day, extra=extra, body=body))
    result = env.run("syncd", "--once")
    assert "sealed 5" in result.text, result.err


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_high_risk_three_weeks_ago_heads_the_first_screen_in_red(practice: Env, width: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    _seal_hard_stretch(practice)
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "open", "AB-1", "--no-browser"],
        env={**practice.env, "CASENOTES_PASSPHRASE": PASSPHRASE},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[-1]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            page.wait_for_url(url.split("/?")[0] + "/")
            banner = page.locator("article .admonition").first
            kind = LEVEL_ADMONITION["high"]
            assert kind in (banner.get_attribute("class") or "").split()
            title = banner.locator(".admonition-title").inner_text()
            assert title.startswith("Risk: high on ") and "the highest in the last 90 days" in title
            text = banner.inner_text()
            assert "considered an overdose" in text and "denies SI/HI" in text  # highest, and the last
            assert (
                "Latest safety-plan note" in text and "none" not in text.split("Latest safety-plan note")[1]
            )
            box = banner.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 900, box  # all of it on the first screen
            colour = banner.evaluate("e => getComputedStyle(e).borderLeftColor")
            assert colour == _rgb(ADMONITION_COLOUR[kind]), colour  # red, as the level is high
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing cut off
            scores = page.locator("article table").first  # the latest scores: whole, no sideways scroll
            widths = scores.evaluate("t => [t.scrollWidth, t.clientWidth]")
            assert widths[0] <= widths[1] + 1, widths
            if shots := os.environ.get("CASENOTES_SCREENSHOTS"):  # the docs' pictures, from a real run
                page.screenshot(path=f"{shots}/overview-banner-{width}.png")
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_the_demo_client_with_a_hard_stretch_opens_on_its_banner(empty: Env, tmp_path: Path) -> None:
    """The demo practice, as a practitioner first sees it (and the docs' pictures, with
    CASENOTES_SCREENSHOTS=docs/images): CL-0002's low risk eleven weeks ago heads the page."""
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "casenotes",
            "demo",
            "--keep",
            str(tmp_path / "demo"),
            "--client",
            "CL-0002",
            "--no-browser",
        ],
        env={**empty.env, "BROWSER": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = next((x for x in proc.stdout if x.startswith("Serving http://127.0.0.1:")), "")
        assert line, proc.stderr.read()
        url = line.split()[-1]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_url(url.split("/?")[0] + "/")  # the token traded for the cookie
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900})
                page.reload()
                banner = page.locator("article .admonition").first
                assert LEVEL_ADMONITION["low"] in (banner.get_attribute("class") or "").split()
                assert banner.locator(".admonition-title").inner_text().startswith("Risk: low on ")
                box = banner.bounding_box()
                assert box is not None and box["y"] + box["height"] <= 900, box
                if shots := os.environ.get("CASENOTES_SCREENSHOTS"):
                    page.screenshot(path=f"{shots}/demo-overview-{width}.png")
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
