"""Front-matter errors a counsellor can act on (issue 30, item 7), and the docs' own examples.

The docs once showed `risk: low: protective factors named`, which casenotes refused as
"front matter is not valid YAML"; a homework item with a colon got "homework: must be a
list". Neither said to use quotes. Now the message names the line and shows the form that
works, and every front-matter example in docs/ is run through the same check.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT, Env

import note_templates
from note_templates.schema import KINDS, RULES, Kind
from note_templates.templates import render_text

WORD = "zephyrquill"  # a client's word: never in an error message


def _note(front: str) -> bytes:
    return f"---\nid: 0123456789abcdef\nclient: AB-1\ndate: 2026-11-20\n{front}\n---\n\n## Summary\nText.\n".encode()


@pytest.mark.parametrize(
    ("front", "line", "field", "form"),
    [
        ("risk: low: protective factors named " + WORD, 5, "risk", "`risk: low - protective factors named`"),
        ("goals: Return to work: part-time " + WORD, 5, "goals", '`goals: ["your text: with its colon"]`'),
        ("homework:\n  - Call the GP: ask " + WORD, 5, "homework", '- "Call the clinic: ask for Tuesday"'),
        ("homework: [Call the GP: ask " + WORD + "]", 5, "homework", '- "Call the clinic: ask for Tuesday"'),
        ("homework:\n  - first\n  - a: b: " + WORD, 7, None, '- "Call the clinic: ask for Tuesday"'),
    ],
)
def test_a_colon_inside_a_value_names_the_line_and_shows_the_quoted_form(
    front: str, line: int, field: str | None, form: str
) -> None:
    [problem] = note_templates.check(_note(front), Path("n.md"))
    assert (problem.line, problem.field) == (line, field)
    assert form in problem.why and "quotes" in problem.why
    assert WORD not in str(problem)


def test_a_line_separator_before_the_colon_still_gets_a_message_not_a_crash() -> None:
    """YAML breaks lines at U+2028 as at a newline (a note pasted from a web page may hold
    one); the advice looked the line up by newlines alone and crashed on IndexError."""
    [problem] = note_templates.check(_note("summary: a\u2028\u2028risk: low: words " + WORD), Path("n.md"))
    assert "YAML" in problem.why or "quotes" in problem.why
    assert WORD not in str(problem)


def test_the_cli_check_tells_a_counsellor_to_use_a_dash_or_quotes(practice: Env) -> None:
    path = practice.practice.inbox / "a.md"
    path.write_bytes(_note("risk: low: protective factors named"))
    result = practice.run("check", str(path))
    assert result.code == 1
    assert f"{path}:5: risk: a second colon" in result.err and "not valid YAML" not in result.err
    assert "`risk: low - protective factors named`" in result.err
    path.write_bytes(_note("risk: low - protective factors named"))
    assert practice.run("check", str(path)).code == 0
    path.write_bytes(_note('risk: "low: protective factors named"'))  # the quoted form works too
    assert practice.run("check", str(path)).code == 0


# -- every front-matter example in the docs ---------------------------------------------------
_FENCED = re.compile(r"^(`{3,})(?:markdown|yaml|md)?\n(---\n.*?)^\1$", re.M | re.S)
_SPAN = re.compile(r"`((" + "|".join(RULES) + r")(?:\.\w+)?: [^`<\n]*)`")
# Shown in the docs as what not to write, beside the form that works: check must refuse them.
WRONG_ON_PURPOSE = {
    "risk: denies SI/HI",
    "risk: low: protective factors named",
    "goals: Return to work: part-time",
}
PLACEHOLDERS = {
    "id": "0123456789abcdef",
    "client": "AB-1",
    "date": "2026-11-20",
    "time": "10:00",
    "title": "A title",
    "goals": "[]",
    "carried": "",
}


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for block in _FENCED.finditer(text):
            found.append((f"{page.name}: block at line {text[: block.start()].count(chr(10)) + 1}", block[2]))
        for span in _SPAN.finditer(text):
            found.append((f"{page.name}: `{span[1]}`", span[1]))
    return found


def test_the_docs_have_front_matter_examples_to_check() -> None:
    names = [name for name, _ in _examples()]
    assert any("block" in name for name in names) and any("`risk: none - denies SI/HI`" in n for n in names)


@pytest.mark.parametrize(("where", "example"), _examples(), ids=[name for name, _ in _examples()])
def test_every_front_matter_example_in_the_docs_passes_check(where: str, example: str) -> None:
    if example.startswith("---"):
        raw = render_text(example, PLACEHOLDERS).encode()
    else:
        raw = _note(example)
    kinds: dict[str, Kind] = dict(KINDS)
    named = re.search(r"(?m)^template: (\S+)", raw.decode())
    if named and named[1] not in kinds:  # a practice's own template, as the docs describe one
        kinds[named[1]] = replace(KINDS["soap"], name=named[1])
    found = note_templates.check(raw, Path(where), kinds)
    if example in WRONG_ON_PURPOSE:
        # refused, with the form that works
        assert found and any(form in found[0].why for form in ("`risk: none - denies SI/HI`", "quotes")), (
            found
        )
    else:
        assert not found, f"{where}: {[str(p) for p in found]}"
