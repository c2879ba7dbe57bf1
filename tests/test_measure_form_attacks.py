"""Attacks on `casenotes measure`, the form a client fills in on the practitioner's machine:
what a careless clinician, the client at the keyboard, or another local user could make of it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from conftest import Env
from test_measure_form import Measuring
from test_site_open import Opened

from note_templates.front_matter import _parse
from note_templates.measures import read, with_measure


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
