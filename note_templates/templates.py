"""Note templates: the built-in kinds, and the practice's own in ``<practice>/templates/``.

A template is a Markdown file with front matter and ``{{placeholders}}``. A file in the
practice's ``templates/`` folder named like a built-in kind (``soap.md``) replaces it; any
other name adds a kind (``couples.md`` -> ``--template couples``), checked with the
common rules. Placeholders: id, client, date, time, title, goals, carried, amends,
amends_date; any other ``{{name}}`` is left as written, and a placeholder alone on its
line that renders empty takes its line with it.

A template says which of its ``## `` sections must be written before a note is signed,
in one line that `new` leaves out of the note::

    <!-- required: Subjective, Objective, Assessment, Plan -->

Without that line every section is required; ``<!-- required: none -->`` requires none.
A kind the practice adds requires ``risk`` to sign when its front matter has a ``risk:``
line (the built-in session kinds always do).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from .errors import TemplateError
from .excerpt import section_name, sections_of
from .schema import KINDS, SIGNED_SESSION, Kind, Section

BUILTIN = Path(__file__).resolve().parent / "kinds"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ALONE = re.compile(r"(?m)^\{\{\s*([a-z_]+)\s*\}\}[ \t]*\n")
_REQUIRED = re.compile(r"(?mi)^<!--\s*required:(.*?)-->[ \t]*(?:\n|$)")
_RISK_LINE = re.compile(r"(?m)^risk:")
_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class UnknownTemplate(TemplateError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name, known)
        self.name, self.known = name, known

    def __str__(self) -> str:
        known = ", ".join(self.known)
        return f"no template {self.name!r}: choose one of {known} (or add templates/{self.name}.md)"


@dataclass(frozen=True)
class Template:
    kind: Kind
    text: str
    source: Path


def kinds(practice_templates: Path | None = None) -> dict[str, Kind]:
    """Every kind by name, each with the sections its template requires to sign."""
    if practice_templates is None:
        return dict(_builtin_kinds())
    return {name: template.kind for name, template in available(practice_templates).items()}


@cache
def _builtin_kinds() -> dict[str, Kind]:
    """The built-in kinds, read once per process: their files ship with the package and do
    not change under it (a practice's own templates are read afresh each time)."""
    return {name: template.kind for name, template in available(None).items()}


def _practice_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.md") if _KIND_NAME.match(p.stem))


def required_sections(text: str) -> tuple[Section, ...]:
    """The sections a template requires, each with its prompt lines."""
    blank = _PLACEHOLDER.sub("", _ALONE.sub("", _REQUIRED.sub("", _split(text)[1])))
    found = {
        name: Section(lines[0].lstrip("#").strip(), tuple(x.strip() for x in lines[1:] if x.strip()))
        for name, lines in sections_of(blank)
        if name
    }
    declared = _REQUIRED.search(text)
    if declared is None:
        return tuple(found.values())
    names = [n.strip() for n in declared[1].split(",") if n.strip()]
    if [n.casefold() for n in names] == ["none"]:
        return ()
    return tuple(found.get(section_name(n), Section(n)) for n in names)


def _split(text: str) -> tuple[str, str]:
    """(front matter, body) of a template; all body when it has no front matter."""
    if not text.startswith("---"):
        return "", text
    end = text.find("\n---", 3)
    return (text[3:end], text[end + 4 :]) if end >= 0 else ("", text)


def _kind(name: str, text: str) -> Kind:
    base = KINDS.get(name) or Kind(
        name,
        name.replace("-", " ").capitalize(),
        "Your practice's own template.",
        to_sign=SIGNED_SESSION if _RISK_LINE.search(_split(text)[0]) else (),
    )
    return replace(base, sections=required_sections(text))


def available(practice_templates: Path | None = None) -> dict[str, Template]:
    """Every template by kind name; the practice's files win over the built-in ones."""
    found = {p.stem: p for p in sorted(BUILTIN.glob("*.md"))}
    found.update({p.stem: p for p in _practice_files(practice_templates)})
    templates = {}
    for name, path in found.items():
        text = path.read_text(encoding="utf-8")
        templates[name] = Template(_kind(name, text), text, path)
    return templates


def get(name: str, practice_templates: Path | None = None) -> Template:
    templates = available(practice_templates)
    if name not in templates:
        raise UnknownTemplate(name, sorted(templates))
    return templates[name]


def render(template: Template, values: Mapping[str, str]) -> str:
    """The note a template starts: placeholders filled, the `required:` line left out."""
    return render_text(_REQUIRED.sub("", template.text), values)


def render_text(text: str, values: Mapping[str, str]) -> str:
    text = _ALONE.sub(lambda m: m[0] if values.get(m[1], m[0]) else "", text)
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), text)


# A kind that requires goals (a treatment plan) starts from the goals carried forward (the
# intake's, with --carry), or from this example when there are none.
EXAMPLE_GOAL = "First goal: what will change, and how you will both know"


def goals_for(kind: Kind, carried: Sequence[str]) -> str:
    """The `goals:` value a new note of ``kind`` starts with."""
    return yaml_list(carried or ([EXAMPLE_GOAL] if "goals" in kind.required else []))


def yaml_list(items: Sequence[str]) -> str:
    """A flow list that YAML reads back exactly (JSON strings are valid YAML)."""
    return json.dumps(list(items), ensure_ascii=False)


def carried_section(homework: Sequence[str]) -> str:
    """The follow-up of last session's homework, for the top of a new note."""
    if not homework:
        return ""
    lines = "".join(f"- [ ] {item}: how did it go?\n" for item in homework)
    return f"## Homework from last session\n{lines}"
