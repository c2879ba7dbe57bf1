"""`casenotes request`, `disclosures`, `access-report`: a client's rights, kept by the tool.

Thin, as every command module: parse, call vault/rights, render with site_builder/reports.
The words a client or practitioner types (a request's note, a reason, an outcome) are read
from standard input when given as '-': a command line is visible to every local user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from site_builder.reports import Report, text
from vault import Vault, VaultError
from vault.errors import UnknownClient
from vault.format.encoding import is_id
from vault.rights import access_report, disclosures, requests
from vault.rights.requests import KINDS, Request

from .completion import handles
from .context import UsageFailure, open_vault, pass_vault, practice, practice_option, unlock
from .stdin_words import required_words, several, words

Date = click.DateTime(["%Y-%m-%d"])
F = TypeVar("F", bound=Callable[..., Any])
PdfPath = click.Path(path_type=Path, dir_okay=False)


def pdf_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--pdf",
        "pdf",
        type=PdfPath,
        metavar="FILE",
        help=f"Also write {what} as a PDF for the client (a new file).",
    )


def _check_pdf(ctx: click.Context, pdf: Path | None) -> None:
    """Refuse a PDF path before the passphrase is asked: a new file outside the practice
    folder (which syncd and sync engines read)."""
    if pdf is None:
        return
    if pdf.absolute().resolve().is_relative_to(practice(ctx).root.absolute().resolve()):
        raise UsageFailure(
            f"{pdf} is inside the practice folder: name a file outside it for the client's copy"
        )
    if pdf.exists():
        raise UsageFailure(f"{pdf} exists: name a new file (a report is never written over another)")


def _show(report: Report, pdf: Path | None) -> None:
    """The report on the terminal and, asked for, as a PDF the client can be handed (0600)."""
    click.echo(text(report), nl=False)
    if pdf is None:
        return
    from site_builder.export.pdf import html_to_pdf
    from site_builder.reports import html_page

    html_to_pdf(html_page(report), pdf)
    click.echo(f"wrote {pdf} (plaintext: hand it to the client, then delete it)")


def today(vault: Vault) -> dt.date:
    return vault.clock().astimezone().date()


def names(vault: Vault, me: str | None) -> dict[str, str]:
    """Practitioner id -> the name a report shows."""
    found = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    if me:
        found[me] = "you"
    return found


def left_out(unchecked: list[str]) -> tuple[str, ...]:
    """A report's line saying which log files held lines of this client it could not check."""
    if not unchecked:
        return ()
    files = ", ".join(f"audit/{name}" for name in sorted(set(unchecked)))
    return (
        f"WARNING: {len(unchecked)} line(s) of this client in {files} are left out: no registered "
        "device's signature checks (a device's registration gone from the folder, or a line changed); "
        "`casenotes verify` says which",
    )


# -- requests -----------------------------------------------------------------------------
@click.group("request")
def request_group() -> None:
    """A client's access, amendment, accounting or erasure request, with its legal deadline."""


@request_group.command("add")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the client asks for.")
@click.option("--received", type=Date, help="The day the request arrived (default: today).")
@click.option(
    "--note", metavar="TEXT", help="What the client asked, in a few words; '-': from standard input."
)
@click.option("--about", metavar="NOTE", help="An amendment: the note the client wants changed.")
@pass_vault
def request_add(
    vault: Vault,
    handle: str,
    kind: str,
    received: dt.datetime | None,
    note: str | None,
    about: str | None,
) -> None:
    """Record a client's request; prints its id and deadline."""
    client_id = vault.resolve(handle)
    if kind == "amendment" and not about:
        raise UsageFailure("an amendment request names the note it concerns: add --about NOTE")
    if about and vault.locate_note(about) != client_id:
        raise UsageFailure(f"note {about} is not a note of {handle}")
    day = received.date() if received else today(vault)
    if day > today(vault):
        raise UsageFailure(f"--received {day} is in the future")
    made = requests.add(vault, client_id, kind, day, words(note, "the request's note"), about)
    click.echo(f"request {made.request_id} ({kind}) of {handle}: due {made.deadline} ({made.duty.law})")


def _rows(found: list[Request], handles_of: dict[str, str], day: dt.date) -> Report:
    rows = []
    for r in found:
        rows.append(
            (
                r.request_id,
                handles_of.get(r.client_id, r.client_id),
                r.kind,
                r.received.isoformat(),
                r.deadline.isoformat() + (" (extended)" if r.extended else ""),
                r.countdown(day),
                r.left_to_do(),
            )
        )
    return Report(
        "Requests",
        (f"As of {day:%d %b %Y}.",),
        ("id", "client", "kind", "received", "deadline", "state", "left to do"),
        tuple(rows),
        "No requests.",
    )


def request_report(vault: Vault, handle: str | None, include_closed: bool) -> Report:
    client_id = vault.resolve(handle) if handle else None
    found = [r for r in requests.load(vault, client_id) if include_closed or r.closed is None]
    shown = {client_id: handle} if client_id and handle else {}
    return _rows(found, shown, today(vault))


@request_group.command("list")
@practice_option
@click.argument("handle", required=False, shell_complete=handles)
@click.option("--all", "include_closed", is_flag=True, help="Closed requests too.")
@pass_vault
def request_list(vault: Vault, handle: str | None, include_closed: bool) -> None:
    """Each open request with its legal deadline and what is left to do (no passphrase needed)."""
    click.echo(text(request_report(vault, handle, include_closed)), nl=False)


@request_group.command("extend")
@practice_option
@click.argument("request_id", metavar="ID")
@click.option(
    "--reason", required=True, metavar="TEXT", help="Why (told to the client); '-': standard input."
)
@pass_vault
def request_extend(vault: Vault, request_id: str, reason: str) -> None:
    """Take the one extension the law allows (tell the client why, before the first deadline)."""
    found = requests.find(vault, request_id)
    day = today(vault)
    if found.closed is None and day > found.deadline:
        raise UsageFailure(f"request {found.request_id} was due on {found.deadline}: too late to extend it")
    done = requests.extend(vault, found, required_words(reason, "reason"), day)
    click.echo(f"request {done.request_id} extended: now due {done.deadline}")


@request_group.command("close")
@practice_option
@click.argument("request_id", metavar="ID")
@click.option("--outcome", required=True, metavar="TEXT", help="What was done; '-': standard input.")
@pass_vault
def request_close(vault: Vault, request_id: str, outcome: str) -> None:
    """Record what was done about a request."""
    found = requests.find(vault, request_id)
    done = requests.close(vault, found, required_words(outcome, "outcome"), today(vault))
    late = (done.closed or done.deadline) > done.deadline
    click.echo(
        f"request {done.request_id} closed" + (f", after its deadline {done.deadline}" if late else "")
    )


# -- the accounting of disclosures ---------------------------------------------------------
class _ShowByDefault(click.Group):
    """`disclosures HANDLE` shows; `disclosures add HANDLE ...` records."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("disclosures", cls=_ShowByDefault)
def disclosures_group() -> None:
    """The accounting of disclosures: every share, export and recorded disclosure of a client."""


def _client_or_purged(vault: Vault, handle: str) -> str:
    """The client a handle names; or, given a client id whose handle is gone (a purged or
    erased client, named by its disposal certificate), that id."""
    try:
        return vault.resolve(handle)
    except UnknownClient:
        if is_id(handle) and disclosures.ever_disclosed(vault, handle):
            return handle
        raise


def disclosures_report(vault: Vault, handle: str, since: dt.date | None) -> Report:
    from vault.sharing import consent

    me = unlock(vault)
    client_id = _client_or_purged(vault, handle)
    if (vault.client_dir(client_id) / "client.json").exists():
        # Every device can open the facts (the retention key): only a holder of the client is shown them.
        vault.keyring.client_keys(me, client_id)
    try:
        purposes = {c.consent_id: c.purpose for c in consent.consents(vault, me, client_id)}
    except (VaultError, OSError):  # purged: the consents went with the client; the ids stay
        purposes = {}
    day = today(vault)
    start = since or disclosures.six_years_before(day)
    unchecked: list[str] = []
    rows = disclosures.accounting(
        vault, client_id, start, names(vault, me.practitioner_id), purposes, unchecked=unchecked
    )
    return Report(
        f"Accounting of disclosures: {handle}",
        (
            f"From {start:%d %b %Y} to {day:%d %b %Y} (HIPAA 45 CFR 164.528: six years back).",
            *left_out(unchecked),
        ),
        ("date", "recipient", "description", "purpose", "how", "by"),
        tuple((r.day.isoformat(), r.recipient, r.description, r.purpose, r.how, r.by) for r in rows),
        "No disclosures in this period.",
    )


@disclosures_group.command("show", hidden=True)
@practice_option
@click.argument("handle", metavar="HANDLE|CLIENT_ID", shell_complete=handles)
@click.option("--since", type=Date, help="From this day (default: six years back).")
@pdf_option("the accounting")
@click.pass_context
def disclosures_show(ctx: click.Context, handle: str, since: dt.datetime | None, pdf: Path | None) -> None:
    """List a client's disclosures with date, recipient, description and purpose (a purged
    client's too, by the client id its disposal certificate names)."""
    _check_pdf(ctx, pdf)
    _show(disclosures_report(open_vault(ctx), handle, since.date() if since else None), pdf)


@disclosures_group.command("add")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option(
    "--to", "to", required=True, metavar="RECIPIENT", help="Who received it (a person or body); '-': stdin."
)
@click.option("--purpose", required=True, metavar="TEXT", help="Why it was disclosed; '-': stdin.")
@click.option(
    "--what", required=True, metavar="TEXT", help="A description of what went (not its text); '-': stdin."
)
@click.option("--date", "day", type=Date, help="When (default: today).")
@pass_vault
def disclosures_add(
    vault: Vault, handle: str, to: str, purpose: str, what: str, day: dt.datetime | None
) -> None:
    """Record a disclosure made outside casenotes (a letter, a phone call, a court order)."""
    client_id = vault.resolve(handle)
    when = day.date() if day else today(vault)
    if when > today(vault):
        raise UsageFailure(f"--date {when} is in the future")
    # '-': from standard input, one line each: a recipient or description names the client's affairs
    given = several({"--to": to, "--purpose": purpose, "--what": what})
    for name, value in given.items():
        if not value.strip():
            raise UsageFailure(f"{name} is empty")
    to, purpose, what = (given[name].strip() for name in ("--to", "--purpose", "--what"))
    disclosures.record(vault, client_id, when, to, purpose, what)
    click.echo(
        f"recorded a disclosure of {handle} on {when}; kept six years, whatever the record's retention"
    )


# -- who read the record ---------------------------------------------------------------------
def access_rows(vault: Vault, handle: str, since: dt.date | None) -> Report:
    client_id = vault.resolve(handle)
    me = vault.trust.device_practitioner(vault.device.device_id)
    unchecked: list[str] = []
    rows = access_report.report(vault, client_id, since, names(vault, me), unchecked=unchecked)
    period = f"Since {since:%d %b %Y}" if since else "Since the record was created"
    return Report(
        f"Access report: {handle}",
        (f"{period}, in local time; from the practice's signed audit log.", *left_out(unchecked)),
        ("when", "who", "what"),
        tuple((r.when.strftime("%Y-%m-%d %H:%M %Z"), r.who, r.what) for r in rows),
        "No access recorded in this period.",
    )


@click.command("access-report")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option("--since", type=Date, help="From this day (default: the whole record).")
@pdf_option("the report")
@click.pass_context
def access_report_cmd(ctx: click.Context, handle: str, since: dt.datetime | None, pdf: Path | None) -> None:
    """Who opened, read, shared, exported, restored or purged a client's record, and when."""
    _check_pdf(ctx, pdf)
    _show(access_rows(open_vault(ctx), handle, since.date() if since else None), pdf)


# -- amendments ----------------------------------------------------------------------------
@click.group("amend")
def amend_group() -> None:
    """Decide a client's amendment request: accept (an addendum), deny, or link their disagreement."""


@amend_group.command("accept")
@practice_option
@click.argument("request_id", metavar="ID")
@click.option("--no-edit", is_flag=True, help="Only write the addendum draft and print its path.")
@pass_vault
@click.pass_context
def amend_accept(ctx: click.Context, vault: Vault, request_id: str, no_edit: bool) -> None:
    """Accept: start an addendum to the note, linked to the request (the note never changes)."""
    from vault.rights import amendments

    from .writing import _open_editor, start_addendum

    found = requests.find(vault, request_id)
    if found.kind != "amendment" or not found.about:
        raise requests.WrongKind(found.request_id, found.kind, "amendment")
    requests.check_open(found)
    path, addendum_id = start_addendum(ctx, vault, found.about)
    amendments.accept(vault, found, addendum_id)
    click.echo(
        f"request {found.request_id} accepted: addendum {addendum_id} to note {found.about}; "
        f"sign it, tell the client, then `casenotes request close {found.request_id} --outcome ...`",
        err=True,
    )
    _open_editor(path, no_edit)


@amend_group.command("deny")
@practice_option
@click.argument("request_id", metavar="ID")
@click.option(
    "--reason", required=True, metavar="TEXT", help="The basis for the denial; '-': standard input."
)
@pass_vault
def amend_deny(vault: Vault, request_id: str, reason: str) -> None:
    """Deny in writing: the reason is kept with the note, sealed, in a signed entry."""
    from vault.rights import amendments

    found = requests.find(vault, request_id)
    amendments.deny(vault, found, required_words(reason, "reason"))
    click.echo(
        f"request {found.request_id} denied; the client may file a statement of disagreement "
        f"(`casenotes amend disagreement {found.request_id} FILE`): it will be shown with note {found.about}"
    )


@amend_group.command("disagreement")
@practice_option
@click.argument("request_id", metavar="ID")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@pass_vault
def amend_disagreement(vault: Vault, request_id: str, file: Path) -> None:
    """Link the client's statement of disagreement (a text file) to the note, from now on."""
    from vault.rights import amendments

    found = requests.find(vault, request_id)
    if file.stat().st_size > amendments.STATEMENT_LIMIT:
        raise amendments.StatementTooLarge(file)
    data = file.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageFailure(f"{file} is not a text file (UTF-8): save the statement as text") from None
    record_id = amendments.disagreement(vault, found, data)
    click.echo(
        f"statement {record_id} linked to note {found.about}; you may now delete {file} "
        "(it is sealed in the vault)"
    )


COMMANDS = [request_group, disclosures_group, access_report_cmd, amend_group]
