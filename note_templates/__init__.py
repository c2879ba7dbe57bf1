"""Note kinds, their templates and front-matter schema, and validation.

Imports nothing of casenotes' own packages. The names below load on first use, so a
command that only needs the errors does not pay for YAML and python-frontmatter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import NoteInvalid, NoteUnfinished, TemplateError

if TYPE_CHECKING:
    from .carry import CarriedForward, carry_forward
    from .front_matter import NoteFields, check, parse, read_note, with_field
    from .schema import KINDS, Kind, Section
    from .signing import ready_to_sign, unfinished
    from .templates import Template, UnknownTemplate, available, get, kinds, render

_LAZY = {
    **dict.fromkeys(["CarriedForward", "carry_forward"], ".carry"),
    **dict.fromkeys(["NoteFields", "check", "parse", "read_note", "with_field"], ".front_matter"),
    **dict.fromkeys(["KINDS", "Kind", "Section"], ".schema"),
    **dict.fromkeys(["ready_to_sign", "unfinished"], ".signing"),
    **dict.fromkeys(["Template", "UnknownTemplate", "available", "get", "kinds", "render"], ".templates"),
}

__all__ = [
    "CarriedForward",
    "carry_forward",
    "with_field",
    "KINDS",
    "Kind",
    "NoteFields",
    "NoteInvalid",
    "NoteUnfinished",
    "Section",
    "Template",
    "TemplateError",
    "UnknownTemplate",
    "available",
    "check",
    "get",
    "kinds",
    "parse",
    "read_note",
    "ready_to_sign",
    "render",
    "unfinished",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
