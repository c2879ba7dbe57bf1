"""The catalogue of outcome measures: one data file per instrument, read and checked here.

Each ``instruments/KEY.yml`` says what a practitioner needs to trust a score: the items
(count, the answers each may take, the wording only where its licence lets us show it),
the scoring rule, the range, the published severity bands with their source, the
reliable-change threshold where one is published, and the items that signal risk. The
files are data, not code, so a band or a source is corrected in one reviewed place.

Three scoring rules cover the catalogue: ``sum`` (most), ``subscales`` (DASS-21: each
subscale's items summed, times ``multiplier``) and ``triage`` (the C-SSRS screener: the
highest level any "yes" reaches).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import CatalogueInvalid

CATALOGUE = Path(__file__).parent / "instruments"
# libyaml's safe parser where PyYAML has it: the catalogue is read by every process that
# checks or shows a score.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Scoring = Literal["sum", "subscales", "triage"]
SCORINGS: tuple[str, ...] = ("sum", "subscales", "triage")


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    label: str


@dataclass(frozen=True)
class Answer:
    value: int
    label: str


@dataclass(frozen=True)
class Items:
    """The items of an instrument. ``wording`` is empty where its licence forbids showing it."""

    count: int
    low: int
    high: int
    stem: str = ""
    answers: tuple[str, ...] = ()  # labels of low..high, where the wording is shown
    answers_of: tuple[tuple[int, tuple[Answer, ...]], ...] = ()  # an item's own answers (AUDIT 1, 2, 9, 10)
    wording: tuple[str, ...] = ()

    def choices(self, number: int) -> tuple[Answer, ...]:
        """The answers item NUMBER (from 1) may take, with their labels where known."""
        for item, answers in self.answers_of:
            if item == number:
                return answers
        labels = self.answers or tuple(str(v) for v in range(self.low, self.high + 1))
        return tuple(Answer(self.low + i, label) for i, label in enumerate(labels))

    def values(self, number: int) -> tuple[int, ...]:
        return tuple(answer.value for answer in self.choices(number))


@dataclass(frozen=True)
class Subscale:
    name: str
    items: tuple[int, ...]
    low: int
    high: int
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class RiskItem:
    """An item whose answer above ``above`` asks the practitioner to review risk."""

    item: int
    above: int
    why: str


@dataclass(frozen=True)
class ReliableChange:
    points: int
    source: str


@dataclass(frozen=True)
class Scored:
    """What a set of item answers comes to: the total (the triage level for the C-SSRS),
    the subscales (DASS-21, already multiplied), and why risk should be reviewed."""

    total: int
    subscales: tuple[tuple[str, int], ...] = ()
    risk: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instrument:
    key: str
    short: str
    name: str
    source: str
    licence: str
    show_items: bool
    scoring: Scoring
    low: int
    high: int
    items: Items
    bands: tuple[Band, ...]
    bands_source: str
    reliable_change: ReliableChange | None = None
    risk_items: tuple[RiskItem, ...] = ()
    subscales: tuple[Subscale, ...] = ()
    multiplier: int = 1
    triage: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (level, items a yes to reaches it), highest first

    @property
    def form_ready(self) -> bool:
        """Whether the client form may show it: the licence allows and the wording is here."""
        return self.show_items and len(self.items.wording) == self.items.count

    def band(self, score: float, subscale: str | None = None) -> str:
        """The published band a score falls in ('' when it has none)."""
        bands = self.subscale(subscale).bands if subscale else self.bands
        for band in bands:
            if band.low <= score < band.high + 1:
                return band.label
        return ""

    def subscale(self, name: str | None) -> Subscale:
        for sub in self.subscales:
            if sub.name == name:
                return sub
        raise KeyError(name)

    def risk_of_total(self, total: int) -> tuple[str, ...]:
        """Why a total written without its items asks for risk to be reviewed: it is more
        than the answers can reach with every risk item unendorsed (a PHQ-9 of 25 has item 9
        at 1 or more; a C-SSRS at its high level had a high answer), so the items, unwritten,
        must have endorsed one."""
        if not self.risk_items:
            return ()
        quiet = {r.item: r.above for r in self.risk_items}

        def most(number: int) -> int:
            values = self.items.values(number)
            return max(v for v in values if v <= quiet[number]) if number in quiet else max(values)

        if self.scoring == "triage":
            reachable = max(
                (level for level, items in self.triage if any(i not in quiet for i in items)), default=0
            )
        elif self.scoring == "sum":
            reachable = sum(most(n) for n in range(1, self.items.count + 1))
        else:
            return ()  # by subscale: a total alone is refused (measures._total_only)
        if total <= reachable:
            return ()
        if len(self.risk_items) == 1:
            return (f"{self.risk_items[0].why} (its total is more than the other answers can reach)",)
        whys = "; or ".join(r.why for r in self.risk_items)
        return (f"total is reached only by a risk answer: {whys}",)

    def score(self, answers: Sequence[int]) -> Scored:
        """Score a complete, valid set of answers (see note_templates.measures for checking)."""
        risk = tuple(r.why for r in self.risk_items if answers[r.item - 1] > r.above)
        if self.scoring == "subscales":
            subs = tuple(
                (s.name, self.multiplier * sum(answers[i - 1] for i in s.items)) for s in self.subscales
            )
            return Scored(sum(v for _, v in subs), subs, risk)
        if self.scoring == "triage":
            level = next((lvl for lvl, items in self.triage if any(answers[i - 1] for i in items)), 0)
            return Scored(level, (), risk)
        return Scored(sum(answers), (), risk)


# -- reading and checking the data files -------------------------------------------------------


class _Reader:
    """Reads one file's mapping, naming the field at fault in CatalogueInvalid."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path, self.data = path, data

    def fail(self, field: str, why: str) -> CatalogueInvalid:
        return CatalogueInvalid(self.path, field, why)

    def get(self, field: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        node: Any = self.data
        for part in field.split("."):
            node = node.get(part, ...) if isinstance(node, Mapping) else ...
        if node is ... or node is None:
            if default is not ...:
                return default
            raise self.fail(field, "missing")
        if isinstance(node, bool) and kind is not bool or not isinstance(node, kind):
            raise self.fail(field, f"must be {getattr(kind, '__name__', 'of another type')}")
        return node

    def bands(self, field: str, rows: Any, low: int, high: int) -> tuple[Band, ...]:
        if not isinstance(rows, list):
            raise self.fail(field, "must be a list of [low, high, label]")
        bands = []
        for row in rows:
            if not (
                isinstance(row, list)
                and len(row) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) for v in row[:2])
                and isinstance(row[2], str)
            ):
                raise self.fail(field, "each band must be [low, high, label]")
            bands.append(Band(row[0], row[1], row[2]))
        # Bands must tile the range: a score that fell between two would be shown unbanded.
        if bands and (
            bands[0].low != low
            or bands[-1].high != high
            or any(a.high + 1 != b.low for a, b in zip(bands, bands[1:], strict=False))
        ):
            raise self.fail(field, f"must cover {low} to {high} without gaps or overlaps")
        return tuple(bands)


def _load(path: Path) -> Instrument:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CatalogueInvalid(path, "file", f"cannot be read as YAML{where}") from exc
    if not isinstance(data, dict):
        raise CatalogueInvalid(path, "file", "must be a mapping of fields")
    try:
        return _instrument(_Reader(path, data))
    except (KeyError, TypeError, ValueError) as exc:
        # A shape _Reader does not name (an answer that is not [value, label], a subscale
        # without items): the file is wrong all the same, and it is named.
        raise CatalogueInvalid(path, "file", f"a field has the wrong shape ({type(exc).__name__})") from exc


def _instrument(r: _Reader) -> Instrument:
    path = r.path
    key = r.get("key", str)
    if key != path.stem:
        raise r.fail("key", f"must match the file's name ({path.stem})")
    scoring = r.get("scoring", str)
    if scoring not in SCORINGS:
        raise r.fail("scoring", f"must be one of {', '.join(SCORINGS)}")
    low, high = _pair(r, "range")
    count, item_low, item_high = r.get("items.count", int), r.get("items.low", int), r.get("items.high", int)
    items = Items(
        count,
        item_low,
        item_high,
        r.get("items.stem", str, ""),
        tuple(str(a) for a in r.get("items.answers", list, [])),
        tuple(
            (int(n), tuple(Answer(int(v), str(label)) for v, label in answers))
            for n, answers in r.get("items.answers_of", dict, {}).items()
        ),
        tuple(str(w).strip() for w in r.get("items.wording", list, [])),
    )
    if items.wording and len(items.wording) != count:
        raise r.fail("items.wording", f"has {len(items.wording)} items; items.count is {count}")
    if items.answers and len(items.answers) != item_high - item_low + 1:
        raise r.fail("items.answers", f"must label each answer from {item_low} to {item_high}")
    subscales = tuple(
        Subscale(
            name,
            tuple(sub["items"]),
            *_pair(_Reader(path, sub), "range"),
            r.bands(f"subscales.{name}.bands", sub.get("bands"), *_pair(_Reader(path, sub), "range")),
        )
        for name, sub in r.get("subscales", dict, {}).items()
    )
    if scoring == "subscales" and sorted(i for s in subscales for i in s.items) != list(range(1, count + 1)):
        raise r.fail("subscales", f"must share out items 1 to {count}, each once")
    risk_items = tuple(
        RiskItem(int(row["item"]), int(row["above"]), str(row["why"]))
        for row in r.get("risk_items", list, [])
    )
    for risk in risk_items:
        if not 1 <= risk.item <= count:
            raise r.fail("risk_items", f"item {risk.item} is not one of 1 to {count}")
    change = r.get("reliable_change", dict, None)
    triage = tuple((int(level), tuple(map(int, its))) for level, its in r.get("triage", list, []))
    if scoring == "triage" and not triage:
        raise r.fail("triage", "a triage instrument needs its levels")
    instrument = Instrument(
        key=key,
        short=r.get("short", str),
        name=r.get("name", str),
        source=r.get("source", str),
        licence=r.get("licence", str),
        show_items=r.get("show_items", bool),
        scoring=scoring,
        low=low,
        high=high,
        items=items,
        bands=r.bands("bands.list", r.get("bands.list", list), low, high)
        if r.get("bands.list", list)
        else (),
        bands_source=r.get("bands.source", str),
        reliable_change=ReliableChange(int(change["points"]), str(change["source"])) if change else None,
        risk_items=risk_items,
        subscales=subscales,
        multiplier=r.get("multiplier", int, 1),
        triage=triage,
    )
    if scoring == "sum":
        most = sum(max(items.values(n)) for n in range(1, count + 1))
        if (low, high) != (0, most):
            raise r.fail("range", f"must be 0 to {most}, the sum of the items' highest answers")
    return instrument


def _pair(r: _Reader, field: str) -> tuple[int, int]:
    value = r.get(field, list)
    if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise r.fail(field, "must be [low, high]")
    return value[0], value[1]


@cache
def catalogue() -> dict[str, Instrument]:
    """Every instrument by its key under ``measures:``, read once per process."""
    return {path.stem: _load(path) for path in sorted(CATALOGUE.glob("*.yml"))}


def get(key: str) -> Instrument | None:
    """The instrument a key under ``measures:`` names, however a clinician spells it:
    ``phq9``, ``PHQ9``, ``PHQ-9`` and ``phq_9`` are all the PHQ-9 (read as the practitioner's
    own score, ``PHQ-9: 30`` went unchecked and an item 9 written under it unseen)."""
    return catalogue().get(spelt(key))


def spelt(key: str) -> str:
    """A key as the catalogue spells it: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", key.lower())
