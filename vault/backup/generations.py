"""Which backup snapshots to keep: generations by day, week, month and year (as borg prune).

A pure function over plain data: times in, the times to keep out. For each rule, walk the
snapshots newest first and keep the newest one of each period, until the rule has kept
its count of periods. What any rule keeps is kept; the newest snapshot always is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PeriodKey = Callable[[dt.datetime], tuple[int, ...]]

RULES: dict[str, PeriodKey] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


@dataclass(frozen=True)
class KeepPolicy:
    daily: int = 7
    weekly: int = 5
    monthly: int = 12
    yearly: int = 7


def to_keep(times: Sequence[dt.datetime], policy: KeepPolicy) -> set[dt.datetime]:
    newest_first = sorted(times, reverse=True)
    kept = set(newest_first[:1])
    for rule, period in RULES.items():
        wanted = getattr(policy, rule)
        seen: set[tuple[int, ...]] = set()
        for moment in newest_first:
            if len(seen) >= wanted:
                break
            key = period(moment)
            if key not in seen:
                seen.add(key)
                kept.add(moment)
    return kept
