"""Risk as the clinician recorded it: a level from one vocabulary, then their own words.

Invariant 9: what a clinician reads about risk is never guessed from free text. A
session note's ``risk:`` begins with one of ``LEVELS``; what follows (after a dash, a
colon, a comma or a space) is the clinician's words, kept as written. Typed by hand
without quotes, ``risk: low - passive death wish, no plan`` is valid YAML;
``risk: low: words`` is not (a second colon), and the front-matter error says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The one vocabulary, lowest to highest: the site colours and ranks by it.
LEVELS: tuple[str, ...] = ("none", "low", "moderate", "high", "imminent")

#: The form the templates and the docs show, and every message about risk repeats.
EXAMPLE = "risk: none - denies SI/HI"
EXAMPLE_FOUND = "risk: low - passive death wish, no plan"

#: Why a ``risk:`` with words but no level is refused (check, sign, syncd): names the five
#: words and the form that works, never the clinician's own text.
NO_LEVEL = (
    f"begins with no level: start it with one of {', '.join(LEVELS)}, then a dash and your words, "
    f"e.g. `{EXAMPLE}` or `{EXAMPLE_FOUND}`"
)

_LEVEL = re.compile(r"^\s*(" + "|".join(LEVELS) + r")\b\s*(?:[-:,;.\u2013\u2014]\s*)?(.*)$", re.I | re.S)


@dataclass(frozen=True)
class Risk:
    """A note's risk: ``level`` is one of LEVELS, or None when the text names no level
    (a note written before levels were asked for: shown as "level not recorded")."""

    level: str | None
    words: str

    @property
    def rank(self) -> int:
        """Higher is worse; a missing level ranks above none (it may hide anything)."""
        return LEVELS.index(self.level) if self.level is not None else 1

    @property
    def shown(self) -> str:
        """The level and the words as one line: "low - passive death wish", "none",
        "level not recorded - denies SI/HI"."""
        level = self.level or "level not recorded"
        return f"{level} - {self.words}" if self.words else level


def parse_risk(text: str) -> Risk:
    """Split a ``risk:`` value into its level and the clinician's words."""
    match = _LEVEL.match(text)
    if match is None:
        return Risk(None, text.strip())
    return Risk(match[1].lower(), match[2].strip())
