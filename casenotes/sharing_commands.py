"""`casenotes identity | practitioner | access | consent | share | open-share | supervise | cosign`."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

import note_templates
import site_builder
from note_templates.excerpt import for_consent, template_sections
from vault import (
    DEFAULT_KDF_PROFILE,
    KDF_PROFILES,
    OpenedNote,
    Vault,
    durable,
)
from vault.format.encoding import new_id
from vault.sharing import access, consent, share, supervision
from vault.store.colleagues import Colleague, identity_of, join_practice, parse_identity

from .context import (
    Failure,
    UsageFailure,
    open_vault,
    pass_unlocked,
    pass_vault,
    practice,
    practice_option,
    unlock,
)
from .nodump import no_core_dumps

if TYPE_CHECKING:
    from vault.format.keys import Practitioner

Date = click.DateTime(["%Y-%m-%d"])


# -- identities and colleagues ----------------------------------------------------------------
@click.group()
def identity() -> None:
    """Your public identity, for colleagues to add."""


@identity.command("export")
@practice_option
@pass_unlocked
def identity_export(vault: Vault, me: Practitioner) -> None:
    """Print your identity: one line to send, and a fingerprint to read out by phone."""
    mine = identity_of(me)
    click.echo(mine.export(me.signing_key))
    click.echo(f"fingerprint: {mine.fingerprint}", err=True)


@click.group()
def practitioner() -> None:
    """Colleagues: in this practice, or in another one you share with."""


@practitioner.command("join")
@practice_option
@click.option("--kdf", type=click.Choice(list(KDF_PROFILES)), default=DEFAULT_KDF_PROFILE, show_default=True)
@click.pass_context
def practitioner_join(ctx: click.Context, kdf: str) -> None:
    """Join a practice whose folder is shared with you: make your own key and passphrase."""
    from . import passphrases

    p = practice(ctx)
    mine, line = join_practice(p.vault_dir, passphrases.ask_new("Your new passphrase"), KDF_PROFILES[kdf])
    click.echo(line)
    click.echo(f"fingerprint: {mine.fingerprint}", err=True)
    for done in p.complete_layout():
        click.echo(f"casenotes: {done}", err=True)
    click.echo(
        "Next: a colleague here runs `casenotes practitioner add YOUR-NAME <the line above>`; "
        "then you run `casenotes device register` on this machine.",
        err=True,
    )


@practitioner.command("add")
@practice_option
@click.argument("name")
@click.argument("identity_line", metavar="IDENTITY")
@pass_vault
def practitioner_add(vault: Vault, name: str, identity_line: str) -> None:
    """Add a colleague by the identity they sent; compare the fingerprint with them first."""
    colleague = parse_identity(identity_line)
    me = unlock(vault)
    where = vault.trust.add_colleague(me, name, colleague)
    click.echo(f"added {name} ({where}), fingerprint {colleague.fingerprint}")
    click.echo(
        "Compare that fingerprint with them by phone or in person before you share anything.", err=True
    )


@practitioner.command("list")
@practice_option
@pass_vault
def practitioner_list(vault: Vault) -> None:
    """Colleagues this machine trusts, with their fingerprints."""
    for known in sorted(vault.trust.colleagues(), key=lambda c: c.name.casefold()):
        click.echo(f"{known.name:<24} {known.practitioner_id}  {known.identity.fingerprint}")


# -- access ----------------------------------------------------------------------------------
@click.group("access")
def access_group() -> None:
    """Who can read a client."""


@access_group.command("grant")
@practice_option
@click.argument("handle")
@click.argument("name")
@pass_vault
def access_grant(vault: Vault, handle: str, name: str) -> None:
    """Let a colleague read a client's notes (past and future)."""
    client_id, colleague = vault.resolve(handle), vault.trust.colleague(name)
    access.grant(vault, unlock(vault), client_id, colleague)
    click.echo(f"{colleague.name} can now read client {client_id}")


@access_group.command("revoke")
@practice_option
@click.argument("handle")
@click.argument("name")
@pass_vault
def access_revoke(vault: Vault, handle: str, name: str) -> None:
    """Stop a colleague reading notes sealed from now on (the client's key is replaced)."""
    client_id, colleague = vault.resolve(handle), vault.trust.colleague(name)
    revoked = access.revoke(vault, unlock(vault), client_id, colleague)
    click.echo(f"{colleague.name} cannot read notes of client {client_id} sealed from now on.")
    click.echo(
        f"What they could read until now ({revoked.notes_before} notes) they may already have copied: "
        "revoking cannot take that back."
    )
    for holder in revoked.left_out:
        click.echo(
            f"casenotes: practitioner {holder} also lost access (not a known colleague here); grant it again",
            err=True,
        )
    for holder in revoked.unvouched:
        click.echo(
            f"casenotes: practitioner {holder} was not given the new key: they hold no access file of the "
            "current key that a holder's machine recorded (see `casenotes verify`); grant it again if they "
            "should read this client",
            err=True,
        )


# -- consent ---------------------------------------------------------------------------------
@click.group("consent")
def consent_group() -> None:
    """A client's written consent to share their notes."""


@consent_group.command("add")
@practice_option
@click.argument("handle")
@click.option("--to", "to_name", required=True, metavar="NAME", help="The colleague the notes may go to.")
@click.option(
    "--outside",
    is_flag=True,
    help="NAME does not use casenotes (a GP, a court): the record goes by `export --to-recipient NAME`.",
)
@click.option("--purpose", required=True, help="Why, in the client's words or the form's.")
@click.option("--from", "start", type=Date, help="Share notes from this session date on (default: all).")
@click.option("--until", type=Date, help="The consent ends after this day (default: one year from today).")
@click.option(
    "--sections",
    multiple=True,
    metavar="NAME",
    help="Only these note sections (repeat; default: whole notes).",
)
@click.option(
    "--psychotherapy-notes", is_flag=True, help="The form names psychotherapy (process) notes explicitly."
)
@click.option(
    "--document",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The signed form (a scan).",
)
@pass_vault
@click.pass_context
def consent_add(
    ctx: click.Context,
    vault: Vault,
    handle: str,
    to_name: str,
    purpose: str,
    start: dt.datetime | None,
    until: dt.datetime | None,
    sections: tuple[str, ...],
    psychotherapy_notes: bool,
    document: Path | None,
    outside: bool,
) -> None:
    """Record a client's consent; prints its id."""
    p = practice(ctx)
    client_id = vault.resolve(handle)
    # Someone outside casenotes has no practitioner id: `share` refuses such a consent, `export` takes it.
    to_id, to_name = ("", to_name.strip()) if outside else _colleague(vault.trust.colleague(to_name))
    known = template_sections(t.text for t in note_templates.available(p.templates_dir).values())
    unknown = [s for s in sections if note_templates.excerpt.section_name(s) not in known]
    if unknown:
        raise UsageFailure(
            f"no note section is called {unknown[0]!r}; sections are: {', '.join(sorted(known))}"
        )
    today = vault.clock().date()
    ends = until.date() if until else today + dt.timedelta(days=365)
    if ends < today:
        raise UsageFailure("--until lies in the past: a consent must run until today or later")
    recorded = consent.add(
        vault,
        client_id,
        consent.Consent(
            new_id(),
            to_id,
            to_name,
            purpose,
            today.isoformat(),
            start.date().isoformat() if start else None,
            ends.isoformat(),
            tuple(note_templates.excerpt.section_name(s) for s in sections),
            psychotherapy_notes,
        ),
        document.read_bytes() if document else None,
    )
    click.echo(recorded.consent_id)


def _colleague(found: Colleague) -> tuple[str, str]:
    return found.practitioner_id, found.name


@consent_group.command("list")
@practice_option
@click.argument("handle")
@pass_vault
def consent_list(vault: Vault, handle: str) -> None:
    """A client's consents: to whom, why, which notes, and whether each is in force."""
    client_id = vault.resolve(handle)
    for found in consent.consents(vault, unlock(vault), client_id):
        state = found.why_not_in_force(vault.clock().date()) or "in force"
        what = ", ".join(found.sections) or "whole notes"
        if found.psychotherapy:
            what += " + psychotherapy notes"
        click.echo(
            f"{found.consent_id}  to {found.to_name}  {found.start or 'all'}..{found.until}  "
            f"{what}  [{state}]  {found.purpose}"
        )


@consent_group.command("revoke")
@practice_option
@click.argument("handle")
@click.argument("consent_id", metavar="ID")
@pass_vault
def consent_revoke(vault: Vault, handle: str, consent_id: str) -> None:
    """Record that the client withdrew a consent: nothing more is shared under it."""
    client_id = vault.resolve(handle)
    consent.revoke(vault, unlock(vault), client_id, consent_id, vault.clock().date())
    click.echo(
        f"consent {consent_id} revoked; bundles already sent stay readable by their recipient "
        "until they expire"
    )


# -- sharing ---------------------------------------------------------------------------------
@click.command("share")
@practice_option
@click.argument("handle")
@click.option("--consent", "consent_id", required=True, metavar="ID", help="The consent this share rests on.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.pass_context
def share_cmd(ctx: click.Context, handle: str, consent_id: str, output: Path) -> None:
    """Write the notes a consent covers, sealed to its recipient and signed by you."""
    no_core_dumps()
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    me = unlock(vault)
    chosen = consent.find(vault, me, client_id, consent_id)
    why_not = chosen.why_not_in_force(vault.clock().date())
    if why_not:
        raise consent.ConsentNotInForce(consent_id, why_not)
    if not chosen.to:
        raise UsageFailure(
            f"consent {consent_id} is for someone who does not use casenotes: send them the record with "
            f"`casenotes export {handle} -o FOLDER --to-recipient NAME --password-protect`"
        )
    recipient = next((c for c in vault.trust.colleagues() if c.practitioner_id == chosen.to), None)
    if recipient is None:
        raise Failure(f"the recipient of consent {consent_id} is no longer a known colleague; add them again")
    notes = [(n.note_id, bytes(n.body)) for n in vault.read_notes(me, client_id)]
    start = dt.date.fromisoformat(chosen.start) if chosen.start else None
    selected = for_consent(
        notes, start, dt.date.fromisoformat(chosen.until), chosen.sections, chosen.psychotherapy
    )
    profile = vault.read_profile(me, client_id)
    data = share.seal_bundle(
        me,
        recipient,
        profile.name or profile.handle,
        {k: v for k, v in asdict(chosen).items() if k not in ("document", "document_sha256", "revoked")},
        selected,
        vault.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    try:
        durable.write_new(output.absolute(), data)
    except FileExistsError:
        raise UsageFailure(f"{output} already exists: choose another file name") from None
    vault.audit.append(
        "share", client=client_id, consent=consent_id, to=recipient.practitioner_id, notes=len(selected)
    )
    click.echo(
        f"wrote {len(selected)} note(s) to {output} for {recipient.name}; it opens until {chosen.until}"
    )


@click.command("open-share")
@practice_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser.")
@click.option(
    "--idle-timeout", type=click.FloatRange(min=0.05), metavar="MIN", help="Minutes before it is wiped."
)
@click.pass_context
def open_share(ctx: click.Context, file: Path, no_browser: bool, idle_timeout: float | None) -> None:
    """Read notes a colleague shared with you, as a private site wiped on close."""
    from .serving import quiet_theme, serve_site

    quiet_theme()

    p = practice(ctx)
    vault = open_vault(ctx)
    site_builder.warm_up()  # MkDocs loads while the passphrase is typed and derived
    me = unlock(vault)
    known = {c.practitioner_id: c for c in vault.trust.colleagues()}
    opened = share.open_bundle(file, file.read_bytes(), me, known, vault.clock().date())
    terms = opened.consent
    banner = (
        f"Shared by {opened.sender.name} for: {terms['purpose']} - consent {terms['consent_id']} "
        f"of {terms['given']}, read-only, until {opened.expires}"
    )
    vault.audit.append("share-open", sender=opened.sender.practitioner_id, consent=str(terms["consent_id"]))
    notes = [OpenedNote(note_id, 1, opened.created, True, text) for note_id, text in opened.notes]
    serve_site(
        vault,
        lambda directory, on_overview: site_builder.build_shared_site(
            opened.client, notes, directory, banner, on_overview
        ),
        {"share": str(terms["consent_id"]), "sender": opened.sender.practitioner_id},
        idle_timeout or p.settings().idle_timeout_minutes,
        no_browser,
    )


# -- supervision -----------------------------------------------------------------------------
@click.command("supervise")
@practice_option
@click.argument("handle")
@click.argument("name")
@pass_vault
def supervise_cmd(vault: Vault, handle: str, name: str) -> None:
    """Give your supervisor read access; your signed notes then wait for their co-signature."""
    client_id, supervisor = vault.resolve(handle), vault.trust.colleague(name)
    supervision.supervise(vault, unlock(vault), client_id, supervisor)
    click.echo(
        f"{supervisor.name} supervises client {client_id}; "
        "`casenotes status` lists notes awaiting co-signature"
    )


@click.command("cosign")
@practice_option
@click.argument("note_id", metavar="NOTE")
@click.option("--yes", is_flag=True, help="Co-sign without showing the note and asking (for scripts).")
@pass_unlocked
def cosign_cmd(vault: Vault, supervisor: Practitioner, note_id: str, yes: bool) -> None:
    """Co-sign a supervisee's signed note (by its id): shows the note, then asks."""
    if not yes:
        # What is co-signed is read first: a co-signature is the supervisor's word on this text.
        client_id = supervision.check_supervisor(vault, supervisor, note_id)
        [note] = vault.read_notes(supervisor, client_id, note_id)
        click.echo(bytes(note.body).decode("utf-8", "replace"))
        if not click.confirm(f"Co-sign note {note_id} as shown above?", default=False, err=True):
            raise Failure(
                f"note {note_id} was not co-signed; run `casenotes cosign {note_id}` again when ready"
            )
    supervision.cosign(vault, supervisor, note_id)
    click.echo(f"co-signed note {note_id}")


COMMANDS: list[click.Command] = [
    identity,
    practitioner,
    access_group,
    consent_group,
    share_cmd,
    open_share,
    supervise_cmd,
    cosign_cmd,
]
