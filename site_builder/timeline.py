"""One client's history as plain data: notes in, timeline, goals, homework, measures out.

Pure functions over parsed notes (no files, no HTML), so the rules that shape what a
practitioner sees before a session are tested with tables, not with a built site.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from note_templates import corrections
from note_templates.excerpt import NOT_SHARED, PSYCHOTHERAPY, kept_apart
from note_templates.risk import LEVELS, Risk, parse_risk

if TYPE_CHECKING:  # the rights records are read by site.py; this module stays pure
    from vault.rights.amendments import Shown
    from vault.rights.requests import Request

SESSION_KINDS_EXCLUDED = ("addendum", "treatment-plan", "discharge")
_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*$")
# The window of the overview's safety banner: the highest risk level of these last days.
RISK_WINDOW_DAYS = 90
_SAFETY_PLAN = re.compile(r"safety[ -]plan", re.I)


T = TypeVar("T")


class once(Generic[T]):  # noqa: N801 - used as a decorator, like property
    """A property worked out on first use and kept in the instance (functools.cached_property
    without the lock it takes on every first use in Python 3.11: an entry is never shared
    between threads while it is read)."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, entry: Any, owner: type | None = None) -> T:
        if entry is None:
            return self  # type: ignore[return-value]
        value = entry.__dict__[self.name] = self.compute(entry)
        return value


@dataclass(frozen=True, repr=False)
class Entry:
    """One note as the site shows it (what is read from it is worked out once: the
    overview and the timeline ask each note of a long history several times)."""

    note_id: str
    date: dt.date
    kind: str
    meta: dict[str, Any]
    body: str
    revision: int
    signed: bool
    # What signed addenda corrected in this note: (field, addendum) for each field, e.g.
    # ("measures.gad7", <Entry>); ``signed_as`` keeps the note's own values, shown beside.
    corrections: tuple[tuple[str, Entry], ...] = ()
    signed_as: dict[str, Any] | None = None
    device: str = ""  # the device that sealed this revision (for a signed note: who signed it)
    sealed_at: str = ""

    def __repr__(self) -> str:
        return f"<Entry {self.note_id}>"

    def corrected(self, name: str) -> Entry | None:
        """The addendum that corrected ``name`` ("risk", "measures.gad7"), the latest one."""
        return next((addendum for field_, addendum in reversed(self.corrections) if field_ == name), None)

    @once
    def summary(self) -> str:
        """The first line of prose: what a glance at the timeline should tell."""
        for line in self.body.splitlines():
            text = line.strip()
            if text and not text.startswith(("#", ">", "-", "|", "<")):
                return text if len(text) <= 120 else text[:117] + "..."
        return ""

    @once
    def risk(self) -> str | None:
        """The note's risk assessment as written, or None: not assessed (left blank)."""
        value = self.meta.get("risk")
        return str(value).strip() if value is not None and str(value).strip() else None

    @once
    def risk_level(self) -> Risk | None:
        """The level and words of the risk (note_templates.risk: never guessed from the
        words), or None when it was not assessed."""
        return parse_risk(self.risk) if self.risk is not None else None

    def not_shared(self, name: str) -> bool:
        """Whether a shared excerpt left this field out (the consent did not name it)."""
        left_out = self.meta.get(NOT_SHARED)
        return isinstance(left_out, list) and name in left_out

    @once
    def risk_state(self) -> str:
        """'not assessed', 'none' (level none), 'flag' (low and above), 'not recorded'
        (words with no level: a note signed before levels were asked for) or 'not shared'
        (a colleague's share that leaves risk out)."""
        if self.risk_level is None:
            return "not shared" if self.not_shared("risk") else "not assessed"
        if self.risk_level.level is None:
            return "not recorded"
        return "none" if self.risk_level.level == "none" else "flag"

    @property
    def records_risk(self) -> bool:
        """A session of the record (a psychotherapy note keeps its risk in the clinical note)."""
        return self.kind not in (*SESSION_KINDS_EXCLUDED, PSYCHOTHERAPY)

    @once
    def mentions_safety_plan(self) -> bool:
        """A safety-plan note: tagged so, with a "Safety plan" heading, or its risk words
        say a safety plan was made or reviewed."""
        tags = " ".join(self.texts("tags"))
        return bool(
            _SAFETY_PLAN.search(tags)
            or _SAFETY_PLAN.search(self.risk or "")
            or re.search(r"(?mi)^#{1,6}\s+safety[ -]plan", self.body)
        )

    def texts(self, name: str) -> list[str]:
        value = self.meta.get(name)
        return [str(v) for v in value] if isinstance(value, list) else []

    @once
    def measures(self) -> dict[str, float]:
        """Each score of the note by name: a total, or worked out from its items (a DASS-21
        as ``dass21.depression``, ``dass21.anxiety``, ``dass21.stress``)."""
        value = self.meta.get("measures")
        if not isinstance(value, dict):
            return {}
        from note_templates.measures import readings  # the catalogue, only for notes with scores

        found: dict[str, float] = {}
        read = readings(self.meta)
        for key, reading in read.items():
            if reading.total is not None:
                found[key] = reading.total
            found.update({f"{key}.{name}": float(score) for name, score in reading.subscales})
        for key, score in value.items():
            # a number today's rules refuse (a note sealed before them) is still shown as written
            name = str(key).lower()
            if name not in read and isinstance(score, int | float) and not isinstance(score, bool):
                found[name] = float(score)
        return found


@dataclass(frozen=True)
class Objective:
    """One measurable step of a treatment plan (its `objectives:` front matter)."""

    goal: str
    objective: str
    target: dt.date | None
    status: str


@dataclass(frozen=True)
class Damaged:
    note_id: str
    why: str


@dataclass(frozen=True)
class Safety:
    """The overview's safety banner: risk at a glance before a session.

    ``highest``: the session of the highest level in the window (the newest of equals);
    ``unclear``: sessions in the window whose risk was not assessed or has no level;
    ``clear``: every session in the window says `none` (only then "no risk recorded")."""

    window_days: int
    since: dt.date
    highest: Entry | None
    last: Entry | None
    safety_plan: Entry | None
    in_window: int
    unclear: list[Entry]
    not_shared: int = 0  # sessions in the window whose risk a share left out

    @property
    def clear(self) -> bool:
        return self.in_window > 0 and not self.unclear and self.level == "none"

    @property
    def level(self) -> str | None:
        return self.highest.risk_level.level if self.highest and self.highest.risk_level else None


@dataclass(frozen=True)
class OnFile:
    """A consent or release on file, as the chart header shows it (from its sealed record)."""

    to: str  # the recipient's name as the consent records it ("" if it names none)
    until: dt.date
    revoked: dt.date | None = None


@dataclass
class Timeline:
    handle: str
    entries: list[Entry]  # newest first; psychotherapy notes only if included
    addenda: dict[str, list[Entry]] = field(default_factory=dict)  # note id -> its addenda
    hidden_psychotherapy: int = 0
    damaged: list[Damaged] = field(default_factory=list)
    today: dt.date = field(default_factory=lambda: dt.datetime.now().astimezone().date())
    cosigned: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # note id -> [(who, when)]
    born: dt.date | None = None  # from the client's profile, for the chart header's age
    signers: dict[str, str] = field(default_factory=dict)  # device id -> its practitioner's name
    consents: list[OnFile] = field(default_factory=list)  # on file, for the chart header
    awaiting: dict[str, list[str]] = field(default_factory=dict)  # note id -> who is to co-sign it
    #: note id -> the client's amendment requests about it, their decisions and statements
    amendments: dict[str, list[Shown]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)  # the client's rights requests, for To do
    # A partial overview's (notes read, notes in all): every figure of the whole history says so.
    partial: tuple[int, int] | None = None

    @property
    def sessions(self) -> list[Entry]:
        return [e for e in self.entries if e.kind not in SESSION_KINDS_EXCLUDED]

    def by_month(self) -> list[tuple[str, list[Entry]]]:
        groups: dict[str, list[Entry]] = defaultdict(list)
        for entry in self.entries:
            if entry.kind != "addendum":
                groups[entry.date.strftime("%B %Y")].append(entry)
        return list(groups.items())  # entries are newest first, so are the groups

    def current_goals(self) -> list[str]:
        return next((e.texts("goals") for e in self.entries if e.texts("goals")), [])

    def goal_history(self) -> list[tuple[dt.date, list[str], str]]:
        """(date, goals, note id) each time the goals changed, oldest first."""
        changes: list[tuple[dt.date, list[str], str]] = []
        for entry in reversed(self.entries):
            goals = entry.texts("goals")
            if goals and (not changes or changes[-1][1] != goals):
                changes.append((entry.date, goals, entry.note_id))
        return changes

    def sessions_for_goal(self, goal: str) -> list[Entry]:
        """Sessions that worked on ``goal``, newest first: those listing it, and those with no
        `goals:` of their own while it was in force (a note made without --carry lists none)."""
        return [e for e in self.sessions if goal in self._goals_in_force().get(e.note_id, ())]

    def _goals_in_force(self) -> dict[str, list[str]]:
        """Each note's goals: its own, else those of the newest note before it that lists any."""
        found = self.__dict__.get("_in_force")
        if found is None:
            found = {}
            current: list[str] = []
            for entry in reversed(self.entries):  # oldest first
                current = entry.texts("goals") or current
                found[entry.note_id] = current
            self.__dict__["_in_force"] = found
        return found

    def plan(self) -> tuple[Entry | None, list[Objective]]:
        """The newest note with objectives (the plan in force), and its objectives."""
        for entry in self.entries:
            items = entry.meta.get("objectives")
            if isinstance(items, list) and items:
                return entry, [
                    Objective(
                        str(item.get("goal") or ""),
                        str(item.get("objective") or ""),
                        item.get("target") if isinstance(item.get("target"), dt.date) else None,
                        str(item.get("status") or "not started"),
                    )
                    for item in items
                    if isinstance(item, dict)
                ]
        return None, []

    def homework(self) -> list[tuple[Entry, str, Entry | None]]:
        """(session that set it, the homework, the next session that could follow it up)."""
        sessions = list(reversed(self.sessions))  # oldest first
        rows = []
        for index, entry in enumerate(sessions):
            following = sessions[index + 1] if index + 1 < len(sessions) else None
            rows += [(entry, item, following) for item in entry.texts("homework")]
        return list(reversed(rows))

    def measure_series(self) -> dict[str, list[tuple[dt.date, float]]]:
        series: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
        for entry in reversed(self.entries):
            for name, score in entry.measures.items():
                series[name].append((entry.date, score))
        return dict(series)

    def themes(self) -> dict[str, list[Entry]]:
        found: dict[str, list[Entry]] = defaultdict(list)
        for entry in self.sessions:
            for tag in entry.texts("tags"):
                found[tag.lower()].append(entry)
        return dict(sorted(found.items(), key=lambda item: (-len(item[1]), item[0])))

    def risk_flags(self) -> list[Entry]:
        """Notes whose level is low or above, newest first."""
        return [e for e in self.entries if e.risk_state == "flag"]

    def risk_unleveled(self) -> list[Entry]:
        """Notes whose risk has words but no level (signed before levels were asked for)."""
        return [e for e in self.entries if e.risk_state == "not recorded"]

    def risk_not_assessed(self) -> list[Entry]:
        """Sessions whose risk was never written (psychotherapy notes keep theirs elsewhere)."""
        return [e for e in self.sessions if e.kind != PSYCHOTHERAPY and e.risk_state == "not assessed"]

    def safety(self, days: int = RISK_WINDOW_DAYS) -> Safety:
        """Risk at a glance: the highest level of the last ``days`` days, ranked by level
        (never by the words), the last session's, and the newest safety-plan note."""
        since = self.today - dt.timedelta(days=days)
        recorded = [e for e in self.sessions if e.records_risk]
        window = [e for e in recorded if since <= e.date <= self.today]
        ranked = [
            (LEVELS.index(e.risk_level.level), e.date, e)
            for e in self.entries
            if since <= e.date <= self.today and e.risk_level is not None and e.risk_level.level is not None
        ]
        highest = max(ranked, key=lambda found: found[:2], default=None)
        unclear = [e for e in window if e.risk_state in ("not assessed", "not recorded")]
        return Safety(
            days,
            since,
            highest[2] if highest else None,
            recorded[0] if recorded else None,
            next((e for e in self.entries if e.mentions_safety_plan), None),
            len(window),
            unclear,
            sum(1 for e in window if e.risk_state == "not shared"),
        )

    def significant_events(self) -> list[tuple[Entry, str]]:
        """The text under each note's 'Significant events' heading, when it says anything."""
        found = []
        for entry in self.entries:
            if "significant events" not in entry.body.lower():
                continue  # no such heading, without reading the note line by line
            text = section(entry.body, "Significant events").strip()
            if text and text.lower().rstrip(".") not in ("none", "none noted", "nothing"):
                found.append((entry, text))
        return found


_CHECKBOX = re.compile(r"^\s*[-*]\s+\[([ xX])\]\s+(.*\S)\s*$")


def homework_done(item: str, following: Entry | None) -> str:
    """Whether the next session ticked the homework off: 'done', 'not done', 'not recorded'
    (the next note has no checkbox for it), or 'next session' (there is none yet).

    `casenotes new --carry` writes ``- [ ] ITEM: how did it go?`` at the top of the next
    note; ticking it (``- [x]``) records that it was done."""
    if following is None:
        return "next session"
    wanted = item.strip().casefold()
    for line in following.body.splitlines():
        match = _CHECKBOX.match(line)
        if match and match[2].casefold().startswith(wanted):
            return "done" if match[1] in "xX" else "not done"
    return "not recorded"


def trend(points: Sequence[tuple[dt.date, float]]) -> tuple[str, str]:
    """(arrow, words) from the score before the latest to the latest."""
    if len(points) < 2:
        return "", "first score"
    (before_day, before), (_, latest) = points[-2], points[-1]
    change = latest - before
    arrow = "↑" if change > 0 else "↓" if change < 0 else "→"
    words = "same as" if change == 0 else f"{'up' if change > 0 else 'down'} {abs(change):g} from"
    return arrow, f"{words} {before:g} on {before_day:%d %b %Y}"


def section(body: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading."""
    lines, inside = [], False
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            if inside:
                break
            inside = match[1].strip().lower() == heading.lower()
            continue
        if inside:
            lines.append(line)
    return "\n".join(lines)


def assemble(
    handle: str,
    entries: Sequence[Entry],
    damaged: Sequence[Damaged] = (),
    include_psychotherapy: bool = False,
    today: dt.date | None = None,
    older: Mapping[str, Mapping[str, object]] | None = None,
) -> Timeline:
    """Newest first by session date (then by note id, so the order is stable); ``today``
    dates the safety banner's window (the vault's clock; this machine's date if None);
    ``older``: front matter of notes not among ``entries`` that their chains of amends lead
    through (a partial overview's), so that what amends a psychotherapy note stays apart."""
    ordered = sorted(
        _with_corrections(entries), key=lambda e: (e.date, e.meta.get("time", ""), e.note_id), reverse=True
    )
    private = kept_apart({**(older or {}), **{e.note_id: e.meta for e in ordered}})
    shown = [e for e in ordered if include_psychotherapy or e.note_id not in private]
    addenda: dict[str, list[Entry]] = defaultdict(list)
    for entry in shown:
        amends = entry.meta.get("amends")
        if entry.kind == "addendum" and isinstance(amends, str):
            addenda[amends].append(entry)
    timeline = Timeline(handle, shown, dict(addenda), len(ordered) - len(shown), list(damaged))
    if today is not None:
        timeline.today = today
    return timeline


def _with_corrections(entries: Sequence[Entry]) -> list[Entry]:
    """Each note with what its signed addenda corrected (note_templates.corrections: the rule
    `casenotes cat` applies too); ``signed_as`` keeps the amended note's own values."""
    done = corrections.apply(entries)
    by_id = {e.note_id: e for e in entries}
    found = []
    for entry in by_id.values():
        fixes = done.fixes.get(entry.note_id, [])
        if fixes:
            fixed = tuple((fix.field, by_id[fix.addendum]) for fix in fixes)
            entry = replace(
                entry,
                meta=done.meta[entry.note_id],
                corrections=entry.corrections + fixed,
                signed_as=entry.signed_as or entry.meta,
            )
        elif done.meta[entry.note_id] != entry.meta:
            entry = replace(entry, meta=done.meta[entry.note_id])
        found.append(entry)
    return found
