"""`casenotes todo [HANDLE]`: what needs the practitioner.

Without HANDLE it reads no note: the drafts in the inbox, the drafts syncd parked (their
sealed headers say whether they are still unsigned), the co-signatures awaited, and the
clients' requests near or past their legal deadline (their sealed facts, vault/rights/). Plan
reviews, objectives, homework and risk levels are inside notes, and no index of them is
kept: `todo HANDLE` decrypts that one client's notes (audited, as `open` does) to list them.
"""

from __future__ import annotations

import datetime as dt
import time

import click

from vault import Vault

from .completion import handles
from .context import pass_vault, practice, practice_option, unlock


def _inbox_drafts(ctx: click.Context, handle: str | None, sealed: set[str]) -> list[str]:
    """Each note in the inbox not yet signed (or signed and not yet sealed), oldest first;
    none already in ``sealed`` (the client's record lists those)."""
    import note_templates
    from note_templates import NoteInvalid
    from syncd.editors import Kind, classify, inbox_files
    from syncd.filing import read_note_bytes

    from .writing import age_in_words

    p = practice(ctx)
    found: list[tuple[float, str]] = []
    for path in inbox_files(p.inbox):
        rel = path.relative_to(p.inbox)
        if classify(rel) is not Kind.NOTE:
            continue
        try:
            meta = note_templates.parse(read_note_bytes(path), path)[0]
        except (NoteInvalid, OSError):
            continue  # `casenotes status` says what is wrong with it
        if handle is not None and str(meta.get("client", "")).strip() != handle:
            continue
        if str(meta.get("id")) in sealed:
            continue
        age = time.time() - path.lstat().st_mtime
        state = "signed, not sealed yet" if meta.get("status") == "signed" else "draft, not signed"
        found.append((age, f"{rel} ({state}; last saved {age_in_words(age)} ago)"))
    return [line for _, line in sorted(found, reverse=True)]


def _parked(ctx: click.Context, vault: Vault) -> list[str]:
    """Drafts syncd took out of the inbox (sealed, unsigned): from its state, each checked
    against the vault's header (signed since, or gone, it is not listed)."""
    from syncd.state import State
    from vault.errors import VaultError

    p = practice(ctx)
    state = State.load(p.state_dir / "state.json")
    found = []
    for rel, status in sorted(state.files.items()):
        if status.state != "parked" or not status.note_id:
            continue
        try:
            client_id = vault.locate_note(status.note_id)
            _, _, path = vault.revisions(client_id, status.note_id)[-1]
            if vault.load(path).header.final:
                continue
        except (VaultError, IndexError, OSError):
            continue
        found.append(f"{rel}: parked draft, not signed (`casenotes edit {status.note_id}` brings it back)")
    return found


def _awaiting(vault: Vault, client_id: str | None, dates: dict[str, str]) -> list[str]:
    from vault.sharing import supervision
    from vault.store import facts_index

    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    index = facts_index.load(vault)  # only the clients a `supervise` entry names are looked at
    found = supervision.awaiting(vault, index.supervised)
    facts_index.save(vault, index)
    return [
        f"note {a.note_id}{dates.get(a.note_id, '')}: "
        f"awaiting co-signature by {names.get(a.supervisor, a.supervisor)}"
        for a in found
        if client_id is None or a.client_id == client_id
    ]


def _client(vault: Vault, handle: str) -> tuple[list[str], dict[str, str], str]:
    """The client's own list (site_builder.todo), its notes' dates by id, and its id."""
    from site_builder.pages import TITLES
    from site_builder.site import load_timeline
    from site_builder.todo import HEADINGS, needs

    client_id = vault.resolve(handle)
    practitioner = unlock(vault)
    timeline = load_timeline(vault, practitioner, client_id, handle, include_psychotherapy=False)
    found = needs(timeline)
    lines = []
    for what, heading in HEADINGS.items():
        items = [item for item in found if item.what == what]
        if items:
            lines.append(f"{heading}:")
            lines += [
                f"  {item.text}" + (f" (note {item.entry.note_id})" if item.entry else "") for item in items
            ]
    dates = {e.note_id: f" ({TITLES.get(e.kind, e.kind)} of {e.date:%d %b %Y})" for e in timeline.entries}
    return lines, dates, client_id


def _requests(vault: Vault, client_id: str | None) -> list[str]:
    """Clients' requests near (NEAR_DAYS) or past their legal deadline: from the audit log's
    sealed facts, no passphrase needed (vault/rights/requests.py)."""
    from vault.rights import requests

    today = vault.clock().astimezone().date()
    found = []
    for r in requests.load(vault, client_id):
        if not r.urgent(today):
            continue
        who = "" if client_id else f" of client {r.client_id}"
        found.append(
            f"{r.kind} request {r.request_id}{who}: due {r.deadline}, {r.countdown(today)}; {r.left_to_do()}"
        )
    return found


def _recovery(vault: Vault) -> list[str]:
    """The recovery set, if it is older than a key renewal it could not follow (doctor says
    the rest about it)."""
    from checkup.keys import remake_recovery
    from vault.errors import VaultError
    from vault.store import recovery

    try:
        status = recovery.status(vault)
    except VaultError:
        return []  # `casenotes doctor` and `verify` name what is wrong with it
    if status is None or not status.outdated_since:
        return []
    return [
        f"your recovery set is older than your key renewal of {status.outdated_since[:10]}: its shares "
        f"open only notes sealed before it; make a new one with `{remake_recovery(status)}`"
    ]


@click.command()
@practice_option
@click.argument("handle", required=False, shell_complete=handles)
@pass_vault
@click.pass_context
def todo(ctx: click.Context, vault: Vault, handle: str | None) -> None:
    """What needs you: drafts not signed, co-signatures awaited, clients' requests near or past
    their deadline; with HANDLE, also that
    client's plan reviews and objectives past their date, homework never followed up and
    sessions without a risk level (this reads the client's notes, and asks for the passphrase)."""
    lines: list[str] = []
    dates: dict[str, str] = {}
    client_id = None
    own: list[str] = []
    if handle is not None:
        own, dates, client_id = _client(vault, handle)
    inbox = _inbox_drafts(ctx, handle, set(dates))
    if inbox:
        lines += ["In the inbox, not sealed yet:", *(f"  {line}" for line in inbox)]
    lines += own
    urgent = _requests(vault, None) if handle is None else []  # one client's are in its own list
    if urgent:
        lines += ["Clients' requests near or past their deadline:", *(f"  {line}" for line in urgent)]
    if handle is None:
        lines += [f"Recovery: {line}" for line in _recovery(vault)]
        parked = _parked(ctx, vault)
        if parked:
            lines += ["Parked drafts:", *(f"  {line}" for line in parked)]
    # One client's are in its own list (site_builder.todo): no scan of every client for them.
    awaiting = _awaiting(vault, client_id, dates) if handle is None else []
    if awaiting:
        lines += ["Co-signatures awaited:", *(f"  {line}" for line in awaiting)]
    today = dt.datetime.now().astimezone().date()
    who = handle or "the practice"
    click.echo(f"{who}, {today:%d %b %Y}: " + ("nothing to do" if not lines else "to do"))
    for line in lines:
        click.echo(line)
    if handle is None:
        click.echo(
            "Plan reviews, objectives, homework and risk levels are read from a client's notes: "
            "`casenotes todo HANDLE` lists them for one client."
        )


COMMANDS = [todo]
