"""ruff (pydocstyle-lite, naive datetimes, stray prints, security lints) and mypy stay clean."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

PACKAGES = [
    "vault",
    "note_templates",
    "syncd",
    "retention",
    "site_builder",
    "fiction",
    "checkup",
    "casenotes",
]


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", *PACKAGES], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# In a test, an Optional that is None fails on the spot (as an assert would) and a lambda
# may do two things: narrowing each `proc.stdout` or `re.search(...)` first would be noise.
TEST_LENIENCE = ["union-attr", "index", "func-returns-value"]


def test_mypy_is_clean_on_the_tests_and_benchmarks() -> None:
    lenient = [flag for code in TEST_LENIENCE for flag in ("--disable-error-code", code)]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *lenient, "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
