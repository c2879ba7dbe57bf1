"""An open site's whole life: built in a RAM directory, served on 127.0.0.1, wiped
however it ends (closed, idle, Ctrl-C, SIGTERM, SIGHUP, a failure).

What the practitioner is told goes through ``Told`` (the command line words it); nothing
here prints.
"""

from __future__ import annotations

import signal
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from vault import Vault

from . import ramdir
from .errors import BuildStopped
from .site import BuiltSite, OpenSite

#: Builds the site in a directory, calling its second argument once the overview can be served.
Make = Callable[[Path, Callable[[BuiltSite], None]], BuiltSite]


class Told(Protocol):
    """What a session tells the practitioner, as it happens."""

    def no_ram(self, base: Path) -> None:
        """No RAM file system: the site is built on disk in ``base``, and wiped on close."""

    def partial(self, shown: int, total: int) -> None:
        """A partial overview is served first: the newest ``shown`` of ``total`` notes."""

    def damaged(self, note_id: str, why: str) -> None:
        """A note is damaged and shown as such."""

    def serving(self, url: str) -> None:
        """The site answers at ``url`` (its token in it: for this practitioner alone)."""

    def ready(self) -> None:
        """Every page is served."""

    def closed(self, reason: str) -> None:
        """The site is closed and wiped: ``idle``, ``stopped``, ``failed`` or the server's own."""


def serve_site(
    vault: Vault,
    make: Make,
    subject: dict[str, str],
    minutes: float,
    no_browser: bool,
    ram_dirs: Sequence[Path],
    told: Told,
    when_complete: Callable[[], object] = lambda: None,
) -> None:
    """Build a site in a RAM directory, serve it on 127.0.0.1, and wipe it however it ends.

    ``make(directory, on_overview)`` builds it and calls on_overview as soon as the overview
    can be served: the address is told then, and the other pages follow (a long history
    takes seconds). The browser is sent to the address with its token through a 0600
    launcher file: never an argv, which any local user can read. ``when_complete`` runs
    once every page is served, after ``told.ready()``: what it does (a scan, a warning) is
    not on the way to the pages.
    """
    from .staged_build import stop_requested  # loaded by the warm-up already

    base, in_ram = ramdir.choose_base(list(ram_dirs))
    if not in_ram:
        told.no_ram(base)
    opened: OpenSite | None = None
    reason = "failed"

    def on_signal(*_: object) -> None:
        # Only recorded (one store, no lock: site_builder/stopping.py): the build stops at its
        # next page, the server at its next look, and this function's own code wipes the site.
        stop_requested.set()

    # Before the directory exists: a signal between the two killed the process and left it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    directory = ramdir.create(base)

    def serve_overview(site: BuiltSite) -> None:
        nonlocal opened
        if stop_requested.is_set():
            raise BuildStopped()
        if opened is not None:  # the complete overview, in the partial one's place
            opened.replace(site)
        if site.partial is not None:
            told.partial(*site.partial)
        for damaged in () if site.partial else site.timeline.damaged:  # the complete read reports them
            told.damaged(damaged.note_id, damaged.why)
        if opened is not None:
            return
        opened = OpenSite(vault, subject, site, stop=stop_requested)
        opened.start()
        told.serving(opened.url)
        if not no_browser:
            webbrowser.open(opened.launcher().as_uri())

    try:
        make(directory, serve_overview)
        if stop_requested.is_set():  # asked after the last page
            raise BuildStopped()
        assert opened is not None
        if not opened.server.complete.is_set():
            opened.completed()
        told.ready()
        when_complete()  # a stop asked meanwhile ends the serving at its first look
        reason = opened.serve(minutes * 60)
    except BuildStopped:
        reason = "stopped"
    finally:
        if opened is not None:
            opened.close(reason)
        else:
            ramdir.wipe(directory)
        told.closed(reason)
