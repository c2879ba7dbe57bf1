"""Note kinds, their front matter, and validation. Imports nothing of casenotes' own."""

from .errors import NoteInvalid, TemplateError
from .front_matter import NoteFields, read_note

__all__ = ["NoteFields", "NoteInvalid", "TemplateError", "read_note"]
