"""The front-matter schema of every note kind, as data, and the checks that apply it.

Rules are plain records (like borg's pruning rules): a field, its type, its range or
choices, and whether the kind requires it. `casenotes check` prints every problem;
syncd reports the first, in the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .risk import EXAMPLE, LEVELS, NO_LEVEL, parse_risk

NOTE_ID = re.compile(r"^(?!0{16})[0-9a-f]{16}$")  # all zeros is the vault's profile record
TIME = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
STATUSES = ("draft", "signed")
MODALITIES = ("in person", "video", "phone", "chat", "home visit", "other")
# A treatment plan's objective: a measurable step toward a goal, with a target date and where
# it stands (the fields TherapyNotes and SimplePractice plans carry).
OBJECTIVE_STATUSES = ("not started", "in progress", "met", "revised", "discontinued")
OBJECTIVE_FIELDS = ("goal", "objective", "target", "status")

RuleType = Literal[
    "text", "date", "time", "int", "list", "enum", "note_id", "measures", "template", "objectives", "risk"
]


@dataclass(frozen=True)
class Rule:
    field: str
    type: RuleType
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A ``## `` section a note must have written before it is signed.

    ``prompt`` holds the template's own lines under the heading (stripped): a section that
    holds nothing else is still the blank template, however it looks.
    """

    heading: str
    prompt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kind:
    """A note kind: its template's name, what it is for, and the fields it requires.

    ``to_sign`` fields may be empty on a draft but not on a signed note; ``sections`` are
    filled in from the kind's template (see note_templates.templates).
    """

    name: str
    title: str
    purpose: str
    required: tuple[str, ...] = ()
    session: bool = True  # records a session (shown on the timeline as one)
    to_sign: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()


RULES = {
    rule.field: rule
    for rule in (
        Rule("client", "text"),
        Rule("date", "date"),
        Rule("id", "note_id"),
        Rule("status", "enum", choices=STATUSES),
        Rule("template", "template"),
        Rule("time", "time"),
        Rule("duration_minutes", "int", 1, 600),
        Rule("modality", "enum", choices=MODALITIES),
        Rule("tags", "list"),
        Rule("goals", "list"),
        Rule("homework", "list"),
        Rule("measures", "measures"),
        Rule("objectives", "objectives"),
        Rule("risk", "risk", choices=LEVELS),
        Rule("amends", "note_id"),
        Rule("review_date", "date"),
        Rule("next_session", "date"),
        Rule("diagnosis", "list"),
    )
}
# The rules as they were when the notes now sealed were written: a note signed before risk
# had a level keeps its text (the site shows it as "level not recorded"), and reading it
# back (an addendum to it, `new --carry`) must not refuse it.
SEALED_RULES = {**RULES, "risk": Rule("risk", "text")}
ALWAYS_REQUIRED = ("client", "date")
SESSION_DETAILS = ("duration_minutes", "modality")
# The session's time is needed to sign, not to keep a draft: `new` writes the time of typing
# for today's session, and leaves it empty for a back-dated one (the typing time is not the
# session's), which the practitioner fills in before signing.
SESSION_TIME = ("time",)
# A session note is signed only once risk was assessed: an empty `risk:` reads as "not
# assessed" on the site, never as "none". Psychotherapy (process) notes are kept apart
# from the record; the risk of that session belongs in its clinical note.
SIGNED_SESSION = ("risk",)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "soap",
            "SOAP note",
            "Subjective, Objective, Assessment, Plan: the common medical format.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "dap",
            "DAP note",
            "Data, Assessment, Plan: a shorter SOAP for talk therapy.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "birp",
            "BIRP note",
            "Behavior, Intervention, Response, Plan: centred on interventions.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "girp",
            "GIRP note",
            "Goals, Intervention, Response, Plan: centred on treatment goals.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "progress",
            "Progress note",
            "The seed's elements in full: summary, interventions, response, goals, homework, events.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "intake",
            "Intake assessment",
            "The first session: referral, history, risk, formulation, agreed goals.",
            SESSION_DETAILS,
            to_sign=SIGNED_SESSION + SESSION_TIME,
        ),
        Kind(
            "psychotherapy",
            "Psychotherapy note",
            "Private process notes, kept apart from the record (HIPAA's psychotherapy notes).",
            SESSION_DETAILS,
            to_sign=SESSION_TIME,
        ),
        Kind(
            "treatment-plan",
            "Treatment plan",
            "Goals, objectives and interventions; later notes carry its goals forward.",
            ("goals",),
            session=False,
        ),
        Kind(
            "discharge",
            "Discharge summary",
            "The end of treatment: course, status, recommendations.",
            session=False,
        ),
        Kind(
            "addendum",
            "Addendum",
            "A correction or addition to a signed note, linked to it.",
            ("amends",),
            session=False,
        ),
    )
}


@dataclass(frozen=True)
class Problem:
    line: int
    field: str | None
    why: str


def _is_list_of_text(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str | int | float) for item in value)


def _check_value(rule: Rule, value: Any, kinds: Mapping[str, Kind]) -> str | None:
    """The problem with one value, or None. Never quotes the value (it may be client data)."""
    match rule.type:
        case "text":
            return None if isinstance(value, str) and value.strip() else "must be text"
        case "date":
            ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
            return None if ok else "must be a real date written YYYY-MM-DD"
        case "time":
            if isinstance(value, int):
                return 'write the time in quotes, e.g. "14:30" (YAML reads 14:30 as a number)'
            return None if isinstance(value, str) and TIME.match(value) else 'must be a time "HH:MM"'
        case "int":
            ok = isinstance(value, int) and not isinstance(value, bool) and rule.low <= value <= rule.high  # type: ignore[operator]
            return None if ok else f"must be a whole number from {rule.low} to {rule.high}"
        case "enum":
            return None if value in rule.choices else f"must be one of: {', '.join(rule.choices)}"
        case "note_id":
            return (
                None
                if isinstance(value, str) and NOTE_ID.match(value)
                else "must be a note id: 16 lowercase hex digits"
            )
        case "list":
            if isinstance(value, list):
                colon = next((n for n, item in enumerate(value, 1) if isinstance(item, dict)), None)
                if colon is not None:  # `- Call GP: Tuesday` is valid YAML: a mapping, not text
                    return (
                        f"item {colon} has a colon followed by a space, which YAML reads as a field: put "
                        'the item in double quotes, e.g. - "Call the clinic: ask for Tuesday"'
                    )
            return (
                None
                if _is_list_of_text(value)
                else "must be a list, e.g. [first, second] or one '- item' per line"
            )
        case "template":
            known = isinstance(value, str) and value in kinds
            return None if known else f"unknown template; known: {', '.join(sorted(kinds))}"
        case "measures":
            return None if isinstance(value, dict) else "must be 'name: score' lines, e.g. phq9: 12"
        case "objectives":
            return _objectives_problem(value)
        case "risk":
            if not isinstance(value, str) or not value.strip():
                return f"must be a level and your words, e.g. `{EXAMPLE}`"
            return None if parse_risk(value).level else NO_LEVEL


def _objectives_problem(value: Any) -> str | None:
    """Objectives are a list of `- objective: ...` items with optional goal, target, status."""
    shape = "must be a list of '- objective: ...' items (with goal:, target: YYYY-MM-DD, status:)"
    if not isinstance(value, list):
        return shape
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("objective"), str):
            return f"item {number} {shape.removeprefix('must be a list of ')}"
        unknown = sorted(set(map(str, item)) - set(OBJECTIVE_FIELDS))
        if unknown:
            return f"item {number} has an unknown field {unknown[0]!r}: use {', '.join(OBJECTIVE_FIELDS)}"
        target = item.get("target")
        if target is not None and (not isinstance(target, dt.date) or isinstance(target, dt.datetime)):
            return f"item {number}: target must be a real date written YYYY-MM-DD"
        if item.get("status") is not None and item["status"] not in OBJECTIVE_STATUSES:
            return f"item {number}: status must be one of: {', '.join(OBJECTIVE_STATUSES)}"
    return None


def problems(
    meta: Mapping[str, Any],
    line_of: Mapping[str, int],
    kinds: Mapping[str, Kind] = KINDS,
    sealed: bool = False,
) -> list[Problem]:
    """Every problem with a note's front matter, in the order of the file's lines.

    ``sealed``: the note is read back from the vault, judged by SEALED_RULES."""
    rules = SEALED_RULES if sealed else RULES
    found: list[Problem] = []
    template = meta.get("template")
    kind = kinds.get(template) if isinstance(template, str) else None
    required = ALWAYS_REQUIRED + (kind.required if kind else ())
    for name in required:
        if meta.get(name) in (None, "", []):
            found.append(
                Problem(
                    line_of.get(name, 2), name, f"missing: this {kind.title if kind else 'note'} needs it"
                )
            )
    for name, value in meta.items():
        rule = rules.get(name)
        if rule is None or value is None:
            continue  # fields casenotes does not know are the practitioner's own
        why = _check_value(rule, value, kinds)
        if why:
            found.append(Problem(line_of.get(name, 2), name, why))
        elif rule.type == "measures":
            found += _measure_problems(value, line_of)
    return sorted(found, key=lambda p: p.line)


def _measure_problems(measures: Mapping[str, Any], line_of: Mapping[str, int]) -> list[Problem]:
    """Each score checked against its instrument in the catalogue (note_templates.measures)."""
    from .measures import problems as measure_problems  # the catalogue is read on first use

    return [
        Problem(line_of.get(field, line_of.get("measures", 2)), field, why)
        for field, why in measure_problems(measures)
    ]
