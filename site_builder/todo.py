"""What needs the practitioner in one client's record: a timeline and a day in, a list out.

The same list is the site's "To do" page and `casenotes todo HANDLE`: the client's requests
near or past their legal deadline (vault/rights/requests.py), unsigned drafts
(oldest first), signed notes awaiting a supervisor's co-signature, a plan review or
objective past its date, homework set and never followed up, sessions without a risk
level. Pure, like timeline.py: tested with tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .timeline import Entry, Timeline, homework_done

# An objective in one of these states needs nothing more, whatever its target date.
SETTLED_OBJECTIVES = ("met", "discontinued", "revised")
# What each item is, in the order a practitioner should see them.
HEADINGS = {
    "request": "Client's requests near or past their deadline",
    "draft": "Unsigned drafts",
    "cosign": "Awaiting co-signature",
    "review": "Plan review due",
    "objective": "Objectives past their target date",
    "homework": "Homework never followed up",
    "risk": "Sessions without a risk level",
}


@dataclass(frozen=True)
class ToDo:
    """One thing to do. ``text`` may hold client text (an objective, homework): never logged."""

    what: str  # a key of HEADINGS
    day: dt.date  # the date it is about: the session, the target, the review
    entry: Entry | None
    text: str

    def __repr__(self) -> str:
        return f"<ToDo {self.what} {self.day}>"


def _age(today: dt.date, day: dt.date) -> str:
    days = (today - day).days
    return "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago" if days > 0 else "ahead"


def needs(t: Timeline) -> list[ToDo]:
    """Everything that needs the practitioner, grouped as HEADINGS orders them."""
    today = t.today
    found: list[ToDo] = []
    for request in sorted((r for r in t.requests if r.urgent(today)), key=lambda r: r.deadline):
        found.append(
            ToDo(
                "request",
                request.deadline,
                None,
                f"{request.kind} request {request.request_id}: due {request.deadline:%d %b %Y}, "
                f"{request.countdown(today)}; "
                f"{request.left_to_do()}",
            )
        )
    drafts = sorted((e for e in t.entries if not e.signed), key=lambda e: e.date)
    found += [
        ToDo("draft", e.date, e, f"{e.kind} of {e.date:%d %b %Y}, {_age(today, e.date)}") for e in drafts
    ]
    for entry in sorted((e for e in t.entries if e.note_id in t.awaiting), key=lambda e: e.date):
        by = " and ".join(t.awaiting[entry.note_id])
        found.append(ToDo("cosign", entry.date, entry, f"{entry.kind} of {entry.date:%d %b %Y}, by {by}"))
    plan, objectives = t.plan()
    review = _review_date(t)
    if review is not None and review[0] <= today:
        found.append(ToDo("review", review[0], review[1], f"plan review due {review[0]:%d %b %Y}"))
    for objective in objectives:
        if objective.target and objective.target < today and objective.status not in SETTLED_OBJECTIVES:
            found.append(
                ToDo(
                    "objective",
                    objective.target,
                    plan,
                    f"{objective.objective} (target {objective.target:%d %b %Y}, {objective.status})",
                )
            )
    for entry, item, following in reversed(t.homework()):  # oldest first
        if following is not None and homework_done(item, following) == "not recorded":
            found.append(ToDo("homework", entry.date, entry, f"{item} (set {entry.date:%d %b %Y})"))
    unleveled = [
        e
        for e in t.sessions
        if e.records_risk and e.signed and e.risk_state in ("not assessed", "not recorded")
    ]
    for entry in sorted(unleveled, key=lambda e: e.date):
        words = "not assessed" if entry.risk_state == "not assessed" else "no level"
        found.append(ToDo("risk", entry.date, entry, f"session of {entry.date:%d %b %Y}: {words}"))
    return found


def _review_date(t: Timeline) -> tuple[dt.date, Entry] | None:
    """The review date of the newest note that sets one (a treatment plan's `review_date:`)."""
    for entry in t.entries:
        value = entry.meta.get("review_date")
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value, entry
    return None
