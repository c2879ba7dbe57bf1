"""Fictional practices for the demo, the benchmarks and the tests. Every person is invented."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

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
