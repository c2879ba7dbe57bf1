"""`casenotes measure HANDLE INSTRUMENT...`: the client fills in a form on this machine, and
the answers go into today's draft for that client.

The form (site_builder.measure_form) shows the instruments' items and nothing else; this
command finds the draft, writes the scored answers into it when the client presses Done,
and closes the form however the session ends. No passphrase is asked: nothing is read
from the vault, and the inbox is where drafts are written.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import webbrowser
from pathlib import Path

import click

import note_templates
import site_builder
from note_templates.instruments import Instrument, catalogue
from note_templates.measures import read, with_measure, written
from site_builder.measure_form import FormServer, FormState
from site_builder.stopping import StopFlag
from syncd.editors import Kind, classify, inbox_files
from vault import durable

from . import config
from .completion import handles
from .config import Practice
from .context import Failure, UsageFailure, open_vault, practice, practice_option
from .handover import form_open
from .nodump import no_core_dumps
from .writing import TemplateName, _today, start_draft

NOT_FOR_THE_FORM = ("psychotherapy", "addendum", "treatment-plan", "discharge")
THANKS_SHOWN_WITHIN = 5.0  # seconds the form stays up after Done for the thank-you page


def _instruments(keys: tuple[str, ...]) -> list[Instrument]:
    known = catalogue()
    chosen = []
    for key in keys:
        instrument = known.get(key.lower())
        if instrument is None:
            offered = ", ".join(k for k, i in known.items() if i.form_ready)
            raise UsageFailure(f"no instrument {key!r}: the client form offers {offered}")
        if not instrument.form_ready:
            raise UsageFailure(
                f"the {instrument.short} is not shown to clients ({instrument.licence.rstrip('.')}); "
                f"write its scores under `measures: {instrument.key}:` in the note instead"
            )
        if instrument not in chosen:
            chosen.append(instrument)
    return chosen


def _offered(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion: the instruments the form may show."""
    return [k for k, i in catalogue().items() if i.form_ready and k.startswith(incomplete.lower())]


def todays_draft(p: Practice, handle: str, today: dt.date) -> Path | None:
    """The client's draft session note dated TODAY in the inbox (the newest, if two)."""
    found = []
    for path in inbox_files(p.inbox):
        if classify(path.relative_to(p.inbox)) is not Kind.NOTE:
            continue
        try:
            meta, _, _ = note_templates.parse(path.read_bytes(), path)
        except (OSError, note_templates.NoteInvalid):
            continue  # a note that does not parse is `check`'s to report, not ours to write into
        if (
            str(meta.get("client", "")).strip() == handle
            and meta.get("date") == today
            and meta.get("status", "draft") != "signed"
            and meta.get("template") not in NOT_FOR_THE_FORM
        ):
            found.append((path.stat().st_mtime, path))
    return max(found)[1] if found else None


def _write(p: Practice, handle: str, kind: str, results: dict[str, tuple[int, ...]]) -> Path:
    """The answers, scored, into today's draft (or a new one): called when the client is done."""
    now = _today()
    path = todays_draft(p, handle, now.date())
    if path is None:
        path = start_draft(p, handle, note_templates.get(kind, p.templates_dir), now.date(), now)
    raw = path.read_bytes()
    for key, answers in results.items():
        raw = with_measure(raw, key, written(catalogue()[key], answers))
    durable.replace(path, raw)
    return path


@click.command("measure")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.argument("keys", metavar="INSTRUMENT...", nargs=-1, required=True, shell_complete=_offered)
@click.option(
    "--template",
    "kind",
    type=TemplateName(),
    default="soap",
    show_default=True,
    help="The template of a new draft, when the client has none in the inbox today.",
)
@click.option("--no-browser", is_flag=True, help="Only print the address.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.05),
    default=30.0,
    show_default=True,
    metavar="MIN",
    help="Minutes without an answer before the form closes, keeping nothing.",
)
@click.pass_context
def measure(
    ctx: click.Context, handle: str, keys: tuple[str, ...], kind: str, no_browser: bool, idle_timeout: float
) -> None:
    """A form the client fills in on this machine (phq9, gad7, pcl5, phq15, dass21, wsas, audit);
    the scores go into today's draft for HANDLE, or a new one."""
    p = practice(ctx)
    no_core_dumps()  # the client's answers are held here: never written to a core file
    instruments = _instruments(keys)
    open_vault(ctx).resolve(handle)  # an unknown handle is said now, not after the client's answers
    note_templates.get(kind, p.templates_dir)  # and so is an unknown template
    with form_open(p.config_dir):  # no site in this browser while the client holds the device
        _serve_form(p, handle, keys, kind, no_browser, idle_timeout, instruments)


def _serve_form(
    p: Practice,
    handle: str,
    keys: tuple[str, ...],
    kind: str,
    no_browser: bool,
    idle_timeout: float,
    instruments: list[Instrument],
) -> None:
    written_to: list[Path] = []
    server = FormServer(
        FormState(instruments), lambda results: written_to.append(_write(p, handle, kind, results))
    )
    stop = StopFlag()  # set from the signal handler: no lock (site_builder/stopping.py)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    directory = None
    try:
        server.start()
        click.echo(f"Serving {server.url}")
        click.echo(
            f"(the client's form: {', '.join(i.short for i in instruments)}; closed after "
            f"{idle_timeout:g} idle minutes, or on Ctrl-C)",
            err=True,
        )
        draft = todays_draft(p, handle, _today().date())
        if draft is not None:
            # an editor holding the draft open could save its older copy over the scores
            click.echo(
                f"(the scores go into {draft} when the client is done: save it in your editor now)", err=True
            )
        if not no_browser:
            base, _ = site_builder.choose_base(config.ram_dirs())
            directory = site_builder.create(base)
            webbrowser.open(_launcher(directory, server.launcher_html()).as_uri())
        reason = _wait(server, stop, idle_timeout * 60)
    finally:
        server.close()
        server.state.forget()
        if directory is not None:
            site_builder.wipe(directory)
    if server.error is not None:
        raise Failure(
            f"the client's answers could not be written into the draft ({server.error}); nothing was "
            f"kept: fix that and run `casenotes measure {handle} {' '.join(keys)}` again"
        )
    if not written_to:
        raise Failure(f"the form closed ({reason}) before the client pressed Done; nothing was written")
    _report(written_to[0], instruments)


def _wait(server: FormServer, stop: StopFlag, idle: float) -> str:
    """Until Done (and the thank-you page shown), Ctrl-C, or IDLE seconds with no request."""
    while not stop.wait(0.2):
        if server.done.is_set():
            # the thank-you page's few seconds, polling the stop: a signal is not kept waiting
            deadline = time.monotonic() + THANKS_SHOWN_WITHIN
            while not server.thanked.is_set() and time.monotonic() < deadline and not stop.wait(0.05):
                pass
            return "done"
        if time.monotonic() - server.last_request > idle:
            return "idle timeout"
    return "Ctrl-C or stop"


def _launcher(directory: Path, html: str) -> Path:
    """A 0600 file that sends the browser to the token URL: never the URL in an argv."""
    path = directory / "form.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    return path


def _report(path: Path, instruments: list[Instrument]) -> None:
    """What the client's answers came to, for the practitioner, and any risk item endorsed."""
    meta, _, _ = note_templates.parse(path.read_bytes(), path)
    for instrument in instruments:
        reading = read(instrument.key, meta["measures"][instrument.key])
        assert reading is not None
        if reading.subscales:
            scores = ", ".join(
                f"{name} {score} ({instrument.band(score, name)})" for name, score in reading.subscales
            )
        else:
            total = int(reading.total or 0)
            scores = f"{total} ({instrument.band(total)})"
        click.echo(f"{instrument.short}: {scores}")
        for why in reading.risk:
            click.echo(f"casenotes: {why}: review risk with the client before they leave", err=True)
    click.echo(f"written to {path}")


COMMANDS = [measure]
