"""Words a command takes that must not sit on its command line (a request's note, a reason,
an outcome): given as '-', they are read from standard input, since every local user can
read another's command line (/proc/*/cmdline)."""

from __future__ import annotations

import sys

import click

from .context import UsageFailure


def words(given: str | None, what: str) -> str | None:
    """``given``, or the whole of standard input when it is '-'."""
    if given != "-":
        return given
    if sys.stdin.isatty():
        click.echo(f"{what}, then Ctrl-D:", err=True)
    value = sys.stdin.read().strip()
    if not value:
        raise UsageFailure(f"no {what} on standard input")
    return value


def required_words(given: str, what: str) -> str:
    """As `words`, and never empty."""
    value = words(given, what)
    if not value or not value.strip():
        raise UsageFailure(f"the {what} is empty: say what it is")
    return value
