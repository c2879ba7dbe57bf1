"""`casenotes export`: the client's copy of their record (PDF, Markdown, JSON), an audited
disclosure; for someone other than the client only under a consent on file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .completion import handles
from .context import UsageFailure, open_vault, practice, practice_option, unlock
from .nodump import no_core_dumps

Date = click.DateTime(["%Y-%m-%d"])


@click.command("export")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, file_okay=False), required=True, help="A new folder."
)
@click.option("--from", "start", type=Date, help="Notes from this session date on (default: the first).")
@click.option("--to", "end", type=Date, help="Notes up to this session date (default: the last).")
@click.option(
    "--include-psychotherapy-notes",
    "psychotherapy",
    is_flag=True,
    help="Release psychotherapy (process) notes too; left out by default, and the cover says so.",
)
@click.option(
    "--to-recipient",
    "recipient",
    metavar="NAME",
    help="Someone other than the client (a consent to them must be on file).",
)
@click.option(
    "--purpose", help="Why the record is disclosed (default: the consent's purpose, or the client's copy)."
)
@click.option(
    "--password-protect",
    "protect",
    is_flag=True,
    help="Encrypt the PDF with a password printed once, to give by phone.",
)
@click.pass_context
def export_cmd(
    ctx: click.Context,
    handle: str,
    output: Path,
    start: dt.datetime | None,
    end: dt.datetime | None,
    psychotherapy: bool,
    recipient: str | None,
    purpose: str | None,
    protect: bool,
) -> None:
    """Write a client's record for them (or, under their consent, for someone else): a PDF to read
    and print, each note as the Markdown it was written as, and notes.json of every field."""
    from site_builder.export import record

    if start and end and end < start:
        raise UsageFailure("--to lies before --from: give the period's first day, then its last")
    if purpose is not None and recipient is None:
        raise UsageFailure("--purpose goes with --to-recipient: the client's own copy needs none")
    p = practice(ctx)
    if output.absolute().resolve().is_relative_to(p.root.absolute().resolve()):
        raise UsageFailure(
            f"{output} is inside the practice folder, which syncd and sync engines read: "
            "name a folder outside it for the client's plaintext copy"
        )
    no_core_dumps()
    settings = p.settings()
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    me = unlock(vault)
    written = record.export(
        vault,
        me,
        record.Request(
            client_id,
            handle,
            start.date() if start else None,
            end.date() if end else None,
            psychotherapy,
            recipient,
            purpose,
            protect,
            settings.practice_name,
            settings.practitioner_name,
        ),
        output,
    )
    click.echo(f"wrote {written.notes} note(s) of client {client_id} to {written.folder}:")
    click.echo(f"  {written.pdf.name}  the record to read and print, signed by you")
    click.echo(f"  {record.NOTES_DIR}/  each note as the Markdown it was written as")
    click.echo(f"  {written.json.name}  every structured field (docs/format.md)")
    for line in written.excluded:
        click.echo(f"left out: {line}")
    click.echo(f"signature key fingerprint: {written.fingerprint}")
    if not (settings.practice_name and settings.practitioner_name):
        click.echo(
            f"casenotes: the cover and the signature say 'practice name not set' or 'the practitioner': "
            f"set practice_name and practitioner_name in {p.settings_file}",
            err=True,
        )
    if written.password is not None:
        click.echo(f"PDF password (shown only now, give it by phone): {written.password.value}")
    else:
        click.echo(
            "These files are not encrypted: hand them over in person or by a secure channel, "
            "and delete this folder once they are given.",
            err=True,
        )


COMMANDS: list[click.Command] = [export_cmd]
