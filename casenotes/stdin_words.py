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


def several(given: dict[str, str]) -> dict[str, str]:
    """Options (name -> value) of which those given as '-' are read from standard input,
    one line each, in the order given: several fields, one standard input."""
    asked = [name for name, value in given.items() if value == "-"]
    if not asked:
        return given
    if sys.stdin.isatty():
        click.echo(f"{', '.join(asked)}: one line each, then Ctrl-D:", err=True)
    lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if len(lines) != len(asked):
        raise UsageFailure(
            f"{len(asked)} line(s) expected on standard input ({', '.join(asked)}, in that order), "
            f"{len(lines)} given"
        )
    return {**given, **dict(zip(asked, lines, strict=True))}
