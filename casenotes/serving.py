"""`open`'s words and locks around site_builder/session.py, which builds, serves and wipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

import site_builder.theme
from vault import Vault

from . import config
from .handover import site_open
from .nodump import no_core_dumps

if TYPE_CHECKING:
    from site_builder.session import Make


def quiet_theme() -> None:
    """Material's end-of-life notice is for documentation authors, not for a practitioner's
    terminal: switched off before anything imports the theme (the warm-up does, while the
    passphrase is typed)."""
    os.environ.update(site_builder.theme.QUIET_ENV)


def serve_site(
    vault: Vault,
    make: Make,
    subject: dict[str, str],
    minutes: float,
    no_browser: bool,
    when_complete: Callable[[], object] = lambda: None,
) -> None:
    """A site served (site_builder.session.serve_site), never beside a client's form
    (handover.py), by a process kept out of core dumps. The address with its token goes
    to stdout (the contract of `casenotes open`), the rest to stderr."""
    from site_builder.session import serve_site

    with site_open(config.config_dir()):
        no_core_dumps()
        quiet_theme()
        told = _Told(minutes)
        serve_site(vault, make, subject, minutes, no_browser, config.ram_dirs(), told, when_complete)


class _Told:
    """What a session tells, in the practitioner's terminal."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes

    def no_ram(self, base: Path) -> None:
        click.echo(
            f"casenotes: warning: no RAM file system found; the site is built in {base} and wiped on close",
            err=True,
        )

    def partial(self, shown: int, total: int) -> None:
        click.echo(f"casenotes: the newest {shown} of {total} notes shown first", err=True)

    def damaged(self, note_id: str, why: str) -> None:
        click.echo(f"casenotes: note {note_id} is damaged and shown as such: {why}", err=True)

    def serving(self, url: str) -> None:
        click.echo(f"Serving {url}", err=False)
        click.echo(f"(wiped after {self.minutes:g} idle minutes, or on Ctrl-C)", err=True)
        sys.stdout.flush()

    def ready(self) -> None:
        click.echo("casenotes: all pages ready", err=True)

    def closed(self, reason: str) -> None:
        why = _WHY.get(reason, reason)
        click.echo(f"Site closed ({why}); its files are wiped.", err=True)


_WHY = {"idle": "idle timeout", "stopped": "Ctrl-C or stop", "failed": "it failed to start"}
