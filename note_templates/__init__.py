"""Note kinds, their templates and front-matter schema, and validation.

Imports nothing of casenotes' own packages.
"""

from .carry import CarriedForward, carry_forward
from .errors import NoteInvalid, NoteUnfinished, TemplateError
from .front_matter import NoteFields, check, parse, read_note, with_field
from .schema import KINDS, Kind, Section
from .signing import ready_to_sign, unfinished
from .templates import Template, UnknownTemplate, available, get, kinds, render

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
