"""fiction: fictional practices for the demo, the benchmarks and the tests. Every person is invented.

A package of its own (it imports note_templates only): `casenotes demo` needs it at run time, so it ships
in the wheel; the tests and benchmarks import it as they do any package.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass

from note_templates import KINDS

FIRST = [
    "Ada",
    "Bram",
    "Cleo",
    "Dario",
    "Edda",
    "Finn",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaia",
    "Lior",
]
LAST = ["Quillfeather", "Marrowdale", "Sunderby", "Vantorre", "Oakhollow", "Brightwater", "Fenwick"]
THEMES = ["sleep", "work stress", "grief", "panic", "self-esteem", "family conflict", "transitions"]
INTERVENTIONS = [
    "Cognitive restructuring of catastrophic predictions",
    "Behavioural activation: scheduled two valued activities",
    "Paced breathing practised in session",
    "Motivational interviewing around change talk",
    "Psychoeducation on the anxiety cycle",
]
HOMEWORK = [
    "Thought record twice this week",
    "Walk 20 minutes on three days",
    "Sleep diary",
    "Write a letter (not to send)",
]


@dataclass(frozen=True)
class FictionalClient:
    handle: str
    name: str
    dob: str


def clients(count: int, seed: int = 7) -> list[FictionalClient]:
    rng = random.Random(seed)
    made = []
    for index in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        dob = dt.date(1960 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28))
        made.append(FictionalClient(f"CL-{index + 1:04d}", name, dob.isoformat()))
    return made


def note(
    handle: str, session: dt.date, note_id: str, number: int, status: str = "signed", seed: int = 0
) -> bytes:
    """One SOAP-style session note with front matter, as a practitioner would write it."""
    rng = random.Random(f"{handle}-{number}-{seed}")
    theme = rng.choice(THEMES)
    phq9, gad7 = max(0, 18 - number + rng.randrange(4)), max(0, 14 - number + rng.randrange(3))
    return f"""---
id: {note_id}
client: {handle}
date: {session.isoformat()}
time: "{9 + rng.randrange(8)}:00"
duration_minutes: 50
modality: {rng.choice(["in person", "video"])}
template: soap
status: {status}
tags: [{theme}]
goals: ["Fewer days lost to {theme}", "Sleep at least six hours most nights"]
homework: ["{rng.choice(HOMEWORK)}"]
measures:
  phq9: {min(phq9, 27)}
  gad7: {min(gad7, 21)}
risk: none, denies ideation, plan or intent
---

# Session {number}

## Subjective
Client reports a week shaped by {theme}; sleep {rng.choice(["improved", "unchanged", "worse"])}.

## Objective
Engaged and on time; affect {rng.choice(["brighter", "constricted", "tearful at times"])}.

## Assessment
Progress toward goal 1 ({theme}) is {rng.choice(["steady", "slow", "encouraging"])}. No risk indicators.

## Plan
- Intervention: {rng.choice(INTERVENTIONS)}
- Homework: {rng.choice(HOMEWORK)}
- Next session in one week.
""".encode()


def sessions(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(weeks=week) for week in range(count)]


# -- the demo practice: every note kind, scores that move, an archive -------------------------
SECTION_TEXT = {
    "subjective": "Reports a week shaped by {theme}; sleeping {sleep}.",
    "objective": "On time and engaged; affect {affect}.",
    "assessment": "Progress on {theme} is {pace}. No risk indicators.",
    "plan": "- Intervention: {intervention}\n- Homework: {homework}\n- Next session in one week.",
    "data": "Talked through {theme}; sleeping {sleep}.",
    "behavior": "Arrived on time; affect {affect}; described {theme} in detail.",
    "goals": "Goal 1: fewer days lost to {theme}.",
    "intervention": "{intervention}.",
    "interventions": "{intervention}.",
    "response": "Engaged with the exercise; progress is {pace}.",
    "client-response": "Engaged with the exercise; progress is {pace}.",
    "summary": "A session about {theme}; sleeping {sleep}.",
    "significant-events": "None.",
    "homework": "{homework}.",
    "goals-and-plan": "Keep working on {theme}; review goals in four weeks.",
}
THEMES_BY_CLIENT = [
    "sleep",
    "work stress",
    "grief",
    "panic",
    "self-esteem",
    "family conflict",
    "transitions",
    "grief",
]
CYCLE = ["soap", "dap", "birp", "girp", "progress"]
# The demo's second client had a hard stretch: a risk flag the overview must show.
ABOUT = {
    0: "every template, a process note and an addendum",
    1: "a risk flag",
    2: "a minor",
    5: "discharged",
    6: "records due for disposal",
    7: "on legal hold",
}
RISK_FLAG = "low - passive thoughts of death, no plan or intent; safety plan reviewed"


@dataclass(frozen=True)
class DemoClient:
    person: FictionalClient
    notes: list[tuple[str, bytes]]  # (file name, Markdown)
    closed: dt.date | None = None
    hold: str | None = None
    about: str = "in care"


def kind_note(
    kind: str,
    handle: str,
    day: dt.date,
    note_id: str,
    number: int,
    theme: str,
    headings: list[str],
    amends: str | None = None,
    risk: str = "none, denies ideation, plan or intent",
) -> bytes:
    """A signed note of any kind: the template's headings, filled with fictional lines,
    titled as `casenotes new` titles it, and risk assessed where the record asks for it."""
    rng = random.Random(f"{handle}-{number}-{kind}")
    phq9 = max(2, 19 - 2 * number + rng.randrange(3))
    gad7 = max(1, 15 - number + rng.randrange(3))
    values = {
        "theme": theme,
        "sleep": rng.choice(["better", "about the same", "worse"]),
        "affect": rng.choice(["brighter", "constricted", "tearful at times"]),
        "pace": rng.choice(["steady", "slow", "encouraging"]),
        "intervention": rng.choice(INTERVENTIONS),
        "homework": rng.choice(HOMEWORK),
    }
    front = [
        "---",
        f"id: {note_id}",
        f"client: {handle}",
        f"date: {day.isoformat()}",
        f'time: "{9 + rng.randrange(8)}:00"',
        "duration_minutes: 50",
        f"modality: {rng.choice(['in person', 'video'])}",
        f"template: {kind}",
        "status: signed",
        f"tags: [{theme}]",
        f'goals: ["Fewer days lost to {theme}", "Sleep at least six hours most nights"]',
        f'homework: ["{values["homework"]}"]',
    ]
    if kind not in ("addendum", "treatment-plan", "discharge", "psychotherapy"):
        # the PHQ-9 by item, as `casenotes measure` writes it (item 9 unendorsed), the GAD-7 as a total
        base, extra = divmod(phq9, 8)
        items = [min(3, base + (i < extra)) for i in range(8)] + [0]
        front += ["measures:", f"  phq9: {{items: {items}, total: {sum(items)}}}", f"  gad7: {gad7}"]
    if kind not in ("addendum", "treatment-plan", "psychotherapy"):
        front.append(f"risk: {risk}")
    if amends:
        front.append(f"amends: {amends}")
    title = KINDS[kind].title if kind in KINDS else kind.replace("-", " ").capitalize()
    body = [f"# {title}, {day:%d %b %Y}", ""]
    for heading in headings:
        key = re.sub(r"[\s_-]+", "-", heading.casefold())
        text = SECTION_TEXT.get(key, f"Fictional notes on {theme} for this section.")
        body += [f"## {heading}", text.format(**values), ""]
    return ("\n".join([*front, "---", "", *body])).encode()


DEMO_CLIENTS = 8


def demo_handles() -> list[str]:
    return [person.handle for person in clients(DEMO_CLIENTS, seed=11)]


def demo_story(today: dt.date, headings: dict[str, list[str]]) -> list[DemoClient]:
    """Eight fictional clients: six seen over the last two years (one a minor, one
    discharged), one whose records are due for disposal, and one on legal hold."""
    people = clients(DEMO_CLIENTS, seed=11)
    people[2] = FictionalClient(
        people[2].handle, people[2].name, (today - dt.timedelta(days=15 * 365)).isoformat()
    )
    story = []
    for index, person in enumerate(people):
        archived = index >= 6
        count = 4 if archived else 12 - index
        # Archived clients: four weekly sessions years ago. The others: every eight weeks
        # over the last two years, the latest a few weeks ago.
        every = 1 if archived else 8
        start = (
            dt.date(2015 + index - 6, 3, 2)
            if archived
            else today - dt.timedelta(weeks=every * (count - 1) + 2 * index + 1)
        )
        dates = [start + dt.timedelta(weeks=every * n) for n in range(count)]
        notes, ids = [], []
        for number, day in enumerate(dates, start=1):
            kind = (
                "intake" if number == 1 else "treatment-plan" if number == 2 else CYCLE[(number + index) % 5]
            )
            if not archived and index == 5 and number == count:
                kind = "discharge"
            ids.append(f"de{index:02x}{number:012x}")  # letters in it: YAML keeps it text
            flagged = index == 1 and number == count - 1
            text = kind_note(
                kind,
                person.handle,
                day,
                ids[-1],
                number,
                THEMES_BY_CLIENT[index],
                headings[kind],
                **({"risk": RISK_FLAG} if flagged else {}),
            )
            notes.append((f"{day.isoformat()}-{person.handle}-{kind}.md", text))
        if index == 0:  # a process note, and an addendum correcting the third session
            third = dates[2]
            for kind, extra in (("psychotherapy", None), ("addendum", ids[2])):
                nid = f"de{index:02x}{90 + len(notes):012x}"
                text = kind_note(
                    kind, person.handle, third, nid, 3, THEMES_BY_CLIENT[0], headings[kind], extra
                )
                notes.append((f"{third.isoformat()}-{person.handle}-{kind}.md", text))
        closed = dates[-1] if archived or index == 5 else None
        hold = "records request from a court (fictional)" if index == 7 else None
        about = ABOUT.get(index, "in care")
        story.append(DemoClient(person, notes, closed, hold, about))
    return story
