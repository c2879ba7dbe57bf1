"""`casenotes retention status | hold | release | purge | erase | certificates`, `client close | reopen`,
and syncd's nightly retention job."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

import click
import yaml

from retention import certificate, intents, records, rules
from retention.policy import Decision, PolicyInvalid
from retention.purge import RunReport, finish_cut_short, run, scan, still_pending
from syncd import Job
from vault import Vault, VaultError
from vault.store import facts_index, purged
from vault.store.disposal import plan_disposal

from . import config
from .backups import targets
from .config import Practice
from .context import (
    Failure,
    UsageFailure,
    open_vault,
    pass_vault,
    practice,
    practice_option,
    progress_bar,
    unlock,
)
from .nodump import no_core_dumps
from .practice_rules import practice_rules

log = logging.getLogger("syncd")


def _handles(vault: Vault) -> dict[str, str]:
    practitioner = unlock(vault)
    return {profile.client_id: profile.handle for profile in vault.profiles(practitioner)}


@click.group()
def retention() -> None:
    """How long records are kept; legal holds; disposal by crypto-shredding."""


@retention.command("status")
@practice_option
@click.option("--no-names", is_flag=True, help="Client ids only: no passphrase asked.")
@pass_vault
@click.pass_context
def retention_status(ctx: click.Context, vault: Vault, no_names: bool) -> None:
    """Each client's retention: last session, due date and state (held, due, in notice, ...)."""
    p = practice(ctx)
    index = facts_index.load(vault)
    finish_purges(vault, refuse=False, index=index)
    policy = practice_rules(p, vault).policy
    handles = {} if no_names else _handles(vault)
    rows = scan(vault, policy, vault.clock().date(), index=index)
    click.echo(f"policy: {policy.describe()}")
    click.echo(f"{'client':<20} {'id':<16}  {'last session':<12} {'closed':<10}  {'kept until':<10}  state")
    for row in sorted(
        rows, key=lambda r: (r.decision.dispose_on if r.decision else dt.date.min, r.client_id)
    ):
        name = handles.get(row.client_id, "-")
        if row.facts is None or row.decision is None:
            click.echo(f"{name:<20} {row.client_id}  damaged: {row.problem}")
            continue
        facts, decision = row.facts, row.decision
        last = facts.last_session.isoformat() if facts.last_session else "-"
        closed = facts.closed.isoformat() if facts.closed else "-"
        state = decision.state
        if state == "held":
            state += ": " + "; ".join(facts.holds.values())
        elif state in ("in notice", "due"):
            state += f" (disposal from {decision.dispose_on}{_unattended(decision)})"
        click.echo(f"{name:<20} {row.client_id}  {last:<12} {closed:<10}  {decision.retain_until}  {state}")
    _warn_unvouched(vault, [r.client_id for r in rows], index)
    facts_index.save(vault, index)
    due = sum(1 for r in rows if r.decision and r.decision.purgeable)
    if due:
        click.echo(f"{due} client(s) due for disposal: `casenotes retention purge --dry-run` shows what goes")
    for client_id, target in still_pending(vault):
        click.echo(f"client {client_id}: still to be shredded on {target} (connect it and run a backup)")
    _show_intents(vault, handles)


def _show_intents(vault: Vault, handles: dict[str, str]) -> None:
    """A group practice's purges waiting for their acknowledgements (retention/intents.py)."""
    signed = purged.signed(vault)
    if not any(e.event == intents.INTENT for e in signed):
        return
    for state in intents.standing(vault, purged.trusted(vault.audit.entries(), signed)):
        intent = state.intent
        client = who(intent.client_id, handles)
        head = f"purge intent for client {client} by device {intent.device} at {intent.time}"
        if state.held:
            why = "; ".join(f"device {d}: {reason}" for d, reason in state.held)
            click.echo(f"{head}: stopped ({why})")
        elif state.waiting:
            click.echo(f"{head}: waiting for device(s) {', '.join(state.waiting)} to acknowledge")
        else:
            click.echo(f"{head}: acknowledged by every device; the next purge carries it out")


def finish_purges(vault: Vault, refuse: bool, index: facts_index.FactsIndex | None = None) -> None:
    """Finish this device's purges a run cut short once its certificate was written (the
    folder renamed to ``.purged-<cid>``, say): `retention status`, `retention purge` and
    `verify` do, not only the next syncd or backup run. ``refuse``: a failure (the audit
    log fails to verify, the disk refuses) is the command's; else a warning, and the
    command goes on to show what it shows."""
    try:
        finished = finish_cut_short(vault, index)
    except VaultError as exc:
        if refuse:
            raise
        click.echo(f"casenotes: warning: a purge cut short could not be finished: {exc}", err=True)
        return
    for client_id in finished:
        click.echo(f"casenotes: finished the purge of client {client_id} that a run cut short", err=True)


def _unattended(decision: Decision) -> str:
    """When syncd may dispose, if later than a person may: a full notice after it was said."""
    if decision.unattended_from is None or decision.unattended_from == decision.dispose_on:
        return ""
    return f"; by syncd from {decision.unattended_from}, announced {decision.announced}"


def given_handles(vault: Vault) -> dict[str, str]:
    """Handles by client id when the passphrase is given (CASENOTES_PASSPHRASE), else none:
    a listing that would otherwise show ids alone never stops to ask for it."""
    return _handles(vault) if config.passphrase_from_env() is not None else {}


def who(client_id: str, handles: dict[str, str]) -> str:
    return f"{handles[client_id]} ({client_id})" if client_id in handles else client_id


@retention.command("hold")
@practice_option
@click.argument("handle")
@click.option("--reason", required=True, help="Why (a subpoena, a complaint, a request): kept encrypted.")
@pass_vault
def retention_hold(vault: Vault, handle: str, reason: str) -> None:
    """Place a legal hold: the client is never purged until it is released."""
    client_id = vault.resolve(handle)
    hold_id = records.place_hold(vault, client_id, reason)
    click.echo(f"client {client_id} is on hold ({hold_id}); `casenotes retention release {handle}` lifts it")


@retention.command("erase")
@practice_option
@click.argument("handle")
@click.option("--request", "request_id", required=True, metavar="ID", help="The client's erasure request.")
@click.option("--override-retention", is_flag=True, help="Erase inside retention, as a documented exception.")
@click.option(
    "--reason", metavar="TEXT", help="Why retention is overridden (kept sealed); '-': standard input."
)
@click.option("--confirm", is_flag=True, help="Destroy without asking (for scripts).")
@click.pass_context
def retention_erase(
    ctx: click.Context,
    handle: str,
    request_id: str,
    override_retention: bool,
    reason: str | None,
    confirm: bool,
) -> None:
    """Erase a client at their request (GDPR Art. 17), unless retention rules keep the record."""
    from retention.erasure import Pending, erase

    from .stdin_words import words

    no_core_dumps()
    if override_retention != bool(reason):
        raise UsageFailure("--override-retention and --reason go together: say why retention is overridden")
    override = words(reason, "reason") if override_retention else None
    p = practice(ctx)
    vault = open_vault(ctx)
    if override is not None:  # destroying what the law keeps: the practitioner's exception, not the machine's
        unlock(vault)
    client_id = vault.resolve(handle)
    shared = practice_rules(p, vault)
    finish_purges(vault, refuse=True)
    if not confirm:
        if not sys.stdin.isatty():
            raise UsageFailure(
                "an erasure destroys records for good: add --confirm to run it without a terminal"
            )
        click.confirm(f"Destroy every copy of {handle}'s record, in the vault and backups?", abort=True)
    done = erase(vault, client_id, request_id, shared.policy, targets(p), override)
    if isinstance(done, Pending):  # a group practice: every other machine checks it first
        who = ", ".join(f"device {d}" for d in done.waiting) or "the other devices"
        said = "erasure announced to the other machines" if done.written else "erasure still waiting"
        click.echo(
            f"{said}: nothing destroyed yet; {who} must acknowledge it (each checks the request and "
            "its own holds when it syncs), then run this command again"
        )
        return
    click.echo(f"erased client {client_id}: certificate in {done.relative_to(vault.root.parent)}")


@retention.command("release")
@practice_option
@click.argument("handle")
@pass_vault
def retention_release(vault: Vault, handle: str) -> None:
    """Release every legal hold on a client."""
    client_id = vault.resolve(handle)
    released = records.release_holds(vault, client_id)
    if not released:
        raise Failure(f"client {client_id} has no hold in force; nothing changed")
    click.echo(f"released {len(released)} hold(s) on client {client_id}")


@retention.command("purge")
@practice_option
@click.option("--dry-run", is_flag=True, help="List what is due; destroy nothing.")
@click.option("--confirm", is_flag=True, help="Destroy without asking (for scripts).")
@click.pass_context
def retention_purge(ctx: click.Context, dry_run: bool, confirm: bool) -> None:
    """Destroy, for good, every client whose retention and notice period have run out."""
    no_core_dumps()
    p = practice(ctx)
    vault = open_vault(ctx)
    shared = practice_rules(p, vault, upgrade=not dry_run)
    policy = shared.policy
    if not dry_run:
        finish_purges(vault, refuse=True)
    due = [r for r in scan(vault, policy, vault.clock().date()) if r.decision and r.decision.purgeable]
    asking = bool(due) and not dry_run and not confirm
    if asking and not sys.stdin.isatty():
        raise UsageFailure("a purge destroys records for good: add --confirm to run it without a terminal")
    # the person confirming sees whom it concerns; a dry run too, when the passphrase is given
    handles = _handles(vault) if asking else given_handles(vault) if dry_run and due else {}
    where = targets(p) if dry_run else []
    for row in due:
        assert row.decision is not None
        click.echo(
            f"due: client {who(row.client_id, handles)}, kept until {row.decision.retain_until} "
            f"({row.decision.rule})"
        )
        if dry_run:  # the vault's own plan of the disposal: what the purge would remove
            for line in plan_disposal(vault, row.client_id, where).describe():
                click.echo(f"  would go: {line}")
    _warn_unvouched(vault, [r.client_id for r in due])
    if dry_run or not due:
        click.echo(
            f"{len(due)} client(s) due for disposal" + (" (dry run: nothing destroyed)" if due else "")
        )
        return
    if asking:
        click.confirm(
            f"Destroy every copy of these {len(due)} client(s), in the vault and backups?", abort=True
        )
    with progress_bar("purging") as step:
        report = run(
            vault,
            policy,
            targets(p),
            unattended=False,
            heard_within=shared.heard_within,
            progress=step,
            rules_version=shared.version,
        )
    _report(vault, report)


def _warn_unvouched(vault: Vault, client_ids: list[str], index: facts_index.FactsIndex | None = None) -> None:
    """What the purge itself would refuse: facts files the audit log does not vouch for (an
    older copy put back could hide a hold), so status and a dry run do not look clean."""
    signed = purged.signed(vault, index) if index is not None else None
    for problem in records.problems(vault, client_ids, index=index, signed=signed):
        click.echo(
            f"casenotes: warning: {problem}; what is shown for this client may be wrong and a purge "
            "refuses it: restore the file from a backup (casenotes backup restore)",
            err=True,
        )


def _report(vault: Vault, report: RunReport) -> None:
    for client_id, devices in report.intents.items():
        click.echo(
            f"client {client_id}: purge intent recorded; nothing is destroyed until device(s) "
            f"{', '.join(devices)} acknowledge it (their syncd does, once the vault has synced): "
            "then run `casenotes retention purge` again (`retention status` shows who has not)"
        )
    for client_id, devices in report.awaiting.items():
        click.echo(
            f"client {client_id}: still waiting for device(s) {', '.join(devices)} to acknowledge its purge"
        )
    for client_id, stopped in report.stopped.items():
        why = "; ".join(f"device {d}: {reason}" for d, reason in stopped)
        click.echo(f"client {client_id}: the earlier purge intent was stopped ({why})", err=True)
    for client_id in report.purged:
        where = certificate.path_for(vault, client_id).relative_to(vault.root.parent)
        click.echo(f"purged client {client_id}: certificate in {where}")
    for client_id, target in report.completed:
        click.echo(f"finished shredding client {client_id} on {target}")
    if report.failed:
        raise Failure("; ".join(report.failed))


@retention.group("rules", invoke_without_command=True)
@practice_option
@click.pass_context
def retention_rules(ctx: click.Context) -> None:
    """The practice's retention rules: the same on every machine (kept in the vault)."""
    if ctx.invoked_subcommand is not None:
        return
    p = practice(ctx)
    vault = open_vault(ctx)
    shared = practice_rules(p, vault)
    where = f"version {shared.version}" if shared.version else f"not in the vault yet: {p.settings_file}"
    click.echo(f"practice rules ({where}): {json.dumps(dict(shared.settings), sort_keys=True)}")
    click.echo(f"policy: {shared.policy.describe()}")
    click.echo(f"heard within: {round(shared.heard_within.total_seconds() / 3600)} hours")


@retention_rules.command("set")
@practice_option
@click.argument("key")
@click.argument("value")
@pass_vault
@click.pass_context
def retention_rules_set(ctx: click.Context, vault: Vault, key: str, value: str) -> None:
    """Set one rule for the whole practice (a new signed version in vault/settings/, audited).

    KEY: preset, adult_years, minor_years_after_majority, majority_age, minor_until_age,
    notice_days, heard_within_hours, kinds (e.g. '{intake: 10}'). VALUE 'default' removes
    the override."""
    p = practice(ctx)
    try:
        parsed = None if value == "default" else yaml.safe_load(value)
    except yaml.YAMLError:
        raise UsageFailure(
            f"{value!r} is not a value: give a number, a preset name or {{kind: years}}"
        ) from None
    try:
        shared = rules.change(vault, p.settings().retention, key, parsed)
    except PolicyInvalid as exc:
        raise UsageFailure(f"retention rule {exc.key}: {exc.why}; nothing was changed") from None
    click.echo(f"practice rules version {shared.version}: {shared.policy.describe()}")
    click.echo("every machine applies them once the vault has synced")


@retention.command("certificates")
@practice_option
@pass_vault
def retention_certificates(vault: Vault) -> None:
    """List disposal certificates, each checked against its signature and the audit log."""
    for path, facts in certificate.all_certificates(vault).items():
        what = "completes" if facts.get("completes") else "disposal"
        click.echo(f"{facts['purged_at']}  {what:<9}  client {facts['client_id']}  {path}")
    problems = certificate.problems(vault)
    for problem in problems:
        click.echo(f"casenotes: {problem}", err=True)
    if problems:
        raise Failure("a disposal certificate was changed or removed; restore it from a backup")


def jobs(p: Practice, vault: Vault) -> list[Job]:
    """syncd's nightly retention run. Too many due clients at once: it purges none and waits."""
    settings = p.settings()

    def nightly() -> None:
        shared = practice_rules(p, vault, upgrade=True)  # read each night: a new version applies from then
        report = run(
            vault,
            shared.policy,
            targets(p),
            unattended=True,
            max_unattended=int(settings.retention_run("max_unattended")),
            max_clock_gap=dt.timedelta(days=int(settings.retention_run("max_clock_gap_days"))),
            heard_within=shared.heard_within,
            rules_version=shared.version,
        )
        if report.deferred_to:
            log.info("purges in this group practice are made by device %s's syncd", report.deferred_to)
        for client_id, devices in {**report.intents, **report.awaiting}.items():
            log.info("client %s: purge waits for device(s) %s to acknowledge", client_id, ", ".join(devices))
        signed = purged.signed(vault, facts_index.load(vault))
        for item in purged.revived(vault.root, signed, vault.device.device_id):
            log.warning("%s: %s", item.path, item.describe())
        for client_id in report.announced:
            log.warning(
                "client %s is past its retention period: notice starts today; syncd disposes of it "
                "after %d days' notice (`casenotes retention status` lists it)",
                client_id,
                shared.policy.notice_days,
            )
        if report.waiting:
            log.warning(
                "%d clients are due for disposal, more than an unattended run purges; "
                "run `casenotes retention purge` to review and confirm",
                report.waiting,
            )
        if report.purged:
            log.info("purged %d client(s); certificates are in vault/disposals", len(report.purged))
        if report.failed:
            raise Failure("; ".join(report.failed))

    def acknowledge() -> None:
        """Another device's purge intent, seen here: answered within the hour, not at night."""
        acked, held = intents.acknowledge(vault, practice_rules(p, vault).policy)
        for client_id in acked:
            log.info("acknowledged another device's purge of client %s", client_id)
        for client_id, why in held:
            log.warning("refused another device's purge of client %s: %s", client_id, why)

    return [
        Job("retention", dt.timedelta(hours=24), nightly, at=settings.retention_run("time")),
        Job("purge-acknowledgements", dt.timedelta(hours=1), acknowledge),
    ]


COMMANDS = [retention]
