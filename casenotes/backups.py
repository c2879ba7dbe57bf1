"""`casenotes backup run | list | verify | restore` and `casenotes device register`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import click

from retention.purge import finish_pending
from syncd import Job
from vault import Vault, durable
from vault.backup.generations import KeepPolicy, to_keep
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage, TargetUnavailable, storage_for
from vault.errors import DeviceMissing, NotAPractice
from vault.store.practice import register_device

from .config import Practice, Settings
from .context import Failure, ask_passphrase, open_vault, practice, practice_option, progress_bar


def targets(p: Practice, chosen: str | None = None) -> list[BackupTarget]:
    """The targets of casenotes.yml (or the one named): folders or rclone remotes."""
    specs = [chosen] if chosen else p.backup_targets()
    return [BackupTarget(storage_for(spec, p.root), p.state_dir) for spec in specs]


def on_same_disk(target: BackupTarget, p: Practice) -> bool:
    storage = target.storage
    return isinstance(storage, FolderStorage) and storage.path.resolve().is_relative_to(p.root.resolve())


def warn_rolled_back(target: BackupTarget) -> None:
    problem = target.rolled_back()
    if problem:
        click.echo(
            f"casenotes: warning: {problem}; keep this target aside and restore from another", err=True
        )


@click.group()
def backup() -> None:
    """Snapshots of the vault on backup targets."""


@backup.command("run")
@practice_option
@click.option("--to", "target", metavar="TARGET", help="Only this target.")
@click.pass_context
def backup_run(ctx: click.Context, target: str | None) -> None:
    """Take a snapshot on every target (only what changed is copied)."""
    p = practice(ctx)
    vault = open_vault(ctx)
    failed = 0
    for destination in targets(p, target):
        try:
            with progress_bar(f"backing up to {destination}") as step:
                # a purge that happened while it was away (another device's: if agreed here)
                finish_pending(vault, [destination], p.settings().policy())
                snap = vault.backup(destination, step)
        except TargetUnavailable as exc:
            click.echo(f"casenotes: {exc}", err=True)
            failed += 1
            continue
        click.echo(f"snapshot {snap.name}: {snap.count} files, {snap.size / 1e6:.1f} MB, on {destination}")
        if on_same_disk(destination, p):
            click.echo(
                "note: this target is on the same disk as the practice; add an external drive to "
                "backup_targets in casenotes.yml for a real backup",
                err=True,
            )
    if failed:
        raise Failure(f"{failed} backup target(s) could not be written; nothing there was changed")


@backup.group("target")
def backup_target() -> None:
    """The targets backups go to (casenotes.yml: backup_targets)."""


@backup_target.command("add")
@practice_option
@click.argument("spec", metavar="PATH|rclone:REMOTE:PATH")
@click.pass_context
def backup_target_add(ctx: click.Context, spec: str) -> None:
    """Add a target: a folder (an external drive, a NAS) or an rclone remote."""
    p = practice(ctx)
    vault = open_vault(ctx)
    settings = p.settings()
    if spec in settings.backup_targets:
        raise Failure(f"{spec} is already a backup target")
    targets(p, spec)[0].open(vault.practice_id, create=True)  # reachable and ours, or say so now
    durable.replace(
        p.settings_file,
        dataclasses.replace(settings, backup_targets=(*settings.backup_targets, spec)).to_yaml().encode(),
    )
    click.echo(f"added backup target {spec}; `casenotes backup run` (or syncd, daily) fills it")


@backup.command("list")
@practice_option
@click.option("--from", "target", metavar="TARGET", help="Only this target.")
@click.pass_context
def backup_list(ctx: click.Context, target: str | None) -> None:
    """List the snapshots on each target."""
    p = practice(ctx)
    vault = open_vault(ctx)
    for destination in targets(p, target):
        store = destination
        store.open(vault.practice_id, create=False)
        click.echo(f"{destination}:")
        warn_rolled_back(store)
        for name in store.snapshots():
            snap = store.load(name, vault.trust.device_keys())
            click.echo(f"  {snap.name}  {snap.count:>7} files  {snap.size / 1e6:8.1f} MB")


@backup.command("verify")
@practice_option
@click.option("--full", is_flag=True, help="Re-read and re-hash every object.")
@click.option("--from", "target", metavar="TARGET", help="Only this target.")
@click.pass_context
def backup_verify(ctx: click.Context, full: bool, target: str | None) -> None:
    """Check every snapshot's signature and that every object it names is stored (--full:
    also re-read and re-hash every object's bytes, which only --full does)."""
    p = practice(ctx)
    vault = open_vault(ctx)
    problems = []
    for destination in targets(p, target):
        store = destination
        store.open(vault.practice_id, create=False)
        with progress_bar(f"checking {destination}") as step:
            found = store.verify(vault.trust.device_keys(), full, step)
        problems += found
        click.echo(f"{destination}: {len(store.snapshots())} snapshot(s), {'damaged' if found else 'OK'}")
    if not full:  # say what was not looked at: a flipped byte inside an object is found by --full only
        click.echo(
            "checked: each snapshot's signature and that every object it names is stored; not checked: "
            "the objects' own bytes (`casenotes backup verify --full` re-reads and re-hashes them)"
        )
    for problem in problems:
        click.echo(f"casenotes: {problem}", err=True)
    if problems:
        raise Failure(
            f"{len(problems)} problem(s) in the backups; take a new backup and keep the damaged target aside"
        )


@backup.command("restore")
@practice_option
@click.argument("snapshot")
@click.argument("into", type=click.Path(path_type=Path, file_okay=False))
@click.option("--from", "target", metavar="TARGET", help="The target to restore from.")
@click.pass_context
def backup_restore(ctx: click.Context, snapshot: str, into: Path, target: str | None) -> None:
    """Restore SNAPSHOT into INTO, a new practice folder (vault, empty inbox, settings).

    Works on a new machine too, with only the backup drive: give --from, then run
    `casenotes --practice INTO device register`.
    """
    p = practice(ctx)
    try:
        vault: Vault | None = open_vault(ctx)
    except (NotAPractice, DeviceMissing):
        vault = None
        if target is None:
            raise Failure(
                "there is no practice here to find the backup targets in: give --from TARGET"
            ) from None
    store = targets(p, target)[0]
    store.open(vault.practice_id if vault else store.practice_id(), create=False)
    warn_rolled_back(store)
    snap = store.load(store.find(snapshot), vault.trust.device_keys() if vault else None)
    restored = Practice(into.absolute(), p.config_dir)
    # The folders and settings first, each kept if a killed restore made it: the vault,
    # renamed into place whole, is the last thing to appear, so a rerun just works.
    durable.make_dirs(restored.inbox)
    if not restored.settings_file.exists():
        durable.write_new(restored.settings_file, Settings().to_yaml().encode())
    with progress_bar(f"restoring {snap.name}") as step:
        store.restore(snap, restored.vault_dir, step)
    if vault:
        vault.record_restore(snap.name)
        click.echo(
            f"restored snapshot {snap.name} into {into}; "
            f"read it with `casenotes --practice {into} cat HANDLE`"
        )
    else:
        click.echo(
            f"restored snapshot {snap.name} into {into}; now register this machine: "
            f"`casenotes --practice {into} device register`, then `casenotes --practice {into} verify`"
        )


@backup.command("prune")
@practice_option
@click.option("--dry-run", is_flag=True, help="Only say what would be dropped.")
@click.pass_context
def backup_prune(ctx: click.Context, dry_run: bool) -> None:
    """Keep the generations casenotes.yml asks for (keep_daily, ...), drop the rest."""
    p = practice(ctx)
    vault = open_vault(ctx)
    s = p.settings()
    policy = KeepPolicy(int(s.keep_daily), int(s.keep_weekly), int(s.keep_monthly), int(s.keep_yearly))
    for store in targets(p):
        store.open(vault.practice_id, create=False)
        with vault.backup_lock():  # collecting must not take the packs a running backup just wrote
            dropped, removed = store.prune(
                lambda times: to_keep(times, policy), vault.device, vault.trust.device_keys(), dry_run
            )
        verb = "would drop" if dry_run else "dropped"
        click.echo(
            f"{store}: {verb} {len(dropped)} snapshot(s)" + ("" if dry_run else f", {removed} object(s)")
        )
        for name in dropped:
            click.echo(f"  {name}")
    if not dry_run:
        vault.audit.append("backup-prune")


@click.group()
def device() -> None:
    """This machine's device key."""


@device.command("register")
@practice_option
@click.pass_context
def device_register(ctx: click.Context) -> None:
    """Register this machine for a restored or copied vault (asks for the passphrase)."""
    p = practice(ctx)
    vault = register_device(p.vault_dir, p.config_dir, ask_passphrase())
    vault.close()
    click.echo(f"this machine is now device {vault.device.device_id} of the practice in {p.root}")


def jobs(p: Practice, vault: Vault) -> list[Job]:
    """syncd's backup jobs: a snapshot on every target daily, a full verify weekly.

    A job that raises is retried with backoff and not recorded as done, so an unplugged
    drive or an unreachable share is tried again until a snapshot is really taken.
    """

    def run_all() -> None:
        failed = []
        for target in targets(p):
            try:
                finish_pending(vault, [target], p.settings().policy())
                vault.backup(target)
            except TargetUnavailable as exc:
                failed.append(str(exc))
        if failed:
            raise TargetUnavailable("; ".join(failed), "see above")

    def verify_all() -> None:
        problems = []
        for store in targets(p):
            store.open(vault.practice_id, create=False)
            problems += store.verify(vault.trust.device_keys(), full=True)
        if problems:
            raise TargetUnavailable("; ".join(map(str, problems)), "damaged")

    return [
        Job("backup", dt.timedelta(hours=24), run_all, at=p.settings().backup_time),
        Job("backup-verify", dt.timedelta(days=7), verify_all),
    ]


COMMANDS = [backup, device]
