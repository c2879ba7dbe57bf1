"""A note's ``measures:``, read against the catalogue: a total, or the items that make it.

A score may be written as its total (``phq9: 12``, as always) or as the client's answers::

    measures:
      phq9: {items: [1, 2, 0, 1, 3, 0, 1, 2, 0]}        # the total is worked out: 10
      gad7: {items: [2, 2, 1, 1, 0, 3, 1], total: 10}   # a total written too must agree
      dass21: {depression: 14, anxiety: 8, stress: 20}  # or its items; each subscale doubled

Invariant 9: a score shown is computed from its items where items are given, so a total
mistyped beside its items is refused rather than charted. Answers to items that signal
risk (PHQ-9 item 9, CORE-10 item 6, a C-SSRS high answer) ask the clinician to say why
risk was judged ``none`` (see ``unreviewed_risk``). Names outside the catalogue are the
practitioner's own scores (ORS, SRS): any number, as before.

Messages never quote a value: a score is client data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .block import front_lines
from .instruments import Instrument, get, spelt
from .risk import parse_risk


class MeasureWrong(ValueError):
    """Why a measure cannot be read, in words for the practitioner (no value quoted)."""


@dataclass(frozen=True)
class Reading:
    """One measure of one note. ``total`` is None for DASS-21, which is read by subscale."""

    key: str
    total: float | None
    subscales: tuple[tuple[str, int], ...] = ()
    items: tuple[int, ...] = ()
    risk: tuple[str, ...] = ()  # why the answers ask for risk to be reviewed


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _answer(instrument: Instrument, number: int, value: Any) -> int:
    """One item's answer, checked against the answers it may take."""
    if isinstance(value, bool) and instrument.items.high == 1:
        value = int(value)  # yes/no items: `yes` and `true` read as 1
    allowed = instrument.items.values(number)
    if not _whole(value) or value not in allowed:
        shown = ", ".join(map(str, allowed)) if len(allowed) <= 5 else f"{allowed[0]} to {allowed[-1]}"
        raise MeasureWrong(f"item {number} must be one of {shown}")
    return int(value)


def read(key: str, value: Any) -> Reading | None:
    """The measure ``key: value`` of a note's front matter; None when left blank.

    Raises MeasureWrong saying what is wrong and how to write it."""
    if value is None:
        return None  # left blank: not measured this session
    instrument = get(str(key))
    if instrument is None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MeasureWrong(
                "must be a number (item answers are read only for the instruments casenotes knows)"
            )
        return Reading(str(key), float(value))
    if not isinstance(value, dict):
        return _total_only(instrument, value)
    unknown = sorted(set(map(str, value)) - {"items", "total", *(s.name for s in instrument.subscales)})
    if unknown:
        raise MeasureWrong(
            f"has an unknown field {unknown[0]!r}: write items: [...] and, if you like, total:"
        )
    if value.get("items") is None:
        if instrument.subscales:
            return _subscales_only(instrument, value)
        if "total" in value:
            return _total_only(instrument, value["total"])
        raise MeasureWrong("write its items (items: [1, 0, ...]) or its total")
    return _from_items(instrument, value)


def _total_only(instrument: Instrument, total: Any) -> Reading:
    if instrument.subscales:
        names = ", ".join(f"{s.name}:" for s in instrument.subscales)
        raise MeasureWrong(f"write its items (items: [...]) or its subscales ({names}), not one number")
    if not _whole(total) or not instrument.low <= total <= instrument.high:
        raise MeasureWrong(f"must be a whole number from {instrument.low} to {instrument.high}")
    risk = tuple(f"{instrument.short} {why}" for why in instrument.risk_of_total(total))
    return Reading(instrument.key, float(total), risk=risk)


def _subscales_only(instrument: Instrument, value: Mapping[str, Any]) -> Reading:
    found = []
    for sub in instrument.subscales:
        score: Any = value.get(sub.name)
        if not _whole(score) or not sub.low <= score <= sub.high or score % instrument.multiplier:
            raise MeasureWrong(
                f"{sub.name} must be an even number from {sub.low} to {sub.high} (its items summed, "
                f"times {instrument.multiplier}), or write the items instead"
            )
        found.append((sub.name, int(score)))
    if value.get("total") is not None and value["total"] != sum(v for _, v in found):
        raise MeasureWrong("total is not the sum of the subscales: correct it, or leave it out")
    return Reading(instrument.key, None, tuple(found))


def _from_items(instrument: Instrument, value: Mapping[str, Any]) -> Reading:
    items = value["items"]
    count = instrument.items.count
    if not isinstance(items, list):
        raise MeasureWrong(f"items must be a list of {count} answers, e.g. items: [1, 0, 2, ...]")
    if len(items) != count:
        raise MeasureWrong(f"has {len(items)} items; the {instrument.short} has {count}")
    answers = tuple(_answer(instrument, n, v) for n, v in enumerate(items, start=1))
    scored = instrument.score(answers)
    written = value.get("total")
    if written is not None and written != scored.total:
        raise MeasureWrong(
            "total does not match its items: correct the total or the items, or leave the total out "
            "(it is worked out from the items)"
        )
    for name, score in scored.subscales:
        if value.get(name) is not None and value[name] != score:
            raise MeasureWrong(f"{name} does not match its items: correct it, or leave it out")
    risk = tuple(f"{instrument.short} {why}" for why in scored.risk)
    total = None if instrument.subscales else float(scored.total)
    return Reading(instrument.key, total, scored.subscales, answers, risk)


def problems(measures: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, why) of every measure that cannot be read, in the order written.

    One instrument under two spellings (``phq9:`` and ``PHQ-9:``) is refused: a chart
    and the risk rule would read one of them, perhaps not the one with the answers."""
    found = []
    first: dict[str, str] = {}
    for name, value in measures.items():
        instrument = get(str(name))
        if instrument is not None:
            if instrument.key in first:
                found.append(
                    (
                        f"measures.{name}",
                        f"the {instrument.short} is written twice (as {first[instrument.key]!r} and "
                        f"{str(name)!r}): keep the one you mean and delete the other",
                    )
                )
                continue
            first[instrument.key] = str(name)
        try:
            read(str(name), value)
        except MeasureWrong as exc:
            found.append((f"measures.{name}", str(exc)))
    return found


def readings(meta: Mapping[str, Any]) -> dict[str, Reading]:
    """Every readable measure of a note by its key (lowercase); the unreadable left out."""
    value = meta.get("measures")
    if not isinstance(value, dict):
        return {}
    found = {}
    for name, score in value.items():
        try:
            reading = read(str(name).lower(), score)
        except MeasureWrong:
            continue  # `casenotes check` names it; a page shows what can be read
        if reading is not None:
            found[reading.key] = reading
    return found


def risk_signals(meta: Mapping[str, Any]) -> list[str]:
    """Why the note's measures ask for risk to be reviewed (empty: they do not): every
    score written, even an instrument written twice (``readings`` keeps one of them)."""
    value = meta.get("measures")
    if not isinstance(value, dict):
        return []
    found = []
    for name, score in value.items():
        try:
            reading = read(str(name), score)
        except MeasureWrong:
            continue  # `casenotes check` names it, and signing refuses it
        if reading is not None:
            found += [why for why in reading.risk if why not in found]
    return found


def unreviewed_risk(meta: Mapping[str, Any]) -> str | None:
    """Why a note whose measures signal risk may not say ``risk: none`` as it stands, or None.

    The rule: when any item that signals risk is endorsed, ``risk: none`` stands only with
    the clinician's words after the level (``risk: none - item 9 endorsed, reviewed ...``):
    what they asked and why they judged no risk. A bare ``none`` reads as an assessment
    made without seeing the answer. Other levels already say risk was found; a risk left
    blank is "not assessed", which signing refuses on its own.
    """
    written = meta.get("risk")
    if not isinstance(written, str) or not written.strip():
        return None
    risk = parse_risk(written)
    if risk.level != "none" or _reviewed(risk.words):
        return None
    signals = risk_signals(meta)
    if not signals:
        return None
    return (
        f"is none, but {'; '.join(signals)}: write after the level what you reviewed and why you "
        "found no risk (e.g. `risk: none - item 9 endorsed, reviewed with the client, no current "
        "intent`; no colon after the dash), or record the level you found"
    )


# Words after `none` that say nothing reviewed: the level again, or a shrug.
_NO_WORDS = {"none", "no", "nil", "na", "n a", "ok", "okay", "nothing", "fine", "same"}


def _reviewed(words: str) -> bool:
    """Whether the words after ``none`` say something: not punctuation alone (``none.``,
    typed out of habit, once stood for a review of item 9), nor the level again."""
    plain = " ".join(re.findall(r"[^\W_]+", words.lower()))
    return bool(plain) and plain not in _NO_WORDS


def written(instrument: Instrument, answers: tuple[int, ...]) -> str:
    """The YAML flow mapping a form's answers are written as: the items, and what they come
    to (the total, or DASS-21's subscales), so the note reads whole in any editor."""
    scored = instrument.score(answers)
    parts = [f"items: [{', '.join(map(str, answers))}]"]
    if instrument.subscales:
        parts += [f"{name}: {score}" for name, score in scored.subscales]
    else:
        parts.append(f"total: {scored.total}")
    return "{" + ", ".join(parts) + "}"


_MEASURES = re.compile(r"^measures\s*:\s*(#.*)?$")
_KEY_LINE = re.compile(r"""(["']?)([^:#"']+)\1\s*:""")


def _names(line: str, key: str) -> bool:
    """Whether a line under ``measures:`` writes KEY's instrument, however spelt (``PHQ-9:``):
    the form's scores replace it, rather than stand beside it as the instrument twice."""
    match = _KEY_LINE.match(line)
    return match is not None and spelt(match[2]) == spelt(key)


def with_measure(raw: bytes, key: str, value: str) -> bytes:
    """The note with ``measures.KEY`` set to VALUE (YAML text), every other line as written.

    Replaces the key's line under ``measures:`` (and any lines indented under it), else adds
    it at the end of the block, else adds the block before the closing ``---``. Raises
    ValueError for a note whose ``measures:`` is written inline (``measures: {...}``)."""
    lines, end, newline = front_lines(raw)
    start = next((i for i in range(1, end) if _MEASURES.match(lines[i].rstrip("\r\n"))), None)
    if start is None:
        if any(line.startswith("measures:") for line in lines[1:end]):
            raise ValueError("`measures:` is written on one line: write one 'name: score' line under it each")
        lines[end:end] = [f"measures:{newline}", f"  {key}: {value}{newline}"]
        return "".join(lines).encode("utf-8")
    block_end, indent, found = start + 1, "  ", None
    while block_end < end and (lines[block_end][:1] in (" ", "\t") or not lines[block_end].strip()):
        line = lines[block_end]
        own = line[: len(line) - len(line.lstrip())]
        if line.strip() and found is None and _names(line.lstrip(), key):
            found, indent = block_end, own
        block_end += 1
    new = f"{indent}{key}: {value}{newline}"
    if found is None:
        siblings = [x for x in lines[start + 1 : block_end] if x.strip()]
        if siblings:
            new = siblings[0][: len(siblings[0]) - len(siblings[0].lstrip())] + f"{key}: {value}{newline}"
        while block_end > start + 1 and not lines[block_end - 1].strip():
            block_end -= 1  # before the blank lines that end the block
        lines.insert(block_end, new)
        return "".join(lines).encode("utf-8")
    # the key's own line, and what is indented deeper under it (a block-style items: list)
    stop = found + 1
    while stop < block_end and (
        not lines[stop].strip() or len(lines[stop]) - len(lines[stop].lstrip()) > len(indent)
    ):
        stop += 1
    lines[found:stop] = [new]
    return "".join(lines).encode("utf-8")
