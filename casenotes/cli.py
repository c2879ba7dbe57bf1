"""The `casenotes` command line: parse, call one core function, print. Nothing else.

Core packages raise typed errors; this module alone turns them into one sentence on
stderr and an exit code (0 ok, 1 failure, 2 usage or wrong passphrase).
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

import note_templates
import site_builder
import site_builder.theme
from note_templates import TemplateError, read_note
from retention import certificate
from retention import records as retention_facts
from syncd import Daemon, DaemonSettings, SyncdError, service
from syncd.filing import file_note
from vault import (
    DEFAULT_KDF_PROFILE,
    KDF_PROFILES,
    Passphrase,
    VaultError,
    durable,
    verify,
)
from vault.errors import PracticeExists
from vault.sharing import supervision
from vault.store.practice import create_practice

from . import backups, config, doctor, retention_commands, sharing_commands, writing
from .config import ConfigError
from .context import Failure, UsageFailure, ask_passphrase, open_vault, practice, practice_option, stage
from .serving import serve_site

CORE_ERRORS = (VaultError, TemplateError, SyncdError, site_builder.SiteError, ConfigError)


# -- the command tree -------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@practice_option
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or step messages.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """casenotes: encrypted session notes, written in your own editor."""
    ctx.ensure_object(dict).update(debug=debug, quiet=quiet)
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
    passphrase = ask_passphrase(confirm=True, prompt="New passphrase")
    create_practice(p.vault_dir, p.config_dir, passphrase, KDF_PROFILES[kdf]).close()
    p.create_layout()
    click.echo(f"Created a practice in {p.root}")
    click.echo(f"Write notes into {p.inbox}; your device key is in {p.config_dir}.")
    click.echo(f"Retention policy in force: {p.settings().policy().describe()}.")
    click.echo(f"Check that it matches your jurisdiction's rules; change it in {p.settings_file}.")


@cli.group()
def client() -> None:
    """Add, list and show clients."""


@client.command("add")
@practice_option
@click.argument("handle")
@click.option("--name", help="The client's name (stored encrypted).")
@click.option("--dob", type=click.DateTime(["%Y-%m-%d"]), help="Date of birth, YYYY-MM-DD.")
@click.pass_context
def client_add(ctx: click.Context, handle: str, name: str | None, dob: dt.datetime | None) -> None:
    """Add a client under HANDLE, a pseudonym used in notes; prints the client id."""
    vault = open_vault(ctx)
    born = dob.date() if dob else None
    client_id = vault.add_client(
        handle,
        name,
        born.isoformat() if born else None,
        # part of the one step: a client whose retention facts failed is no client at all
        on_created=lambda new_id: retention_facts.register_client(vault, new_id, born),
    )
    click.echo(client_id)


@client.command("close")
@practice_option
@click.argument("handle")
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]), help="The discharge date (default: today).")
@click.pass_context
def client_close(ctx: click.Context, handle: str, day: dt.datetime | None) -> None:
    """Record that a client was discharged: their retention period counts from then."""
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    closed = day.date() if day else vault.clock().date()
    retention_facts.set_closed(vault, client_id, closed)
    click.echo(f"client {client_id} closed on {closed}; `casenotes retention status` shows the due date")


@client.command("reopen")
@practice_option
@click.argument("handle")
@click.pass_context
def client_reopen(ctx: click.Context, handle: str) -> None:
    """Undo `client close`: the client is active again."""
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    retention_facts.set_closed(vault, client_id, None)
    click.echo(f"client {client_id} is active again")


@client.command("list")
@practice_option
@click.pass_context
def client_list(ctx: click.Context) -> None:
    """List every client you can read (asks for the passphrase)."""
    vault = open_vault(ctx)
    practitioner = vault.unlock(ask_passphrase())
    rows = sorted(vault.profiles(practitioner), key=lambda p: p.handle.casefold())
    for profile in rows:
        click.echo(f"{profile.handle:<20} {profile.client_id}  {profile.name or ''}")


@client.command("show")
@practice_option
@click.argument("handle")
@click.pass_context
def client_show(ctx: click.Context, handle: str) -> None:
    """Show one client's profile and how many notes they have."""
    vault = open_vault(ctx)
    practitioner = vault.unlock(ask_passphrase())
    profile = vault.find(practitioner, handle)
    click.echo(f"handle:    {profile.handle}")
    click.echo(f"client id: {profile.client_id}")
    click.echo(f"name:      {profile.name or '-'}")
    click.echo(f"born:      {profile.dob or '-'}")
    click.echo(f"notes:     {len(vault.note_ids(profile.client_id))}")


@cli.command("seal")
@practice_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def seal_cmd(ctx: click.Context, file: Path) -> None:
    """Seal one Markdown note as a new revision in the vault."""
    p = practice(ctx)
    filed = file_note(open_vault(ctx), file, kinds=note_templates.kinds(p.templates_dir))
    sealed, note_id = filed.sealed, filed.sealed.note_id
    if sealed.unchanged:
        click.echo(f"{file} is unchanged since revision {sealed.revision} of note {note_id}")
    else:
        click.echo(f"sealed {file} as revision {sealed.revision} of note {note_id}")
    if filed.id_was_assigned:
        click.echo(f"add 'id: {note_id}' to its front matter to seal later saves as revisions", err=True)


@cli.command("cat")
@practice_option
@click.argument("handle")
@click.option("--note", "note_id", metavar="ID", help="Only this note.")
@click.pass_context
def cat(ctx: click.Context, handle: str, note_id: str | None) -> None:
    """Print a client's notes to stdout, newest session first."""
    vault = open_vault(ctx)
    practitioner = vault.unlock(ask_passphrase())
    notes = vault.read_notes(practitioner, vault.resolve(handle), note_id)

    def session(note: Any) -> tuple[str, str]:
        try:
            return read_note(note.body, Path(note.note_id)).date.isoformat(), note.sealed_at
        except TemplateError:
            return "", note.sealed_at

    out = sys.stdout.buffer
    for index, note in enumerate(sorted(notes, key=session, reverse=True)):
        if index:
            out.write(b"\n")
        out.write(note.body)
    out.flush()


@cli.command("verify")
@practice_option
@click.pass_context
def verify_cmd(ctx: click.Context) -> None:
    """Check every file in the vault; no passphrase needed."""
    vault = open_vault(ctx)
    problems = verify(vault) + retention_facts.problems(vault) + certificate.problems(vault)
    problems += supervision.problems(vault)
    for problem in problems:
        click.echo(f"casenotes: {problem}", err=True)
    if problems:
        raise Failure(f"{len(problems)} problem(s) in {vault.root}; restore the named files from a backup")
    click.echo(f"vault OK: {len(vault.client_ids())} clients, every revision intact and signed")


@cli.group()
def audit() -> None:
    """Show and verify the audit log."""


@audit.command("show")
@practice_option
@click.pass_context
def audit_show(ctx: click.Context) -> None:
    """Print every audit entry (ids only, never names)."""
    for entry in open_vault(ctx).audit.entries():
        data = " ".join(f"{k}={v}" for k, v in sorted(entry.data.items()))
        click.echo(f"{entry.time}  {entry.device}  #{entry.seq:<5} {entry.event:<18} {data}")


@audit.command("verify")
@practice_option
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check the audit log's chain, signatures and checkpoints."""
    vault = open_vault(ctx)
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
@click.pass_context
def passphrase(ctx: click.Context, kdf: str | None) -> None:
    """Change the passphrase, or its KDF cost (no note is re-encrypted)."""
    vault = open_vault(ctx)
    old = ask_passphrase(prompt="Current passphrase")
    if config.passphrase_from_env() is not None:
        raise UsageFailure("set the new passphrase at the prompt, not through CASENOTES_PASSPHRASE")
    new = ask_passphrase(confirm=True, prompt="New passphrase")
    vault.change_passphrase(old, new, KDF_PROFILES[kdf] if kdf else None)
    click.echo("passphrase changed")


@cli.command("syncd")
@practice_option
@click.option("--once", is_flag=True, help="Process the inbox and every due job, then exit.")
@click.option("--polling", is_flag=True, help="Poll instead of inotify (network or synced folders).")
@click.option("--install", is_flag=True, help="Install a per-user service that starts syncd at login.")
@click.pass_context
def syncd_cmd(ctx: click.Context, once: bool, polling: bool, install: bool) -> None:
    """The daemon: seal every save in the inbox, run backups and retention on schedule."""
    p = practice(ctx)
    if install:
        command = [sys.executable, "-m", "casenotes", "--practice", str(p.root), "syncd"]
        env = {"CASENOTES_CONFIG_DIR": str(p.config_dir)}
        path, enable = service.install(sys.platform, Path.home(), command, env, p.state_dir / "service.log")
        click.echo(f"wrote {path}\nenable it with: {enable}")
        return
    settings = p.settings()
    vault = open_vault(ctx)
    log_to(p.state_dir / "syncd.log", ctx.find_root().obj.get("debug", False))
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
            f"sealed {summary.sealed} revision(s), removed {summary.removed} signed or parked plaintext(s)"
        )
        for problem in summary.problems:
            click.echo(f"casenotes: {problem}", err=True)
        if summary.left:  # exit 1: a script (cron, a login hook) can tell that notes need you
            raise Failure(
                f"{len(summary.left)} note(s) left in the inbox unsealed ({', '.join(summary.left)}); "
                "`casenotes status` says why for each"
            )
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: daemon.stop())
    daemon.run(ready=lambda how: logging.getLogger("syncd").info("watching %s (%s)", p.inbox, how))


class LogFile(logging.handlers.RotatingFileHandler):
    """syncd's log file. When the disk refuses a write (full, gone), it says so once on
    stderr, in one line and without logging's "--- Logging error ---" traceback, and drops
    lines until a write succeeds again; the terminal's copy of the log carries on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8", delay=True)
        self.failing = False
        self._failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if self.failing and not self._failed_now:
            self.failing = False
            click.echo(f"casenotes: {self.baseFilename} is written to again", err=True)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._failed_now = True
        if not self.failing:
            self.failing = True
            why = error.strerror or type(error).__name__
            click.echo(
                f"casenotes: {self.baseFilename}: {why}; syncd logs to the terminal only until it can "
                "write there again (free some disk space)",
                err=True,
            )


def log_to(path: Path, debug: bool = False) -> None:
    """syncd logs to stderr and to a rotating file beside the inbox; never note text."""
    durable.make_dirs(path.parent)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(), LogFile(path)]
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


@cli.command("open")
@practice_option
@click.argument("handle")
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
    p = practice(ctx)
    minutes = idle_timeout or p.settings().idle_timeout_minutes
    vault = open_vault(ctx)
    client_id = vault.resolve(handle)
    practitioner = vault.unlock(ask_passphrase())
    vault.keyring.client_keys(practitioner, client_id)  # no access: say so before any work
    serve_site(
        vault,
        lambda directory: site_builder.build_site(
            vault, practitioner, client_id, handle, directory, include_psychotherapy_notes, stage
        ),
        {"client": client_id},
        minutes,
        no_browser,
    )


@cli.command("doctor")
@practice_option
@click.pass_context
def doctor_cmd(ctx: click.Context) -> None:
    """A privacy and health checkup: one line per check, and what to do."""
    p = practice(ctx)
    findings = doctor.run_checks(open_vault(ctx), p, config.ram_dirs())
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
@click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser.")
@click.option(
    "--idle-timeout", type=click.FloatRange(min=0.05), default=15.0, metavar="MIN", show_default=True
)
def demo(keep: Path | None, no_browser: bool, idle_timeout: float) -> None:
    """A fictional practice, sealed through syncd, and one client's timeline opened."""
    from .demo import DEMO_PASSPHRASE, demo_root, make_demo

    root = demo_root(keep)
    try:
        made = make_demo(root, click.echo)
        with made.vault as vault:
            practitioner = vault.unlock(Passphrase(DEMO_PASSPHRASE))
            client_id = vault.resolve(made.handle)
            click.echo(f"Opening the timeline of {made.handle}; Ctrl-C closes it and wipes the site.")
            serve_site(
                vault,
                lambda directory: site_builder.build_site(
                    vault, practitioner, client_id, made.handle, directory
                ),
                {"client": client_id},
                idle_timeout,
                no_browser,
            )
        if keep:
            click.echo(
                f"Explore it: export CASENOTES_HOME={root} CASENOTES_CONFIG_DIR={made.practice.config_dir}"
            )
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
            click.echo("The demo practice is deleted; `casenotes demo --keep DIR` keeps one.")


for command in [
    *writing.COMMANDS,
    *backups.COMMANDS,
    *retention_commands.COMMANDS,
    *sharing_commands.COMMANDS,
]:
    cli.add_command(command)


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
            traceback.print_exc()
        click.echo(f"casenotes: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # what the core did not type: still one sentence, never a traceback
        if debug:
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
