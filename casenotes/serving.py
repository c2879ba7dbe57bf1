"""Serve a built site to this practitioner alone, and wipe it however the session ends."""

from __future__ import annotations

import os
import signal
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path

import click

import site_builder
import site_builder.theme
from site_builder.errors import BuildStopped
from vault import Vault

from . import config
from .handover import site_open
from .nodump import no_core_dumps


def quiet_theme() -> None:
    """Material's end-of-life notice is for documentation authors, not for a practitioner's
    terminal: switched off before anything imports the theme (the warm-up does, while the
    passphrase is typed)."""
    os.environ.update(site_builder.theme.QUIET_ENV)


def serve_site(
    vault: Vault,
    make: Callable[[Path, Callable[[site_builder.BuiltSite], None]], site_builder.BuiltSite],
    subject: dict[str, str],
    minutes: float,
    no_browser: bool,
    when_complete: Callable[[], object] = lambda: None,
) -> None:
    """Build a site in a RAM directory, serve it on 127.0.0.1, and wipe it however it ends.

    ``make(directory, on_overview)`` builds it and calls on_overview as soon as the overview
    can be served: the address is printed then, and the other pages follow (a long history
    takes seconds). The address with its token goes to stdout (the contract of `casenotes
    open`) and to the browser through a 0600 launcher file: never into an argv, which any
    local user can read. ``when_complete`` runs once every page is served, before "all
    pages ready" is said.
    """
    with site_open(config.config_dir()):  # never beside a client's form (handover.py)
        _serve(vault, make, subject, minutes, no_browser, when_complete)


def _serve(
    vault: Vault,
    make: Callable[[Path, Callable[[site_builder.BuiltSite], None]], site_builder.BuiltSite],
    subject: dict[str, str],
    minutes: float,
    no_browser: bool,
    when_complete: Callable[[], object],
) -> None:
    from site_builder.staged_build import stop_requested  # loaded by the warm-up already

    no_core_dumps()
    base, in_ram = site_builder.choose_base(config.ram_dirs())
    if not in_ram:
        click.echo(
            f"casenotes: warning: no RAM file system found; the site is built in {base} and wiped on close",
            err=True,
        )
    opened: site_builder.OpenSite | None = None
    reason = "failed"

    def on_signal(*_: object) -> None:
        # Only recorded (one store, no lock: site_builder/stopping.py): the build stops at its
        # next page, the server at its next look, and this function's own code wipes the site.
        stop_requested.set()

    # Before the directory exists: a signal between the two killed the process and left it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    directory = site_builder.create(base)

    def serve_overview(site: site_builder.BuiltSite) -> None:
        nonlocal opened
        if stop_requested.is_set():
            raise BuildStopped()
        if opened is not None:  # the complete overview, in the partial one's place
            opened.replace(site)
        if site.partial is not None:
            click.echo(
                f"casenotes: the newest {site.partial[0]} of {site.partial[1]} notes shown first", err=True
            )
        for damaged in () if site.partial else site.timeline.damaged:  # the complete read reports them
            click.echo(
                f"casenotes: note {damaged.note_id} is damaged and shown as such: {damaged.why}", err=True
            )
        if opened is not None:
            return
        opened = site_builder.OpenSite(vault, subject, site, stop=stop_requested)
        opened.start()
        click.echo(f"Serving {opened.url}", err=False)
        click.echo(f"(wiped after {minutes:g} idle minutes, or on Ctrl-C)", err=True)
        sys.stdout.flush()
        if not no_browser:
            webbrowser.open(opened.launcher().as_uri())

    try:
        quiet_theme()
        make(directory, serve_overview)
        if stop_requested.is_set():  # asked after the last page
            raise BuildStopped()
        assert opened is not None
        if not opened.server.complete.is_set():
            opened.completed()
        when_complete()
        click.echo("casenotes: all pages ready", err=True)
        reason = opened.serve(minutes * 60)
    except BuildStopped:
        reason = "stopped"
    finally:
        if opened is not None:
            opened.close(reason)
        else:
            site_builder.wipe(directory)
        why = _WHY.get(reason, reason)
        click.echo(f"Site closed ({why}); its files are wiped.", err=True)


_WHY = {"idle": "idle timeout", "stopped": "Ctrl-C or stop", "failed": "it failed to start"}
