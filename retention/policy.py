"""How long a client's records are kept: rules as data, due dates as a pure function.

A client's records are kept until the *latest* of:

- ``adult_years`` after the anchor, the later of the last session (or, with no session
  yet, the day the client was added) and the closing (discharge) date, or a per-kind
  number of years after the last note of that kind;
- for a client born on a known date: ``minor_years_after_majority`` after they reach
  ``majority_age``, and their ``minor_until_age`` birthday when a rule names one.

For an adult the minor rules are already past, so the same function serves both. The
presets below follow published rules; docs/retention.md gives each one's source. The
practitioner chooses their jurisdiction's rules: these are defaults, not legal advice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Policy:
    name: str
    #: years the records are kept after the later of the last session and the closing date
    adult_years: int = 7
    #: years after the age of majority that a (former) minor's records are kept
    minor_years_after_majority: int = 3
    majority_age: int = 18
    #: a birthday until which a minor's records are kept whatever else applies (New York: 22)
    minor_until_age: int | None = None
    #: years after the last note of a kind, where that kind is kept longer (e.g. intake: 10)
    kinds: Mapping[str, int] = field(default_factory=dict)
    #: days a client is listed as due before anything is destroyed
    notice_days: int = 30

    def describe(self) -> str:
        minors = f"minors: also {self.minor_years_after_majority} years after age {self.majority_age}"
        if self.minor_until_age:
            minors += f" and until age {self.minor_until_age}"
        kinds = "".join(f"; {kind}: {years} years" for kind, years in sorted(self.kinds.items()))
        return (
            f"{self.name}: {self.adult_years} years after the last session or discharge; "
            f"{minors}{kinds}; {self.notice_days} days' notice before disposal"
        )


PRESETS: dict[str, Policy] = {
    # APA Record Keeping Guidelines (2007), guideline 10.
    "apa": Policy("apa"),
    # Cal. Bus. & Prof. Code § 2919: 7 years from discharge; minors 7 years from age 18.
    "california": Policy("california", adult_years=7, minor_years_after_majority=7),
    # N.Y. Comp. Codes R. & Regs. tit. 8 § 29.2(a)(3): 6 years; minors also until age 22.
    "new-york": Policy("new-york", adult_years=6, minor_years_after_majority=0, minor_until_age=22),
    # 49 Pa. Code § 41.57: 5 years after the last service; it names no longer term for minors.
    "pennsylvania": Policy("pennsylvania", adult_years=5, minor_years_after_majority=0),
}
DEFAULT_PRESET = "apa"
# The rule each preset rests on, as an erasure refused names it (retention/erasure.py).
LAWS = {
    "apa": "the APA Record Keeping Guidelines (2007), guideline 10",
    "california": "Cal. Bus. & Prof. Code § 2919",
    "new-york": "N.Y. Comp. Codes R. & Regs. tit. 8 § 29.2(a)(3)",
    "pennsylvania": "49 Pa. Code § 41.57",
}
OVERRIDABLE = ("adult_years", "minor_years_after_majority", "majority_age", "minor_until_age", "notice_days")


class PolicyInvalid(ValueError):
    """A retention setting that cannot be used; ``key`` names it."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key, self.why = key, why


def policy_from(settings: Mapping[str, Any]) -> Policy:
    """The policy a ``retention:`` mapping in casenotes.yml asks for: a preset, then overrides."""
    preset = settings.get("preset", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise PolicyInvalid("preset", f"unknown preset (known: {', '.join(PRESETS)})")
    policy = PRESETS[preset]
    changes: dict[str, Any] = {}
    for key in OVERRIDABLE:
        if key in settings:
            value = settings[key]
            if key == "minor_until_age" and value is None:
                changes[key] = None
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PolicyInvalid(key, "must be a whole number of years (or days), 0 or more")
            else:
                changes[key] = value
    kinds = settings.get("kinds", {})
    if not isinstance(kinds, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in kinds.items()
    ):
        raise PolicyInvalid("kinds", "must map a template name to years, e.g. {intake: 10}")
    if kinds:
        changes["kinds"] = dict(kinds)
    if changes:
        policy = replace(policy, name=f"{policy.name} (changed in casenotes.yml)", **changes)
    return policy


def add_years(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later; 29 February becomes 1 March (never earlier)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


@dataclass(frozen=True)
class Facts:
    """What retention knows of one client: no name, no handle, no note text."""

    created: dt.date
    last_sessions: Mapping[str, dt.date] = field(default_factory=dict)  # kind -> latest session date
    born: dt.date | None = None
    closed: dt.date | None = None
    holds: Mapping[str, str] = field(default_factory=dict)  # hold id -> reason (in force)
    #: days a device first found the client past retention and said so (one per device);
    #: one on or before the current retain-until date is from an earlier cycle, and void
    notices: tuple[dt.date, ...] = ()

    @property
    def last_session(self) -> dt.date | None:
        return max(self.last_sessions.values(), default=None)


def retain_until(facts: Facts, policy: Policy) -> tuple[dt.date, str]:
    """The last day the client's records must be kept, and the rule that set it."""
    # A client with no session yet counts from the day they were added.
    anchor = max(d for d in (facts.last_session or facts.created, facts.closed) if d is not None)
    ends = [(add_years(anchor, policy.adult_years), "last session or discharge")]
    ends += [
        (add_years(day, policy.kinds[kind]), f"last {kind} note")
        for kind, day in facts.last_sessions.items()
        if kind in policy.kinds
    ]
    if facts.born is not None:
        majority = add_years(facts.born, policy.majority_age)
        ends.append((add_years(majority, policy.minor_years_after_majority), "age of majority"))
        if policy.minor_until_age is not None:
            ends.append((add_years(facts.born, policy.minor_until_age), f"age {policy.minor_until_age}"))
    return max(ends, key=lambda end: end[0])  # on a tie, the first rule listed names it


STATES = ("held", "due", "in notice", "closed", "active")


@dataclass(frozen=True)
class Decision:
    retain_until: dt.date
    dispose_on: dt.date  # retain_until + the notice period: the first day a purge may run
    state: str  # one of STATES
    rule: str  # which rule set retain_until ("age of majority", "last intake note", ...)
    #: the day casenotes first said the client is past retention (None: not said yet)
    announced: dt.date | None = None
    #: the first day an unattended run may dispose: a full notice period after ``announced``
    unattended_from: dt.date | None = None

    @property
    def purgeable(self) -> bool:
        """Due by the dates: a person reviewing the list (`retention purge`) may dispose."""
        return self.state == "due"

    def purgeable_unattended(self, today: dt.date) -> bool:
        """Due, and announced for the whole notice period: records typed in late, or a
        closing date set far back, are never destroyed by syncd without notice."""
        return self.purgeable and self.unattended_from is not None and today >= self.unattended_from

    @property
    def needs_notice(self) -> bool:
        """Past retention (in notice or due) and not yet announced for this cycle."""
        return self.state in ("in notice", "due") and self.announced is None


def decide(facts: Facts, policy: Policy, today: dt.date) -> Decision:
    until, rule = retain_until(facts, policy)
    dispose_on = until + dt.timedelta(days=policy.notice_days + 1)
    announced = min((day for day in facts.notices if day > until), default=None)
    unattended_from = None
    if announced is not None:
        unattended_from = max(dispose_on, announced + dt.timedelta(days=policy.notice_days))
    if facts.holds:
        state = "held"
    elif today >= dispose_on:
        state = "due"
    elif today > until:
        state = "in notice"
    elif facts.closed is not None and (facts.last_session is None or facts.closed >= facts.last_session):
        state = "closed"
    else:
        state = "active"
    return Decision(until, dispose_on, state, rule, announced, unattended_from)
