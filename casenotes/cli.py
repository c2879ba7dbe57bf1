"""The `casenotes` command line: parse, call one core function, print. Nothing else.

Core packages raise typed errors; this module alone turns them into one sentence on
stderr and an exit code (0 ok, 1 failure, 2 usage or wrong passphrase).
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

import site_builder
from note_templates import TemplateError
from syncd.errors import SyncdError
from vault.errors import PracticeExists, TamperedFile, VaultError
from vault.format.constants import DEFAULT_KDF_PROFILE, KDF_PROFILES
from vault.store import resolving

from . import config
from .completion import handles
from .config import ConfigError
from .context import (
    Failure,
    UsageFailure,
    ask_passphrase,
    count,
    key_file_option,
    key_file_path,
    new_key_file,
    open_unlocked,
    open_vault,
    pass_unlocked,
    pass_vault,
    pass_vault_unsynced,
    practice,
    practice_option,
    stage,
    unlock,
)

if TYPE_CHECKING:
    from vault import Vault
    from vault.format.keys import Practitioner

# Each command imports what only it uses, inside its own body or module: a `casenotes seal`
# process must not pay for MkDocs, watchdog, zxcvbn or the backup code (the import test
# in tests/architecture/test_imports.py holds it to that).
CONTEXT_WORDS = ("casenotes", "notes", "therapy", "practice", "client", "session")  # guessed first
CORE_ERRORS = (VaultError, TemplateError, SyncdError, site_builder.SiteError, ConfigError)


# -- the command tree -------------------------------------------------------------------
# Commands defined in other modules, by name: their module is imported only when the
# command is run (or listed by --help), so each command loads only what it uses.
LAZY_COMMANDS = {
    **dict.fromkeys(["new", "edit", "addendum", "sign", "check", "status"], "casenotes.writing"),
    **dict.fromkeys(["backup", "device"], "casenotes.backups"),
    "retention": "casenotes.retention_commands",
    **dict.fromkeys(
        ["identity", "practitioner", "access", "consent", "share", "open-share", "supervise", "cosign"],
        "casenotes.sharing_commands",
    ),
    **dict.fromkeys(["recovery", "custodian"], "casenotes.recovery_commands"),
    "measure": "casenotes.measure_command",
    "todo": "casenotes.todo",
    "export": "casenotes.export_command",
    **dict.fromkeys(["request", "disclosures", "access-report", "amend"], "casenotes.rights_commands"),
}


class LazyGroup(click.Group):
    """A group whose commands in ``LAZY_COMMANDS`` are imported on first use, and whose
    command list shows each description whole, wrapped, never cut at '...'."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in LAZY_COMMANDS:
            return found
        module = importlib.import_module(LAZY_COMMANDS[cmd_name])
        for command in module.COMMANDS:
            if command.name == cmd_name:
                return command
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _print_version(ctx: click.Context, _param: click.Parameter, wanted: bool) -> None:
    """``--version``: the installed package's metadata is read only when asked (importing
    importlib.metadata costs every command tens of milliseconds)."""
    if not wanted or ctx.resilient_parsing:
        return
    import importlib.metadata

    try:
        found = importlib.metadata.version("casenotes")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        found = "unknown (not installed)"
    click.echo(f"casenotes {found}")
    ctx.exit()


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "\b\nTab completion of commands, options, templates, and the handles and note ids of inbox drafts:\n"
        '  bash, in ~/.bashrc:  eval "$(_CASENOTES_COMPLETE=bash_source casenotes)"\n'
        '  zsh, in ~/.zshrc:    eval "$(_CASENOTES_COMPLETE=zsh_source casenotes)"\n'
        "  fish:                _CASENOTES_COMPLETE=fish_source casenotes | source"
    ),
)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@practice_option
@key_file_option
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or step messages.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """casenotes: encrypted session notes, written in your own editor."""
    ctx.ensure_object(dict).update(debug=debug, quiet=quiet)
    config.take_passphrase_from_env()  # before any editor, browser or rclone is started
    # A crashed `open` leaves its RAM directory behind; whoever runs next removes it.
    site_builder.sweep([*config.ram_dirs(), Path(tempfile.gettempdir())])


@cli.command()
@practice_option
@click.option(
    "--kdf",
    type=click.Choice(sorted(KDF_PROFILES)),
    default=DEFAULT_KDF_PROFILE,
    show_default=True,
    help="How hard the passphrase is to guess by brute force (and how slow unlocking is).",
)
@click.pass_context
def init(ctx: click.Context, kdf: str) -> None:
    """Create a practice: inbox/, vault/ and casenotes.yml."""
    p = practice(ctx)
    if p.settings_file.exists() or (p.vault_dir / "practice.json").exists():
        raise PracticeExists(p.root)
    from vault.store.practice import create_practice

    from . import passphrases

    passphrase = passphrases.ask_new(context=CONTEXT_WORDS)
    create_practice(p.vault_dir, p.config_dir, passphrase, KDF_PROFILES[kdf]).close()
    p.create_layout()
    click.echo(f"Created a practice in {p.root}")
    click.echo(f"Write notes into {p.inbox}; your device key is in {p.config_dir}.")
    click.echo(f"Retention policy in force: {p.settings().policy().describe()}.")
    click.echo(
        "Check that it matches your jurisdiction's rules; change it with "
        "`casenotes retention rules set KEY VALUE` (docs/retention.md)."
    )


@cli.group()
def sync() -> None:
    """Replicating the vault between machines with a sync engine (docs/sharing.md)."""


@sync.command("ignore")
@practice_option
@pass_vault
def sync_ignore(vault: Vault) -> None:
    """Write vault/.stignore, what Syncthing must not carry between the machines."""
    from vault.store.practice import write_sync_ignore

    path = write_sync_ignore(vault.root)
    click.echo(f"Wrote {path}; share {path.parent} only, never the practice folder")


@cli.group()
def client() -> None:
    """Add, list and show clients."""


@client.command("add")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option(
    "--name", help="The client's name (stored encrypted); '-' asks for it (or reads standard input)."
)
@click.option("--dob", metavar="YYYY-MM-DD", help="Date of birth; '-' asks for it (or reads standard input).")
@click.pass_context
def client_add(ctx: click.Context, handle: str, name: str | None, dob: str | None) -> None:
    """Add a client under HANDLE, a pseudonym used in notes; prints the client id.

    `--name - --dob -` asks for the name and birth date (one line each from standard input
    when it is not a terminal): a value on the command line is visible to every user of
    this machine in /proc/*/cmdline, and stays in the shell's history."""
    from retention import records as retention_facts

    if name not in (None, "-"):
        click.echo(
            "casenotes: warning: a name given on the command line is visible to other users of this "
            "machine (and kept in your shell's history); use --name - to type it at a prompt",
            err=True,
        )
    name = _private_value("Name", name)
    dob = _private_value("Date of birth (YYYY-MM-DD)", dob)
    try:
        born = dt.date.fromisoformat(dob) if dob else None
    except ValueError:
        raise UsageFailure("the date of birth must be YYYY-MM-DD (e.g. 1987-03-14)") from None
    vault = open_vault(ctx)
    client_id = vault.add_client(
        handle,
        name,
        born.isoformat() if born else None,
        # part of the one step: a client whose retention facts failed is no client at all
        on_created=lambda new_id: retention_facts.register_client(vault, new_id, born),
    )
    click.echo(client_id)


def _private_value(prompt: str, given: str | None) -> str | None:
    """A value given as '-': asked for at the prompt (on stderr), or else the next line of
    standard input (none left: no value); anything else as it was given."""
    if given != "-":
        return given
    if not sys.stdin.isatty():
        click.echo(f"{prompt}: ", err=True, nl=False)  # a process reading our stderr knows we wait
        return sys.stdin.readline().strip() or None
    try:
        value = click.prompt(prompt, err=True, default="", show_default=False).strip()
    except click.Abort:
        raise UsageFailure(f"no {prompt.split(' (')[0].lower()} given") from None
    return value or None


@client.command("close")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]), help="The discharge date (default: today).")
@pass_vault
def client_close(vault: Vault, handle: str, day: dt.datetime | None) -> None:
    """Record that a client was discharged: their retention period counts from then."""
    from retention import records as retention_facts

    client_id = vault.resolve(handle)
    closed = day.date() if day else vault.clock().date()
    retention_facts.set_closed(vault, client_id, closed)
    click.echo(f"client {client_id} closed on {closed}; `casenotes retention status` shows the due date")


@client.command("reopen")
@practice_option
@click.argument("handle", shell_complete=handles)
@pass_vault
def client_reopen(vault: Vault, handle: str) -> None:
    """Undo `client close`: the client is active again."""
    from retention import records as retention_facts

    client_id = vault.resolve(handle)
    retention_facts.set_closed(vault, client_id, None)
    click.echo(f"client {client_id} is active again")


@client.command("list")
@practice_option
@pass_unlocked
def client_list(vault: Vault, practitioner: Practitioner) -> None:
    """List every client you can read (asks for the passphrase)."""
    rows = sorted(vault.profiles(practitioner), key=lambda p: p.handle.casefold())
    for profile in rows:
        click.echo(f"{profile.handle:<20} {profile.client_id}  {profile.name or ''}")


@client.command("show")
@practice_option
@click.argument("handle", shell_complete=handles)
@pass_unlocked
def client_show(vault: Vault, practitioner: Practitioner, handle: str) -> None:
    """Show one client's profile and how many notes they have."""
    profile = vault.find(practitioner, handle)
    click.echo(f"handle:    {profile.handle}")
    click.echo(f"client id: {profile.client_id}")
    click.echo(f"name:      {profile.name or '-'}")
    click.echo(f"born:      {profile.dob or '-'}")
    click.echo(f"notes:     {len(vault.note_ids(profile.client_id))}")


@cli.command("seal")
@practice_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_vault_unsynced
@click.pass_context
def seal_cmd(ctx: click.Context, vault: Vault, file: Path) -> None:
    """Seal one Markdown note as a new revision in the vault."""
    import note_templates
    from syncd.filing import file_note

    p = practice(ctx)
    # Four fsyncs: the revision, its folder(s), its audit entry. The checkpoint is not
    # fsynced here; the next command or syncd's hourly job makes a durable one.
    filed = file_note(vault, file, kinds=note_templates.kinds(p.templates_dir))
    sealed, note_id = filed.sealed, filed.sealed.note_id
    if sealed.completed:
        click.echo(
            f"{file} was already sealed as revision {sealed.revision} of note {note_id} by a run cut "
            "short; it is now durable and audited"
        )
    elif sealed.unchanged:
        click.echo(f"{file} is unchanged since revision {sealed.revision} of note {note_id}")
    else:
        click.echo(f"sealed {file} as revision {sealed.revision} of note {note_id}")
    if filed.id_was_assigned:
        click.echo(f"add 'id: {note_id}' to its front matter to seal later saves as revisions", err=True)


@cli.command("cat")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option("--note", "note_id", metavar="ID", help="Only this note.")
@click.pass_context
def cat(ctx: click.Context, handle: str, note_id: str | None) -> None:
    """Print a client's notes to stdout, newest session first."""
    from note_templates import read_note

    from . import amended
    from .nodump import no_core_dumps

    no_core_dumps()
    vault, practitioner = open_unlocked(ctx)
    client_id = vault.resolve(handle)
    refused: list[TamperedFile] = []
    notes = vault.read_notes(practitioner, client_id, note_id, refused=refused)
    # The addenda that correct a note are other notes: with --note, this client's are read too.
    # (a damaged one among them is left out here: the note asked for is printed all the same).
    everything = notes if note_id is None else vault.read_notes(practitioner, client_id, damaged=[])
    corrected = amended.correction_lines(everything)
    report_leftovers(vault, client_id)
    for exc in refused:  # a revision its writer was not entitled to: not shown, never silent
        click.echo(f"casenotes: {exc.path}: {exc.why}", err=True)

    def session(note: Any) -> tuple[str, str]:
        try:
            return read_note(note.body, Path(note.note_id), sealed=True).date.isoformat(), note.sealed_at
        except TemplateError:
            return "", note.sealed_at

    from vault.sharing import supervision

    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    names[practitioner.practitioner_id] = "you"
    cosigned = supervision.cosignatures(vault, client_id)
    out = sys.stdout.buffer
    for index, note in enumerate(sorted(notes, key=session, reverse=True)):
        if index:
            out.write(b"\n")
        out.write(note.body)
        out.flush()  # the note, then what is said about it on stderr, in that order on a terminal
        for who, when in cosigned.get(note.note_id, []):
            click.echo(
                f"casenotes: note {note.note_id} is co-signed by {names.get(who, who)} on {when[:10]}",
                err=True,
            )
        for line in corrected.get(note.note_id, []):
            click.echo(f"casenotes: {line}", err=True)
        for sibling in note.siblings:  # a fork: both texts, never one hidden behind the other
            click.echo(
                f"casenotes: note {note.note_id} was changed on two machines while they were apart; "
                f"`casenotes resolve {note.note_id} --keep REVISION` chooses one text",
                err=True,
            )
            out.write(
                f"\n===== note {note.note_id}: also changed on another machine; this is revision "
                f"{sibling.revision:06d}-{sibling.device}, the text above is "
                f"{note.revision:06d}-{note.device}{' (signed)' if note.final else ''} =====\n\n".encode()
            )
            out.write(sibling.body)
    out.flush()


@cli.command("resolve")
@practice_option
@click.argument("note_id", metavar="NOTE")
@click.option(
    "--keep", "keep", metavar="REVISION", help="The revision whose text stays, e.g. 000002-<device>."
)
@pass_vault
def resolve_cmd(vault: Vault, note_id: str, keep: str | None) -> None:
    """Settle a note changed on two machines while apart: keep one text."""
    client_id = vault.locate_note(note_id)
    fork = vault.fork(client_id, note_id)
    if fork is None and resolving.cut_short(vault, client_id, note_id):
        sealed = resolving.finish(vault, unlock(vault), client_id, note_id)
        click.echo(
            f"note {note_id}: finished a resolve cut short; revision {sealed.revision} is durable and audited"
        )
        return
    if fork is None:
        click.echo(f"note {note_id} has no conflict to resolve")
        return
    chosen = [tip for tip in fork.tips if keep and tip.stem.startswith(keep)]
    if len(chosen) != 1:
        tips = ", ".join(tip.stem for tip in fork.tips)
        raise UsageFailure(
            f"choose the text to keep with --keep, one of: {tips} (`casenotes cat` shows both)"
        )
    practitioner = unlock(vault)
    sealed = vault.resolve_fork(practitioner, client_id, note_id, chosen[0])
    click.echo(f"note {note_id}: kept {chosen[0].stem}, sealed as revision {sealed.revision} naming both")


def report_leftovers(vault: Vault, client_id: str | None = None) -> None:
    """Name what holds no data and is skipped: this machine's writes cut short (the sweep
    removes them), and what it cannot prove its own (left alone: a sync engine may fill it)."""
    found = vault.leftovers(client_id)
    for path in found.mine:
        click.echo(
            f"casenotes: {path}: left by a write on this machine that was cut short, holds no note "
            "(skipped); the next `casenotes syncd --once` removes it",
            err=True,
        )
    for path in found.elsewhere:
        click.echo(
            f"casenotes: {path}: holds no note yet (skipped): a sync engine may still be filling it, "
            "or another machine's write was cut short; casenotes leaves it alone (removing it could "
            "remove notes on every machine once synced)",
            err=True,
        )


@cli.command("verify")
@practice_option
@pass_vault
def verify_cmd(vault: Vault) -> None:
    """Check every file in the vault; no passphrase needed."""
    from retention import certificate
    from retention import records as retention_facts
    from vault import verify
    from vault.sharing import supervision
    from vault.store.purged import half_removed
    from vault.store.verify import sync_in_flight

    if half_removed(vault.root):  # a purge cut short after its rename: finished, not left
        from .retention_commands import finish_purges  # only then: verify loads no purge

        finish_purges(vault, refuse=False)
    problems = verify(vault) + retention_facts.problems(vault) + certificate.problems(vault)
    problems += supervision.problems(vault) + retention_facts.refused_facts(vault)
    for problem in problems:
        click.echo(f"casenotes: {problem}", err=True)
    report_leftovers(vault)
    if problems and all(p.missing for p in problems) and sync_in_flight(vault):
        raise Failure(f"{vault.root} is not yet synced: check again once the sync engine is up to date")
    conflicts = [p for p in problems if p.conflict]
    revived = [p for p in problems if p.revived]
    damaged = len(problems) - len(conflicts) - len(revived)
    advice = []
    if conflicts:
        advice.append(f"{len(conflicts)} conflict(s) between machines: resolve each as its line says")
    if revived:
        advice.append(
            f"{len(revived)} purged client(s) whose files came back from another machine: ask the "
            "practitioner whose device wrote them whether a hold or a note was meant to keep the client, "
            f"then delete the folder under {vault.root / 'revived'} on one machine (a backup cannot bring "
            "back what the purge destroyed)"
        )
    if damaged:
        advice.append(f"{damaged} problem(s): restore the named files from a backup")
    if problems:
        raise Failure(f"in {vault.root}: " + "; ".join(advice))
    click.echo(f"vault OK: {len(vault.client_ids())} clients, every revision intact and signed")


@cli.group()
def audit() -> None:
    """Show and verify the audit log."""


@audit.command("show")
@practice_option
@pass_vault
def audit_show(vault: Vault) -> None:
    """Print every audit entry (ids only, never names)."""
    for entry in vault.audit.entries():
        data = " ".join(f"{k}={v}" for k, v in sorted(entry.data.items()))
        click.echo(f"{entry.time}  {entry.device}  #{entry.seq:<5} {entry.event:<18} {data}")


@audit.command("verify")
@practice_option
@pass_vault
def audit_verify(vault: Vault) -> None:
    """Check the audit log's chain, signatures and checkpoints."""
    problems = vault.audit.verify(vault.trust.device_keys())
    for problem in problems:
        click.echo(f"casenotes: {problem}", err=True)
    if problems:
        raise Failure("the audit log was altered; restore it from a backup and keep the altered copy")
    click.echo(f"audit log OK: {sum(1 for _ in vault.audit.entries())} entries")


@cli.command()
@practice_option
@click.option(
    "--kdf", type=click.Choice(list(KDF_PROFILES)), help="Also change the KDF cost (default: keep it)."
)
@click.option(
    "--key-file",
    "new_key_file_path",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="Require this key file besides the passphrase from now on (made from random bytes if PATH "
    "does not exist); the passphrase is kept.",
)
@click.option("--no-key-file", is_flag=True, help="Stop requiring a key file; the passphrase is kept.")
@click.pass_context
def passphrase(
    ctx: click.Context, kdf: str | None, new_key_file_path: Path | None, no_key_file: bool
) -> None:
    """Change the passphrase, its KDF cost, or the key file asked for besides it.

    The current key file, if your key asks for one, comes from the global --key-file
    (before the command) or CASENOTES_KEY_FILE; no note is re-encrypted."""
    if new_key_file_path and no_key_file:
        raise UsageFailure("--key-file and --no-key-file contradict each other: choose one")
    from . import passphrases

    vault = open_vault(ctx)
    old = ask_passphrase(prompt="Current passphrase")
    cost = KDF_PROFILES[kdf] if kdf else None
    if new_key_file_path or no_key_file:
        vault.unlock(old)  # a wrong factor says so before any key file is made
        if no_key_file:
            if not vault.requires_key_file():
                click.echo("no key file was required; nothing was changed")
                return
            renewal = vault.change_passphrase(old, old.with_key_file(None), cost)
            click.echo("a key file is no longer required: the passphrase alone unlocks your key")
            passphrases.tell_renewed(renewal)
            return
        assert new_key_file_path is not None
        key_file, made = new_key_file(new_key_file_path.expanduser().absolute())
        renewal = vault.change_passphrase(old, old.with_key_file(key_file), cost)
        if made:
            click.echo(f"made a new key file {new_key_file_path} (random bytes, mode 0600)")
        click.echo(
            f"your key now asks for the key file {new_key_file_path} besides the passphrase: keep a copy "
            "of it somewhere safe, apart from this machine; `casenotes recovery create` covers losing both"
        )
        passphrases.tell_renewed(renewal)
        from checkup.keys import same_disk

        if same_disk(new_key_file_path, vault.root):
            click.echo(
                f"casenotes: {new_key_file_path} lies on the same disk as the vault: a thief of the disk "
                "gets both; move it to a USB stick and point --key-file or CASENOTES_KEY_FILE at it",
                err=True,
            )
        return
    if config.passphrase_from_env() is not None:
        raise UsageFailure("set the new passphrase at the prompt, not through CASENOTES_PASSPHRASE")
    vault.unlock(old)  # a wrong or damaged key says so before a new passphrase is asked for
    new = passphrases.ask_new(context=CONTEXT_WORDS)
    # the key file stays asked for, as it was: --key-file or --no-key-file change it
    renewal = vault.change_passphrase(
        old, new.with_key_file(old.key_file if vault.requires_key_file() else None), cost
    )
    click.echo("passphrase changed")
    passphrases.tell_renewed(renewal)


@cli.command("syncd")
@practice_option
@click.option("--once", is_flag=True, help="Process the inbox and every due job, then exit.")
@click.option("--polling", is_flag=True, help="Poll instead of inotify (network or synced folders).")
@click.option("--install", is_flag=True, help="Install a per-user service that starts syncd at login.")
@click.option(
    "--launchd",
    is_flag=True,
    help="With --install: write the macOS launchd agent whatever this system is (to look at or copy).",
)
@click.pass_context
def syncd_cmd(ctx: click.Context, once: bool, polling: bool, install: bool, launchd: bool) -> None:
    """The daemon: seal every save in the inbox, run backups and retention on schedule."""
    import logging
    import signal

    import note_templates
    from syncd import Daemon, DaemonSettings, service

    from . import backups, retention_commands
    from .logfile import log_to
    from .service import service_of

    p = practice(ctx)
    if launchd and not install:
        raise UsageFailure("--launchd goes with --install: casenotes syncd --install --launchd")
    if install:
        path, enable = service.install(sys.platform, Path.home(), service_of(p), launchd)
        click.echo(f"wrote {path}\nenable it with: {enable}")
        click.echo(
            "casenotes: the service may write only the practice, the device key's folder and the backup "
            "folders of casenotes.yml; after adding a backup folder, run `casenotes syncd --install` again",
            err=True,
        )
        return
    settings = p.settings()
    vault = open_vault(ctx)
    debug = ctx.find_root().obj.get("debug", False)
    # --once prints its problems itself, once each: its log goes to the file only.
    log_to(p.state_dir / "syncd.log", debug, stderr=debug or not once)
    daemon = Daemon(
        vault,
        p.inbox,
        p.state_dir,
        DaemonSettings(
            quiet_period=settings.quiet_period_seconds,
            draft_ttl=settings.draft_ttl_hours * 3600,
            rescan_every=settings.rescan_seconds,
            max_note_bytes=settings.max_note_bytes,
            polling=polling,
        ),
        jobs=backups.jobs(p, vault) + retention_commands.jobs(p, vault),
        kinds=note_templates.kinds(p.templates_dir),
    )
    if once:
        summary = daemon.run_once()
        click.echo(
            f"sealed {count(summary.sealed, 'revision')}, "
            f"removed {count(summary.removed, 'signed or parked plaintext')}"
        )
        for problem in summary.problems:
            click.echo(f"casenotes: {problem}", err=True)
        for name, why in sorted(summary.failed_jobs.items()):
            click.echo(f"casenotes: job {name} failed: {why}", err=True)
        # exit 1: a script (cron, a login hook) can tell that notes or a job need you
        failed = ", ".join(sorted(summary.failed_jobs))
        jobs = "job" if len(summary.failed_jobs) == 1 else "jobs"
        if summary.left:
            raise Failure(
                f"{count(len(summary.left), 'note')} left in the inbox unsealed ({', '.join(summary.left)}); "
                "`casenotes status` says why for each" + (f"; and {jobs} {failed} failed" if failed else "")
            )
        if failed:
            raise Failure(
                f"{jobs} {failed} failed (see above); the next "
                "`casenotes syncd --once`, or the running syncd, tries again"
            )
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: daemon.stop())
    daemon.run(ready=lambda how: logging.getLogger("syncd").info("watching %s (%s)", p.inbox, how))


@cli.command("open")
@practice_option
@click.argument("handle", shell_complete=handles)
@click.option("--no-browser", is_flag=True, help="Only print the address.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0.05),
    metavar="MIN",
    help="Minutes without a request before the site is wiped.",
)
@click.option("--include-psychotherapy-notes", is_flag=True, help="Show psychotherapy (process) notes too.")
@click.pass_context
def open_cmd(
    ctx: click.Context,
    handle: str,
    no_browser: bool,
    idle_timeout: float | None,
    include_psychotherapy_notes: bool,
) -> None:
    """Show one client's history as a private site on 127.0.0.1, wiped when closed or idle."""
    from .serving import quiet_theme, serve_site

    quiet_theme()

    p = practice(ctx)
    minutes = idle_timeout or p.settings().idle_timeout_minutes
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    # MkDocs loads, then the notes' signatures are checked, while the passphrase is typed and derived
    site_builder.warm_up(then=site_builder.check_ahead(vault, client_id))
    practitioner = unlock(vault)
    vault.keyring.client_keys(practitioner, client_id)  # no access: say so before any work
    serve_site(
        vault,
        lambda directory, on_overview: site_builder.build_site(
            vault, practitioner, client_id, handle, directory, include_psychotherapy_notes, stage, on_overview
        ),
        {"client": client_id},
        minutes,
        no_browser,
        lambda: report_leftovers(vault, client_id),  # after "all pages ready": not on the way to the pages
    )


@cli.command("doctor")
@practice_option
@pass_vault
@click.pass_context
def doctor_cmd(ctx: click.Context, vault: Vault) -> None:
    """A privacy and health checkup: one line per check, and what to do."""
    from . import doctor

    p = practice(ctx)
    findings = doctor.run_checks(vault, p, config.ram_dirs(), config.passphrase_from_env(), key_file_path())
    for finding in findings:
        click.echo(finding.line())
    failed = [f for f in findings if f.status == "fail"]
    if failed:
        raise Failure(f"{len(failed)} check(s) failed; fix those first")


@cli.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Make the demo practice here, and keep it.",
)
@click.option(
    "--client",
    "handle",
    metavar="HANDLE",
    help="The client to open (CL-0001 to CL-0008; the demo lists what each one shows).",
)
@click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser.")
@click.option(
    "--idle-timeout", type=click.FloatRange(min=0.05), default=15.0, metavar="MIN", show_default=True
)
def demo(keep: Path | None, handle: str | None, no_browser: bool, idle_timeout: float) -> None:
    """A fictional practice, sealed through syncd, and one client's timeline opened."""
    import shutil

    from vault import Passphrase

    from .demo import DEMO_PASSPHRASE, UnknownDemoClient, demo_root, invoked_as, make_demo
    from .serving import quiet_theme, serve_site

    quiet_theme()

    prog = invoked_as(sys.argv[0], shutil.which("casenotes"), sys.executable)
    root = demo_root(keep)
    try:
        try:
            made = make_demo(root, click.echo, handle)
        except UnknownDemoClient as exc:
            raise UsageFailure(str(exc)) from None
        click.echo("Its clients (open another with `demo --client HANDLE`):")
        for other, about in made.clients:
            click.echo(f"  {other}  {about}")
        where = "while the site is open" if keep is None else "now or after the site closes"
        click.echo(f"Try the demo practice from another terminal, {where}:")
        click.echo(f"  {made.env_line()} CASENOTES_PASSPHRASE='{DEMO_PASSPHRASE}'")
        click.echo(f"  {prog} retention status")
        click.echo(f"  {prog} open CL-0002 --no-browser")
        with made.vault as vault:
            practitioner = vault.unlock(Passphrase(DEMO_PASSPHRASE))
            client_id = vault.resolve(made.handle)
            click.echo(f"Opening the timeline of {made.handle}; Ctrl-C closes it and wipes the site.")
            serve_site(
                vault,
                lambda directory, on_overview: site_builder.build_site(
                    vault, practitioner, client_id, made.handle, directory, on_overview=on_overview
                ),
                {"client": client_id},
                idle_timeout,
                no_browser,
            )
        if keep:
            click.echo(f"The demo practice stays in {root}. To reach it again:")
            click.echo(f"  {made.env_line()}")
            click.echo(f"  {prog} open {made.handle}      # passphrase: {DEMO_PASSPHRASE}")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
            click.echo("The demo practice is deleted; `casenotes demo --keep DIR` keeps one.")


# -- entry point ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> NoReturn:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="casenotes", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("casenotes: interrupted; nothing was lost", err=True)
        sys.exit(1)
    except CORE_ERRORS as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"casenotes: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # what the core did not type: still one sentence, never a traceback
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"casenotes: {disk_sentence(exc)}", err=True)
        sys.exit(1)
    sys.exit(0)


def disk_sentence(exc: OSError) -> str:
    """An OSError in the words of DESIGN.md section 6: the file, what the system said, the fix."""
    where = exc.filename if exc.filename is not None else "a file of the practice"
    why = exc.strerror or type(exc).__name__
    return (
        f"{where}: {why}; the command stopped there: check the disk (free space, permissions, "
        "still mounted) and run it again"
    )
