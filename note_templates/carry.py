"""What a new note carries forward from the client's earlier notes: goals and homework."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from .front_matter import NoteFields


@dataclass(frozen=True, repr=False)
class CarriedForward:
    goals: list[str]
    homework: list[str]  # set in the most recent session, to follow up


def _texts(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def carry_forward(notes: Sequence[NoteFields], on: dt.date | None = None) -> CarriedForward:
    """Current goals (from the newest note that lists any) and the newest session's homework,
    as they stood on ``on`` (a back-dated note carries nothing from the sessions after it)."""
    newest_first = sorted(
        (n for n in notes if on is None or n.date <= on), key=lambda n: n.date, reverse=True
    )
    goals = next((_texts(n.meta.get("goals")) for n in newest_first if _texts(n.meta.get("goals"))), [])
    sessions = [n for n in newest_first if n.kind not in ("addendum", "treatment-plan", "discharge")]
    homework = _texts(sessions[0].meta.get("homework")) if sessions else []
    return CarriedForward(goals, homework)
