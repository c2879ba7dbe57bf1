"""What a new note carries forward from the client's earlier notes: goals and homework."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .front_matter import NoteFields


@dataclass(frozen=True, repr=False)
class CarriedForward:
    goals: list[str]
    homework: list[str]  # set in the most recent session, to follow up


def _texts(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def carry_forward(notes: Sequence[NoteFields]) -> CarriedForward:
    """Current goals (from the newest note that lists any) and the newest session's homework."""
    newest_first = sorted(notes, key=lambda n: n.date, reverse=True)
    goals = next((_texts(n.meta.get("goals")) for n in newest_first if _texts(n.meta.get("goals"))), [])
    sessions = [n for n in newest_first if n.kind not in ("addendum", "treatment-plan", "discharge")]
    homework = _texts(sessions[0].meta.get("homework")) if sessions else []
    return CarriedForward(goals, homework)
