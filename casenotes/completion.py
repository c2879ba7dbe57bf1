"""Shell completion for what can be known without the passphrase.

The vault's index of handles is blinded (a keyed hash), so casenotes cannot list handles
without unlocking, and a completion must never ask for a passphrase. What it offers:

* handles: the clients of the drafts in the inbox (the people you are writing about now);
* NOTE arguments: the inbox drafts' file names and their note ids;
* templates: every built-in kind and the practice's own templates/NAME.md.

Completion never fails loudly: a missing practice completes nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

import note_templates

from . import config

if TYPE_CHECKING:  # every command names these functions; only a completion runs them
    from click.shell_completion import CompletionItem

_FIELD = re.compile(rb"(?m)^(client|id):[ \t]*([^\s#]+)[ \t]*$")


def _inbox(ctx: click.Context) -> Path:
    return config.practice_root((ctx.find_root().obj or {}).get("practice")) / "inbox"


def _drafts(inbox: Path) -> list[tuple[Path, dict[str, str]]]:
    from syncd.editors import Kind, classify, inbox_files

    found = []
    try:
        for path in inbox_files(inbox):
            if classify(path.relative_to(inbox)) is not Kind.NOTE:
                continue
            head = path.read_bytes()[:4096]  # the front matter is at the top
            fields = {m[1].decode(): m[2].decode("utf-8", "replace") for m in _FIELD.finditer(head)}
            found.append((path, fields))
    except OSError:
        return []
    return found


def handles(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Handles of the clients with a draft in the inbox."""
    from click.shell_completion import CompletionItem

    seen = sorted({f["client"] for _, f in _drafts(_inbox(ctx)) if "client" in f})
    return [CompletionItem(h, help="has a draft in the inbox") for h in seen if h.startswith(incomplete)]


def notes(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Inbox drafts by file name and by note id."""
    from click.shell_completion import CompletionItem

    items = []
    inbox = _inbox(ctx)
    for path, fields in _drafts(inbox):
        items.append(CompletionItem(str(path.relative_to(inbox)), help="draft in the inbox"))
        if "id" in fields:
            items.append(CompletionItem(fields["id"], help=path.name))
    return [i for i in items if i.value.startswith(incomplete)]


def template_names(ctx: click.Context) -> list[str]:
    try:
        return sorted(note_templates.available(_inbox(ctx).parent / "templates"))
    except (OSError, note_templates.TemplateError):
        return sorted(note_templates.available())
