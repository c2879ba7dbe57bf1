"""Commands that help a practitioner write: new, edit, addendum, sign, check, status."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import click

import note_templates
from note_templates import (
    CarriedForward,
    NoteInvalid,
    carry_forward,
    read_note,
    ready_to_sign,
    unfinished,
    with_field,
)
from note_templates.schema import NOTE_ID
from note_templates.templates import carried_section, goals_for
from retention.purge import Outlook, glance, outlook
from syncd.editors import Kind, classify, inbox_files
from syncd.filing import read_note_bytes
from syncd.lock import DaemonLock
from syncd.state import JobFailure, State
from vault import Vault, durable
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import TargetUnavailable
from vault.errors import NoteTooLarge, UnknownClient, VaultError
from vault.format.encoding import new_id
from vault.sharing import supervision
from vault.store import forks

from . import backups, safeguards
from .completion import handles, notes
from .config import Practice
from .context import Failure, key_file_path, pass_vault, practice, practice_option, unlock
from .retention_commands import given_handles


def _unique(path: Path) -> Path:
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def _write_draft(inbox: Path, name: str, text: str) -> Path:
    path = _unique(inbox / name)
    if path.name != name:
        # A second session the same day is real (a crisis call, a family session), but so is
        # running `new` twice by mistake: say which file is which, never pick silently.
        click.echo(
            f"casenotes: {name} is already in the inbox; this draft is {path.name} "
            f"(a second note that day; if not, delete {path.name} and go on writing {name})",
            err=True,
        )
    durable.write_new(path, text.encode("utf-8"))
    return path


def _open_editor(path: Path, no_edit: bool) -> None:
    click.echo(str(path))
    if no_edit:
        return
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        click.echo(
            f"casenotes: no editor was opened: neither $VISUAL nor $EDITOR is set. The draft is {path}; "
            "open it in your editor, or set one for next time (e.g. `export EDITOR=nano`)",
            err=True,
        )
        return
    try:
        subprocess.call([*shlex.split(editor), str(path)])  # noqa: S603 (the user's own editor)
    except OSError as exc:
        raise Failure(
            f"could not start your editor {editor!r} ({exc.strerror}); the draft is {path}: "
            "open it yourself, or fix $VISUAL/$EDITOR"
        ) from None


def _warn_if_syncd_stopped(p: Practice, path: Path) -> None:
    if DaemonLock(p.state_dir / "syncd.lock").holder():
        return
    click.echo(
        f"casenotes: syncd is not running, so {path.name} stays unencrypted in the inbox until it is "
        f"sealed: start `casenotes syncd` (or run `casenotes seal {path}` when you are done)",
        err=True,
    )


class TemplateName(click.ParamType):
    """A template's kind name, in any case (`SOAP` is `soap`); completes the practice's templates."""

    name = "template"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        return str(value).strip().casefold()

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        from .completion import template_names

        return [CompletionItem(n) for n in template_names(ctx) if n.startswith(incomplete.casefold())]


TEMPLATE_HELP = (
    f"The kind of note: {', '.join(sorted(note_templates.available()))}"
    " (any case), or your practice's own templates/NAME.md."
)


def _today() -> dt.datetime:
    return dt.datetime.now().astimezone()


def _opened_note(
    vault: Vault, ctx: click.Context, note_id: str
) -> tuple[note_templates.NoteFields, bytes, bool]:
    client_id = vault.locate_note(note_id)
    practitioner = unlock(vault)
    [opened] = vault.read_notes(practitioner, client_id, note_id)
    raw = bytes(opened.body)
    kinds = note_templates.kinds(practice(ctx).templates_dir)
    return read_note(raw, Path(note_id), kinds, sealed=True), raw, opened.final


@click.command()
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option(
    "--template", "kind", type=TemplateName(), default="soap", show_default=True, help=TEMPLATE_HELP
)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Session date (default: today).")
@click.option("--no-edit", is_flag=True, help="Only write the draft and print its path.")
@click.option("--carry", is_flag=True, help="Carry forward current goals and last session's homework.")
@pass_vault
@click.pass_context
def new(
    ctx: click.Context,
    vault: Vault,
    handle: str,
    kind: str,
    day: dt.datetime | None,
    no_edit: bool,
    carry: bool,
) -> None:
    """Start a note for HANDLE from a template, in the inbox; prints its path."""
    p = practice(ctx)
    template = note_templates.get(kind, p.templates_dir)
    client_id = vault.resolve(handle, own=True)
    carried = CarriedForward([], [])
    if carry:
        practitioner = unlock(vault)
        earlier = []
        for opened in vault.read_notes(practitioner, client_id):
            try:
                earlier.append(
                    read_note(
                        bytes(opened.body),
                        Path(opened.note_id),
                        note_templates.kinds(p.templates_dir),
                        sealed=True,
                    )
                )
            except NoteInvalid:
                continue  # an old note that no longer passes today's rules carries nothing
    now = _today()
    session = day.date() if day else now.date()
    if carry:
        carried = carry_forward(earlier, on=session)
    path = start_draft(p, handle, template, session, now, carried)
    _warn_if_syncd_stopped(p, path)
    _open_editor(path, no_edit)


def start_draft(
    p: Practice,
    handle: str,
    template: note_templates.Template,
    session: dt.date,
    now: dt.datetime,
    carried: CarriedForward | None = None,
) -> Path:
    """A new draft for HANDLE from TEMPLATE, written durably into the inbox; its path."""
    carried = carried or CarriedForward([], [])
    text = note_templates.render(
        template,
        {
            "id": new_id(),
            "client": handle,
            "date": session.isoformat(),
            "time": now.strftime("%H:%M") if session == now.date() else "",
            "title": f"{template.kind.title}, {session:%d %b %Y}",  # one date format everywhere
            "goals": goals_for(template.kind, carried.goals),
            "carried": carried_section(carried.homework),
        },
    )
    if session != now.date():
        # Back-dated: the time of typing is not the session's; left empty, asked for at signing.
        text = re.sub(r'(?m)^time: *""[ \t]*$', "time:", text)
    return _write_draft(p.inbox, f"{session.isoformat()}-{handle}-{template.kind.name}.md", text)


@click.command()
@practice_option
@click.argument("note_id", metavar="NOTE", shell_complete=notes)
@click.option("--no-edit", is_flag=True, help="Only bring it back and print its path.")
@pass_vault
@click.pass_context
def edit(ctx: click.Context, vault: Vault, note_id: str, no_edit: bool) -> None:
    """Bring a sealed (parked) draft back into the inbox to go on writing it."""
    p = practice(ctx)
    fields, raw, final = _opened_note(vault, ctx, note_id)
    if final:
        raise Failure(
            f"note {note_id} is signed and cannot change: "
            f"start an addendum with `casenotes addendum {note_id}`"
        )
    for path in inbox_files(p.inbox):
        if (
            classify(path.relative_to(p.inbox)) is Kind.NOTE
            and f"id: {note_id}".encode() in path.read_bytes()
        ):
            raise Failure(f"note {note_id} is already in the inbox: {path}")
    if fields.note_id is None:
        raw = with_field(raw, "id", note_id)  # so the daemon files later saves under the same note
    name = f"{fields.date.isoformat()}-{fields.client}-{fields.kind or 'note'}.md"
    _open_editor(_write_draft(p.inbox, name, raw.decode("utf-8")), no_edit)


@click.command()
@practice_option
@click.argument("note_id", metavar="NOTE", shell_complete=notes)
@click.option("--no-edit", is_flag=True, help="Only write the draft and print its path.")
@pass_vault
@click.pass_context
def addendum(ctx: click.Context, vault: Vault, note_id: str, no_edit: bool) -> None:
    """Start an addendum to a signed note (the note itself never changes)."""
    path, _ = start_addendum(ctx, vault, note_id)
    _open_editor(path, no_edit)


def start_addendum(ctx: click.Context, vault: Vault, note_id: str) -> tuple[Path, str]:
    """A draft addendum to the signed note ``note_id``, in the inbox: its path and id."""
    p = practice(ctx)
    fields, _, final = _opened_note(vault, ctx, note_id)
    if not final:
        raise Failure(f"note {note_id} is not signed yet: change it directly with `casenotes edit {note_id}`")
    now = _today()
    addendum_id = new_id()
    text = note_templates.render(
        note_templates.get("addendum", p.templates_dir),
        {
            "id": addendum_id,
            "client": fields.client,
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M"),
            "amends": note_id,
            "amends_date": f"{fields.date:%d %b %Y}",  # as `new` titles a note, as the site dates
        },
    )
    return _write_draft(p.inbox, f"{now.date().isoformat()}-{fields.client}-addendum.md", text), addendum_id


def _inbox_note(p: Practice, note: str) -> Path:
    """The draft NOTE names: a path, a file name in the inbox, or a note id."""
    given = Path(note).expanduser()
    if given.exists() or given.is_symlink():
        return given
    if (p.inbox / note).exists():
        return p.inbox / note
    if NOTE_ID.match(note):
        for path in inbox_files(p.inbox):
            if classify(path.relative_to(p.inbox)) is Kind.NOTE and re.search(
                rf"(?m)^id: *{note}\s*$", path.read_bytes().decode("utf-8", "replace")
            ):
                return path
        raise Failure(
            f"no draft with id {note} in {p.inbox}: if syncd parked it, "
            f"bring it back with `casenotes edit {note}`, then sign it"
        )
    return given  # read_note_bytes says the file does not exist, and where


@click.command()
@practice_option
@click.argument("note", metavar="NOTE", shell_complete=notes)
@click.pass_context
def sign(ctx: click.Context, note: str) -> None:
    """Sign a draft without opening it (sets `status: signed`).

    NOTE is the draft's path, its file name in the inbox, or its note id. A note whose
    required sections are blank or still the template's prompts, or a session note with
    no risk assessment, is refused: a signed note can never change.
    """
    p = practice(ctx)
    path = _inbox_note(p, note)
    raw = read_note_bytes(path)
    kinds = note_templates.kinds(p.templates_dir)
    read_note(raw, path, kinds)  # never sign a note that would not seal
    ready_to_sign(raw, path, kinds)
    durable.replace(path, with_field(raw, "status", "signed"))
    running = DaemonLock(p.state_dir / "syncd.lock").holder()
    after = "syncd seals it and removes the plaintext" if running else "run `casenotes syncd` to seal it"
    click.echo(f"signed {path}; {after}")


@click.command()
@practice_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@pass_vault
@click.pass_context
def check(ctx: click.Context, vault: Vault, files: tuple[Path, ...]) -> None:
    """Check notes against their template's rules; prints every problem with its line.

    A draft may be unfinished: sections still blank, or no risk assessment, are warnings
    (what `sign` would refuse). On a note marked signed they are errors.
    """
    p = practice(ctx)
    kinds = note_templates.kinds(p.templates_dir)
    failed = 0
    for path in files:
        todo: list[str] = []
        try:
            raw = read_note_bytes(path)
        except NoteInvalid as exc:
            found = [exc]
        else:
            found = note_templates.check(raw, path, kinds)
            if not found:
                fields = read_note(raw, path, kinds)
                try:
                    vault.resolve(fields.client, own=True)
                except UnknownClient as exc:
                    found = [NoteInvalid(path, fields.line_of("client"), "client", str(exc))]
                left = unfinished(raw, path, kinds)
                from note_templates.signing import measure_risk  # loaded by unfinished already

                review = measure_risk(fields.meta, fields.lines)
                if review is not None and not fields.signed:
                    # `risk: none` against endorsed risk items is wrong now, not merely unfinished
                    left = [u for u in left if u != review]
                    found.append(NoteInvalid(path, review.line, review.field, review.why))
                if fields.signed:
                    found += [NoteInvalid(path, u.line, u.field, u.why) for u in left]
                else:
                    todo = [f"{path}:{u.line}: {u.field} {u.why}" for u in left]
        for problem in found:
            click.echo(f"casenotes: {problem}", err=True)
        for warning in todo:
            click.echo(f"casenotes: warning: {warning} (to write before signing)", err=True)
        if found:
            failed += 1
        elif todo:
            click.echo(f"{path}: OK as a draft; {_count(len(todo), 'warning')} to settle before signing")
        else:
            click.echo(f"{path}: OK")
    if failed:
        raise Failure(
            f"{failed} of {_count(len(files), 'note')} {'has' if failed == 1 else 'have'} problems; "
            "fix the lines named above"
        )


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def age_in_words(seconds: float) -> str:
    """How long ago, as a person says it: "just now", "1 minute", "3 hours", "2 days"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return _count(int(seconds // size), unit)
    return "just now"


def ago(seconds: float) -> str:
    words = age_in_words(seconds)
    return words if words == "just now" else f"{words} ago"


def local_time(when: dt.datetime) -> str:
    """A moment in this machine's time zone, to the minute (what the clock on the wall says)."""
    return f"{when.astimezone():%Y-%m-%d %H:%M}"


def _jobs_lines(jobs: dict[str, str], failed: dict[str, JobFailure], now: dt.datetime) -> list[str]:
    """syncd's scheduled jobs in one line (the one run longest ago); a job that failed, never
    ran, or has not run for a day gets a line of its own: a practitioner needs to know the
    daemon keeps up, not seven rows."""
    if not jobs and not failed:
        return ["jobs: none has run yet (syncd runs them)"]
    ran = {name: _moment(last) for name, last in jobs.items()}
    timed = sorted((when, name) for name, when in ran.items() if when is not None)
    lines = []
    if timed:
        oldest, name = timed[0]
        lines.append(
            f"jobs: {len(jobs)} scheduled; the one run longest ago: {name}, "
            f"last ran {local_time(oldest)}, {ago((now - oldest).total_seconds())}"
        )
    alone = {n for when, n in timed[1:] if now - when > dt.timedelta(days=1)}
    alone |= {name for name, when in ran.items() if when is None} | failed.keys()
    return lines + [_job_line(n, jobs.get(n), now, failed.get(n)) for n in sorted(alone)]


def _moment(stamp: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)  # older state files: always UTC


def _job_line(name: str, last: str | None, now: dt.datetime, failed: JobFailure | None = None) -> str:
    ran = _moment(last) if last else None
    done = "never ran to the end" if last is None else f"last ran {last}"
    if ran is not None:
        done = f"last ran {local_time(ran)}, {ago((now - ran).total_seconds())}"
    if failed is None:
        return f"job {name}: {done}"
    at = _moment(failed.at)
    when = f"{local_time(at)}, {ago((now - at).total_seconds())}" if at else failed.at
    return f"job {name}: FAILED {when}: {failed.why}; {done} (syncd tries again)"


@click.command()
@practice_option
@pass_vault
@click.pass_context
def status(ctx: click.Context, vault: Vault) -> None:
    """The inbox at a glance: each draft's state, syncd, and the scheduled jobs."""
    p = practice(ctx)
    state = State.load(p.state_dir / "state.json")
    max_bytes = p.settings().max_note_bytes  # the limit syncd applies
    rows = [("FILE", "CLIENT", "STATE", "AGE")]
    notes: list[str] = []
    for path in inbox_files(p.inbox):
        rel = str(path.relative_to(p.inbox))
        kind = classify(path.relative_to(p.inbox))
        if kind is Kind.IGNORED:
            continue
        known = state.files.get(rel)
        age = age_in_words(time.time() - path.lstat().st_mtime)
        if kind is Kind.RESIDUE:
            rows.append((rel, "-", "residue: editor copy holding plaintext, delete it", age))
            continue
        try:
            raw = read_note_bytes(path, max_bytes)
            meta = note_templates.parse(raw, path)[0]
            client = str(meta.get("client", "?"))
        except NoteInvalid as exc:
            rows.append((rel, "?", f"refused: {exc.why}", age))
            continue
        except NoteTooLarge:
            rows.append((rel, "?", f"refused: larger than {max_bytes} bytes (max_note_mib); split it", age))
            continue
        # A draft is named a draft, never just "sealed": sealed is not signed (issue 30).
        signed = meta.get("status") == "signed"
        if known is None or known.mac != vault.content_mac(raw):
            label = "signed, not sealed yet" if signed else "draft, not sealed yet"
        elif known.state == "sealed":
            label = (
                f"signed, sealed as revision {known.revision}"
                if signed
                else f"draft, sealed as revision {known.revision}, not signed"
            )
        else:
            label = f"{known.state}: {known.reason}" if known.reason else known.state
            if known.reason:
                notes.append(known.reason)
        rows.append((rel, client, label, age))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip())
    if len(rows) == 1:
        click.echo("(the inbox is empty)")
    from .practice_rules import practice_rules  # the vault's rules, as the nightly run's

    # From the status summary while nothing it was made from changed (retention/purge.py).
    at_a_glance = glance(vault, practice_rules(p, vault).policy, vault.clock().date())
    # Needs no passphrase: ids and file names only; and only where two devices sealed.
    for fork in forks.everywhere(vault, clients=at_a_glance.shared):
        click.echo(f"conflict: {forks.describe(fork)}")
    holder = DaemonLock(p.state_dir / "syncd.lock").holder()
    click.echo(
        f"\nsyncd: {'running, PID ' + holder if holder else 'not running (start it with `casenotes syncd`)'}"
    )
    now = dt.datetime.now(dt.UTC)
    for line in _jobs_lines(state.jobs, state.failed, now):  # a job that never succeeded too
        click.echo(line)
    for target in backups.targets(p):
        click.echo(_backup_line(target, backups.on_same_disk(target, p), state.failed.get("backup")))
    seen = at_a_glance.seen
    click.echo(purges_line(vault, p, seen))
    for line in awaiting_lines(vault, at_a_glance.supervised):
        click.echo(line)
    # What protects the records (issue 30, item 8): nothing here decrypts a note.
    click.echo(safeguards.holds_line(seen, lambda: _handles_if_unlocked(vault)))
    click.echo(safeguards.recovery_line(vault))
    click.echo(safeguards.key_file_line(vault, key_file_path()))


def _handles_if_unlocked(vault: Vault) -> dict[str, str]:
    """Handles when the key unlocks with what was given; else none (the key file away, say):
    the holds line then counts, and status still says everything else."""
    try:
        return given_handles(vault)
    except (VaultError, Failure):
        return {}


def _backup_line(target: BackupTarget, same_disk: bool, failed: JobFailure | None = None) -> str:
    note = " (on the practice's own disk: not yet a real backup)" if same_disk else ""
    try:
        latest = target.snapshots()[-1:]
    except (OSError, TargetUnavailable):
        latest = []
    if not latest:
        return f"backup {target}: none yet{note}; run `casenotes backup run`"
    taken = dt.datetime.strptime(latest[0][:18] + "+0000", "%Y-%m-%dT%H%M%SZ%z")
    age = dt.datetime.now(dt.UTC) - taken
    warning = "  WARNING: older than 48 hours" if age > dt.timedelta(hours=48) else ""
    # The run that took it failed on this target after it: not known durable.
    if failed and str(target) in failed.why and (at := _moment(failed.at)) and at >= taken:
        warning = "  WARNING: the backup job failed after taking it; run `casenotes backup run`"
    when = f"last {local_time(taken)}, {ago(age.total_seconds())}"
    return f"backup {target}: {when}{note}{warning}"


COMMANDS = [new, edit, addendum, sign, check, status]


def awaiting_lines(vault: Vault, clients: list[str] | None = None) -> list[str]:
    """Notes awaiting a co-signature, the client named by handle when the passphrase is given
    (`casenotes todo HANDLE` adds each note's date and template). ``clients``: only these."""
    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    found = supervision.awaiting(vault, clients)
    handles = given_handles(vault) if found else {}
    return [
        f"awaiting co-signature by {names.get(a.supervisor, a.supervisor)}: "
        f"note {a.note_id} (client {handles.get(a.client_id, a.client_id)}; "
        f"`casenotes cosign {a.note_id}` shows it)"
        for a in found
    ]


def purges_line(vault: Vault, p: Practice, seen: Outlook | None = None) -> str:
    if seen is None:
        from .practice_rules import practice_rules

        seen = outlook(vault, practice_rules(p, vault).policy, vault.clock().date())
    handles = given_handles(vault) if seen.due or seen.in_notice else {}

    def named(ids: tuple[str, ...]) -> str:
        return f" ({', '.join(handles.get(i, i) for i in ids)})" if handles else ""

    parts = [f"{seen.due} due{named(seen.due_ids)}" if seen.due else "none due"]
    parts += [f"{seen.in_notice} in notice{named(seen.in_notice_ids)}"] if seen.in_notice else []
    parts += [f"{_count(seen.pending, 'shred')} waiting for a backup target"] if seen.pending else []
    parts += [f"{seen.damaged} with damaged retention facts"] if seen.damaged else []
    parts += (
        [
            f"{_count(len(seen.revived), 'folder')} of purged clients that came back from another machine "
            "(`casenotes verify` says what to do)"
        ]
        if seen.revived
        else []
    )
    parts += (
        [f"{len(seen.refused)} purge(s) by another machine refused here (`casenotes verify` says why)"]
        if seen.refused
        else []
    )
    advice = "; `casenotes retention status` lists them" if seen.anything else ""
    return f"purges: {', '.join(parts)}{advice}"
