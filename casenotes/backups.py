"""`casenotes backup run | list | verify | restore` and `casenotes device register | retire`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from retention.errors import AuditUnverified
from retention.purge import finish_pending
from syncd import Job
from vault import Vault, durable
from vault.backup.generations import KeepPolicy, to_keep
from vault.backup.snapshots import BackupTarget
from vault.backup.storage import FolderStorage, TargetUnavailable, storage_for
from vault.errors import DeviceMissing, NotAPractice
from vault.store import facts_index
from vault.store.practice import register_device

from .config import Practice, Settings
from .context import (
    Failure,
    ask_passphrase,
    open_vault,
    pass_unlocked,
    pass_vault,
    practice,
    practice_option,
    progress_bar,
)
from .practice_rules import practice_rules

if TYPE_CHECKING:
    from vault.format.keys import Practitioner

log = logging.getLogger("syncd")


def targets(p: Practice, chosen: str | None = None) -> list[BackupTarget]:
    """The targets of casenotes.yml (or the one named): folders or rclone remotes."""
    specs = [chosen] if chosen else p.backup_targets()
    return [BackupTarget(storage_for(spec, p.root), p.state_dir) for spec in specs]


def on_same_disk(target: BackupTarget, p: Practice) -> bool:
    """Whether a folder target lies on the disk that holds the practice: inside its folder, or
    anywhere on the same file system (st_dev, as doctor compares the key file): a disk that
    fails, or a laptop that is stolen, takes both."""
    storage = target.storage
    if not isinstance(storage, FolderStorage):
        return False
    path = storage.path.resolve()
    if path.is_relative_to(p.root.resolve()):
        return True
    existing = next((folder for folder in (path, *path.parents) if folder.exists()), None)
    try:
        return existing is not None and existing.stat().st_dev == p.root.stat().st_dev
    except OSError:
        return False  # cannot tell: say nothing rather than cry wolf


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
@pass_vault
@click.pass_context
def backup_run(ctx: click.Context, vault: Vault, target: str | None) -> None:
    """Take a snapshot on every target (only what changed is copied)."""
    p = practice(ctx)
    failed = 0
    index = facts_index.load(vault)  # whether any purge needs finishing, not 4 reads of every log
    for destination in targets(p, target):
        try:
            with progress_bar(f"backing up to {destination}") as step:
                try:  # a purge that happened while it was away (another device's: if agreed here)
                    index.fold_logs(vault.audit.directory, index.key)  # what was written since
                    finish_pending(vault, [destination], practice_rules(p, vault).policy, index)
                except AuditUnverified as exc:  # nothing destroyed; the backup is still taken
                    click.echo(f"casenotes: warning: {exc}", err=True)
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
    facts_index.save(vault, index)  # rewritten only if what it folded changed a fact
    if failed:
        raise Failure(f"{failed} backup target(s) could not be written; nothing there was changed")


@backup.group("target")
def backup_target() -> None:
    """The targets backups go to (casenotes.yml: backup_targets)."""


@backup_target.command("add")
@practice_option
@click.argument("spec", metavar="PATH|rclone:REMOTE:PATH")
@pass_vault
@click.pass_context
def backup_target_add(ctx: click.Context, vault: Vault, spec: str) -> None:
    """Add a target: a folder (an external drive, a NAS) or an rclone remote."""
    p = practice(ctx)
    settings = p.settings()
    if spec in settings.backup_targets:
        raise Failure(f"{spec} is already a backup target")
    targets(p, spec)[0].open(vault.practice_id, create=True)  # reachable and ours, or say so now
    durable.replace(
        p.settings_file,
        dataclasses.replace(settings, backup_targets=(*settings.backup_targets, spec)).to_yaml().encode(),
    )
    click.echo(f"added backup target {spec}; `casenotes backup run` (or syncd, daily) fills it")
    from syncd.service import paths

    if any(path.exists() for path in paths(Path.home())):
        click.echo(
            "casenotes: syncd's service may write only the folders it was installed with: "
            "run `casenotes syncd --install` again (then restart the service) so it reaches this target",
            err=True,
        )


@backup.command("list")
@practice_option
@click.option("--from", "target", metavar="TARGET", help="Only this target.")
@pass_vault
@click.pass_context
def backup_list(ctx: click.Context, vault: Vault, target: str | None) -> None:
    """List the snapshots on each target."""
    p = practice(ctx)
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
@pass_vault
@click.pass_context
def backup_verify(ctx: click.Context, vault: Vault, full: bool, target: str | None) -> None:
    """Check every snapshot's signature and that every object it names is stored (--full:
    also re-read and re-hash every object's bytes, which only --full does)."""
    p = practice(ctx)
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
    # A killed restore's temp files in the new practice's own folder: no one else writes
    # there before the restore is done, so all of them, however young (issue 31 item 14).
    durable.sweep_temps(restored.root, time.time(), older_than=0, skip=_subfolders(restored.root))
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


def _subfolders(root: Path) -> set[str]:
    return {entry.name for entry in root.iterdir() if entry.is_dir()}


@backup.command("prune")
@practice_option
@click.option("--dry-run", is_flag=True, help="Only say what would be dropped.")
@pass_vault
@click.pass_context
def backup_prune(ctx: click.Context, vault: Vault, dry_run: bool) -> None:
    """Keep the generations casenotes.yml asks for (keep_daily, ...), drop the rest."""
    p = practice(ctx)
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
    from vault.store.practice import write_sync_ignore

    p = practice(ctx)
    vault = register_device(p.vault_dir, p.config_dir, ask_passphrase())
    vault.close()
    click.echo(f"this machine is now device {vault.device.device_id} of the practice in {p.root}")
    # A machine joined by a sync engine has the vault and nothing else of the practice.
    for done in p.complete_layout():
        click.echo(f"casenotes: {done}", err=True)
    if (p.vault_dir / ".stfolder").exists() and not (p.vault_dir / ".stignore").exists():
        click.echo(
            f"casenotes: wrote {write_sync_ignore(p.vault_dir)} (what Syncthing must not carry)", err=True
        )
    click.echo(
        f"Next: start syncd (`casenotes syncd`, or `casenotes syncd --install`), then `casenotes doctor`; "
        f"backups go to {', '.join(p.backup_targets())} (add a drive: `casenotes backup target add PATH`)",
        err=True,
    )


@device.command("retire")
@practice_option
@click.argument("device_id", metavar="DEVICE")
@pass_unlocked
def device_retire(vault: Vault, practitioner: Practitioner, device_id: str) -> None:
    """Retire one of your devices, lost or replaced: it is no longer waited for before a
    purge, and what it signs from now on carries no authority (asks for the passphrase)."""
    when = vault.trust.retire(practitioner, device_id)
    click.echo(
        f"device {device_id} is retired as of {when}: every machine stops waiting for it once the vault "
        "has synced; anything it signs dated later is refused (`casenotes verify` names it)"
    )


def jobs(p: Practice, vault: Vault) -> list[Job]:
    """syncd's backup jobs: a snapshot on every target daily, a full verify weekly.

    A job that raises is retried with backoff and not recorded as done, so an unplugged
    drive or an unreachable share is tried again until a snapshot is really taken.
    """

    def run_all() -> None:
        failed = []
        index = facts_index.load(vault)  # asked only whether any purge needs finishing
        for target in targets(p):
            try:
                try:
                    index.fold_logs(vault.audit.directory, index.key)  # what was written since
                    finish_pending(vault, [target], practice_rules(p, vault).policy, index)
                except AuditUnverified as exc:  # nothing destroyed; the backup is still taken
                    log.warning("%s", exc)
                vault.backup(target)
            except TargetUnavailable as exc:
                failed.append(str(exc))
        facts_index.save(vault, index)
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
