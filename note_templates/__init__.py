"""Note kinds, their templates and front-matter schema, and validation.

Imports nothing of casenotes' own packages.
"""

from .carry import CarriedForward, carry_forward
from .errors import NoteInvalid, TemplateError
from .front_matter import NoteFields, check, parse, read_note, with_field
from .schema import KINDS, Kind
from .templates import Template, UnknownTemplate, available, get, kinds, render

__all__ = [
    "CarriedForward",
    "carry_forward",
    "with_field",
    "KINDS",
    "Kind",
    "NoteFields",
    "NoteInvalid",
    "Template",
    "TemplateError",
    "UnknownTemplate",
    "available",
    "check",
    "get",
    "kinds",
    "parse",
    "read_note",
    "render",
]
