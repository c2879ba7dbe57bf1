"""Scan every client's retention, and purge the due ones by crypto-shredding.

A purge destroys every copy of a client's sealed private key: the vault's
``clients/<cid>/access/*.sealed`` and, on every backup target, each snapshot's copy (the
manifests are rewritten without the client and the objects collected). Only then is the
ciphertext removed, and a signed certificate says what went. Overwriting is not relied
on: without the key, what remains on an SSD or in a file-system journal cannot be read.

What goes, and in which order, is the vault's (vault/store/disposal.py: planned, then
executed); this module decides whether it may, and writes the certificate's text.

Safety valves, checked before anything is destroyed: nothing is destroyed while the audit
log fails to verify (`check_audit`: it vouches for the holds and facts below, so an entry
edited or cut out of it could hide a hold); a hold is never purged (and the
hold is read from the audit-checked facts, not from a file someone could swap); the
clock must not be earlier than the newest time the audit log recorded, and an unattended
run does not trust a clock that recently leapt years ahead; an unattended run that finds
more than a few clients due purges none of them and waits for ``retention purge``. In a
group practice (more than one device), every device must have been heard from recently,
syncd's nightly purges are made by one device only (retention/group.py), and a purge runs
in two phases: an intent, then destruction once every other device acknowledged it
(retention/intents.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vault import Entry, Vault
from vault.backup.snapshots import BackupTarget, Shredded
from vault.backup.storage import TargetUnavailable
from vault.errors import TamperedFile, VaultError
from vault.store import facts_index, ledger, purged, retired, status_summary
from vault.store.audit import signed_entries
from vault.store.disposal import Shreds, plan_disposal, remove_half_removed, shred_on

from . import agreement, certificate, group, intents, records
from .errors import (
    AuditUnverified,
    ClientHeld,
    ClockUntrusted,
    DevicesSilent,
    NotDue,
    RetireUnverified,
    RulesDiffer,
)
from .policy import Decision, Facts, Policy, decide

RETIRE_NEEDLE = f'"event":"{retired.EVENT}"'.encode()
CLOCK_SKEW = dt.timedelta(minutes=10)  # another machine's clock may run a little ahead
JUMP_WINDOW = dt.timedelta(days=30)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClientRetention:
    client_id: str
    facts: Facts | None  # None: the facts are damaged (``problem`` says how); never purged
    decision: Decision | None
    problem: str | None = None
    announced_now: bool = False  # this scan was the first to find the client past retention


@dataclass
class RunReport:
    purged: list[str] = field(default_factory=list)
    completed: list[tuple[str, str]] = field(default_factory=list)  # (client, target) finished late
    waiting: int = 0  # due clients an unattended run left for `retention purge --confirm`
    failed: list[str] = field(default_factory=list)  # one sentence each, ids only
    announced: list[str] = field(default_factory=list)  # found past retention for the first time
    deferred_to: str | None = None  # a group practice: the device whose syncd purges
    #: a group practice (retention/intents.py): client -> the devices a new intent waits for
    intents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: client -> the devices an intent written earlier still waits for
    awaiting: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: client -> (device, why) of each device that stopped this device's last intent
    stopped: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


def scan(
    vault: Vault,
    policy: Policy,
    today: dt.date,
    announce: bool = True,
    index: facts_index.FactsIndex | None = None,
) -> list[ClientRetention]:
    """Every client's due date and state, from the retention facts (no passphrase).

    Whoever scans says what it finds (a status line, `retention status`, the nightly run),
    so the first scan to find a client past retention records that day in the facts: the
    notice an unattended disposal waits for counts from then, not from the due date. If
    the disk refuses, the notice is simply not started yet (the safe way round).
    ``announce=False``: record nothing (a group practice's nightly run on a device that
    does not purge: see `_run`). ``index``: this device's facts index, loaded already.
    """
    found = []
    # What changed since the last scan, folded into this device's facts index: not the whole
    # log, not every file opened again (vault/store/facts_index.py). What a purge acts on, it
    # reads again from the signed files and the checked log (`_run`).
    index = index or facts_index.load(vault)
    index.fold_logs(vault.audit.directory, index.key)  # what the caller wrote since it loaded it
    key = index.key
    signed = purged.signed(vault, index)
    logged = records.indexed_sessions(vault, index)
    gone = purged.gone(signed, vault.device.device_id)  # a folder of theirs is revived
    clients = vault.client_ids()
    for client_id in clients:
        if client_id in gone:
            continue
        try:
            facts = records.current(vault, client_id, key, signed=False, logged=logged, index=index)
        except (VaultError, OSError) as exc:  # OSError: its client.json deleted (another's purge, synced)
            found.append(ClientRetention(client_id, None, None, str(exc)))
            continue
        decision = decide(facts, policy, today)
        announced = False
        if decision.needs_notice and announce:
            # Writing the facts must never launder a copy put back or deleted: only facts
            # the audit log vouches for are announced (a purge refuses the others anyway).
            if not records.problems(vault, [client_id], index=index, signed=signed):
                try:
                    records.note_notice(vault, client_id, today)
                except VaultError:
                    pass
                else:
                    facts = replace(facts, notices=(*facts.notices, today))
                    decision, announced = decide(facts, policy, today), True
        found.append(ClientRetention(client_id, facts, decision, announced_now=announced))
    index.forget_missing(clients, vault.root)
    facts_index.save(vault, index)
    return found


@dataclass(frozen=True)
class Outlook:
    """How many clients are where in the retention cycle: for status lines and checkups."""

    due: int
    in_notice: int
    damaged: int
    pending: int  # shreds waiting for a backup target that was away
    due_ids: tuple[str, ...] = ()
    in_notice_ids: tuple[str, ...] = ()
    #: files of purged clients that arrived after the purge (a group practice): never deleted
    revived: tuple[purged.Revived, ...] = ()
    #: clients another device purged and this one refused to (retention/agreement.py): kept
    refused: tuple[str, ...] = ()
    #: the clients under a legal hold, each with how many holds are in force on it
    held: tuple[tuple[str, int], ...] = ()

    @property
    def anything(self) -> bool:
        return bool(
            self.due or self.in_notice or self.damaged or self.pending or self.revived or self.refused
        )


def outlook(
    vault: Vault, policy: Policy, today: dt.date, index: facts_index.FactsIndex | None = None
) -> Outlook:
    index = index or facts_index.load(vault)
    rows = scan(vault, policy, today, index=index)
    states = [r.decision.state if r.decision else "damaged" for r in rows]
    return Outlook(
        states.count("due"),
        states.count("in notice"),
        states.count("damaged"),
        len(still_pending(vault)),
        tuple(r.client_id for r, state in zip(rows, states, strict=True) if state == "due"),
        tuple(r.client_id for r, state in zip(rows, states, strict=True) if state == "in notice"),
        tuple(purged.revived(vault.root, signed := purged.signed(vault, index), vault.device.device_id)),
        tuple(client for client, _, _ in purged.refusals(signed, vault.device.device_id)),
        tuple((r.client_id, len(r.facts.holds)) for r in rows if r.facts is not None and r.facts.holds),
    )


@dataclass(frozen=True)
class Glance:
    """What `status` shows of retention, and where it looks for forks and co-signatures."""

    seen: Outlook
    shared: list[str]  # clients more than one device sealed into (`FactsIndex.shared`)
    supervised: list[str]  # clients a `supervise` entry names


def glance(vault: Vault, policy: Policy, today: dt.date) -> Glance:
    """`outlook` for `status`: from this device's status summary while its stamp says that
    nothing it was made from changed (vault/store/status_summary.py), else a scan, whose
    result is kept when nothing moved while it ran. Shreds waiting for a target are read anew."""
    context = [today.isoformat(), repr(policy), vault.device.device_id]
    kept = status_summary.load(vault)
    if kept is not None and (logs := status_summary.followed(vault, kept.logs)) is not None:
        found = _glance_from_json(kept.data)
        if found is not None and status_summary.stamp(vault, context, kept.files) == kept.stamp:
            # Read lines only: followed from here next time once they add up (a backup's
            # one line is not worth the summary rewritten).
            if sum(logs[n][0] - kept.logs[n][0] for n in logs) > facts_index.UNSAVED_BYTES:
                status_summary.save(vault, replace(kept, logs=logs))
            return replace(found, seen=replace(found.seen, pending=len(still_pending(vault))))
    index = facts_index.load(vault)
    marks = {name: list(mark) for name, mark in index.logs.items()}
    before = status_summary.stamp(vault, context, _facts_names(vault, index))
    seen = outlook(vault, policy, today, index)
    found = Glance(seen, index.shared(), list(index.supervised))
    files = _facts_names(vault, index)
    # Kept only if nothing moved while the scan ran (its own notices included): else made
    # again by the next status.
    if index.logs == marks and status_summary.stamp(vault, context, files) == before:
        status_summary.save(vault, status_summary.Summary(before, files, _glance_json(found), marks))
    return found


def _facts_names(vault: Vault, index: facts_index.FactsIndex) -> dict[str, list[str]]:
    """Each client's facts files' names as the index last listed them (the stamp stats them)."""
    under = str(vault.root / "clients")
    return {
        folder.split(os.sep)[-2]: list(names)
        for folder, (_, names) in index.folders.items()
        if os.path.dirname(os.path.dirname(folder)) == under
    }


def _glance_json(found: Glance) -> dict[str, Any]:
    seen = found.seen
    return {
        "counts": [seen.due, seen.in_notice, seen.damaged],
        "due": list(seen.due_ids),
        "in_notice": list(seen.in_notice_ids),
        "revived": [
            [r.client_id, [r.purge.device, r.purge.time, r.purge.done, r.purge.seq] if r.purge else None]
            + [str(r.path), r.files, r.set_aside]
            for r in seen.revived
        ],
        "refused": list(seen.refused),
        "held": [list(pair) for pair in seen.held],
        "shared": found.shared,
        "supervised": found.supervised,
    }


def _glance_from_json(data: dict[str, Any]) -> Glance | None:
    try:
        due, in_notice, damaged = (int(n) for n in data["counts"])
        revived = tuple(
            purged.Revived(
                str(c),
                purged.Purge(str(p[0]), str(p[1]), bool(p[2]), int(p[3])) if p else None,
                Path(path),
                int(files),
                bool(aside),
            )
            for c, p, path, files, aside in data["revived"]
        )
        seen = Outlook(
            due,
            in_notice,
            damaged,
            0,
            tuple(map(str, data["due"])),
            tuple(map(str, data["in_notice"])),
            revived,
            tuple(map(str, data["refused"])),
            tuple((str(c), int(n)) for c, n in data["held"]),
        )
        return Glance(seen, [str(c) for c in data["shared"]], [str(c) for c in data["supervised"]])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


# -- valves -------------------------------------------------------------------------------
def check_audit(vault: Vault) -> None:
    """Refuse to destroy anything while the audit log fails to verify: the holds and
    retention facts a purge obeys are believed because the log vouches for them, so a log
    with an entry edited or cut out (a hold's, a fact's) vouches for nothing. Every path
    that destroys calls it first, once it knows it has something to destroy (a whole-log
    check costs seconds at a career's size: never on a run with nothing to do)."""
    altered = vault.audit.verify(vault.trust.device_keys())
    if altered:
        raise AuditUnverified(altered[0].path, altered[0].why)
    # A retire record is read from its file: one deleted (its stolen machine syncs still)
    # would have that machine's later words, a hold it lifts, believed again.
    recorded = signed_entries(vault.audit.directory, vault.trust.device_keys(), RETIRE_NEEDLE)
    for relative, history in ledger.expected(recorded).items():
        path, latest = vault.root / relative, history[-1]
        if (
            relative.endswith(retired.SUFFIX)
            and latest
            and not (path.is_file() and ledger.digest(path) == latest)
        ):
            raise RetireUnverified(relative, "is missing or differs from the one the audit log recorded")


def check_clock(entries: Sequence[Entry], now: dt.datetime, max_gap: dt.timedelta, unattended: bool) -> None:
    """Refuse a purge on a clock that went back; and, unattended, on one that recently
    leapt ahead (by more than ``max_gap`` within ``JUMP_WINDOW``): a wrong clock looks
    just like a machine left off for a year, so a person decides."""
    times = sorted(dt.datetime.fromisoformat(e.time.replace("Z", "+00:00")) for e in entries)
    if not times:
        return
    if now < times[-1] - CLOCK_SKEW:
        raise ClockUntrusted(f"it is earlier than {times[-1]:%Y-%m-%d %H:%M} UTC, already in the audit log")
    if unattended:
        for before, after in zip(times, [*times[1:], now], strict=True):
            if after - before > max_gap and after > now - JUMP_WINDOW:
                raise ClockUntrusted(
                    f"it leapt from {before:%Y-%m-%d} to {after:%Y-%m-%d}; if that is right, "
                    "run `casenotes retention purge` yourself"
                )


# -- purging one client --------------------------------------------------------------------
def purge_client(
    vault: Vault,
    client_id: str,
    policy: Policy,
    targets: Sequence[BackupTarget],
    entries: Sequence[Entry],
    unattended: bool = False,
) -> Path:
    """Crypto-shred one due client everywhere; returns the certificate's path. ``entries``:
    the audit log as the run found it (this client's own entries come after). Unattended,
    only a client announced for a whole notice period."""
    facts = records.current(vault, client_id)
    damaged = records.problems(vault, [client_id], entries)
    if damaged:
        raise TamperedFile(damaged[0].path, damaged[0].why + "; nothing was purged")
    if facts.holds:
        raise ClientHeld(client_id)
    now = vault.clock()
    decision = decide(facts, policy, now.date())
    if not decision.purgeable:
        raise NotDue(client_id, decision.dispose_on.isoformat())
    if unattended and not decision.purgeable_unattended(now.date()):
        raise NotDue(client_id, f"{decision.unattended_from or 'a full notice period'} (unattended)")
    return dispose(vault, client_id, policy, decision.rule, targets, entries, now)


def dispose(
    vault: Vault,
    client_id: str,
    policy: Policy,
    rule: str,
    targets: Sequence[BackupTarget],
    entries: Sequence[Entry],
    now: dt.datetime,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Crypto-shred one client everywhere, once the caller decided it may; the certificate
    carries ``extra`` (an erasure's request) besides the facts every disposal states."""
    disposal = plan_disposal(vault, client_id, targets)
    earlier = [  # keys destroyed by a run cut short before its certificate
        digest
        for e in entries
        if e.event == "purge-begin" and e.data.get("client") == client_id
        for digest in e.data.get("keys", [])
    ]

    def certify(shreds: Shreds) -> Path:
        destroyed: list[dict[str, Any]] = [
            {"where": "vault", "what": f"sealed client key {relative}", "sha256": digest}
            for relative, digest in disposal.keys
        ] + [
            {"where": "vault", "what": "sealed client key (by an earlier run cut short)", "sha256": digest}
            for digest in dict.fromkeys(earlier)
            if digest not in {d for _, d in disposal.keys}
        ]
        for target, shredded in shreds.shredded:
            destroyed += _destroyed_on(target, shredded)[client_id]
        return certificate.write(
            vault,
            {
                "client_id": client_id,
                "policy": policy.describe(),
                "rule": rule,  # no dates: with the rule, one could tell a birth date
                "purged_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "device": vault.device.device_id,
                "destroyed": destroyed,
                "targets_done": list(shreds.done),
                "pending": list(shreds.pending),
                "index_entries": list(disposal.index_entries),  # blinded: for a shred still pending
                **(extra or {}),
            },
        )

    return disposal.execute(vault, targets, certify)


def _destroyed_on(target: BackupTarget, shredded: Shredded) -> dict[str, list[dict[str, Any]]]:
    """What was destroyed on one target, per client, as a certificate lists it."""
    where = f"backup {target} (id {target.target_id})"
    summary = {
        "where": where,
        "what": f"{len(shredded.snapshots)} snapshot(s) rewritten, {shredded.objects} object(s) removed",
    }
    return {
        client_id: [
            *(
                {"where": where, "what": f"sealed client key {path}", "sha256": digest}
                for path, digest in keys
            ),
            summary,
        ]
        for client_id, keys in shredded.keys.items()
    }


def _disposals(vault: Vault) -> dict[str, tuple[dict[str, Any], set[str], set[str]]]:
    """client id -> (its main certificate, target ids finished, target paths finished).
    Two devices that purged one client wrote a main certificate each: their targets merge."""
    found: dict[str, tuple[dict[str, Any], set[str], set[str]]] = {}
    certificates = certificate.all_certificates(vault)
    for path, facts in sorted(certificates.items()):
        if not facts.get("completes"):
            client_id = str(facts["client_id"])
            first, done, _ = found.get(client_id, ({**facts, "pending": [], "name": path.name}, set(), set()))
            first["pending"] = list(dict.fromkeys([*first["pending"], *facts.get("pending", [])]))
            found[client_id] = (first, done | set(facts.get("targets_done", [])), set())
    for facts in certificates.values():
        entry = found.get(str(facts["client_id"]))
        if entry and facts.get("completes"):
            entry[1].add(str(facts.get("target_id")))
            entry[2].add(str(facts.get("target")))
    return found


def finish_cut_short(vault: Vault, index: facts_index.FactsIndex | None = None) -> list[str]:
    """Finish this device's purges a run cut short after their certificate: the folder
    renamed to ``.purged-<cid>`` and not yet removed, the index entries or the folder
    still there, ``purge-done`` not yet written. No backup target is needed (those are
    `finish_pending`'s), so `retention status`, `retention purge` and `verify` call it too,
    not only the next syncd or backup run. Returns the clients finished. ``index``: the
    purge lines as the facts index keeps them (each signature checked; nothing is removed
    before the whole log verifies, `check_audit`)."""
    with vault.backup_lock():
        certificate.audit_unrecorded(vault)
        disposals = _disposals(vault)
        own = vault.device.device_id
        cut = [
            client_id
            for client_id, purge in purged.purges(purged.signed(vault, index)).items()
            if purge.device == own and not purge.done and client_id in disposals
        ]
        halves = purged.half_removed(vault.root)
        if not cut and not halves:
            return []
        check_audit(vault)
        remove_half_removed(vault)  # its keys were gone before the rename
        for client_id in cut:
            plan_disposal(vault, client_id).remove_ciphertext(vault)  # and purge-done
        return cut


def finish_pending(
    vault: Vault,
    targets: Sequence[BackupTarget],
    policy: Policy | None = None,
    index: facts_index.FactsIndex | None = None,
) -> list[tuple[str, str]]:
    """On each reachable target, shred every purged client it has not been cleared of: one
    away during the purge, or another drive since swapped in at the same place (targets are
    told apart by their own id, not their path). Also finish what a run cut short left
    (`finish_cut_short`). Nothing is destroyed while the audit log fails to verify.

    A purge or certificate of another device counts only once this device agreed to it
    (retention/agreement.py, decided here when ``policy`` is given): else nothing of the
    client is set aside or shredded. ``index``: this device's facts index, asked only
    whether there is anything to do; what is done is read again from the logs."""
    done = []
    with vault.backup_lock():
        finish_cut_short(vault, index)
        if policy is not None:
            agreement.settle(vault, policy, intents.unacknowledged, index)
            intents.acknowledge(vault, policy, index)  # another device's intent, seen here: answered
        own = vault.device.device_id
        purges = purged.signed(vault, index)
        mine = purged.begun(purges, own) | set(purged.gone(purges, own))
        disposals = {c: d for c, d in _disposals(vault).items() if c in mine}
        if index is not None and (disposals or purges):
            purges = purged.signed(vault)  # something may be shredded or set aside: the logs say what
            mine = purged.begun(purges, own) | set(purged.gone(purges, own))
            disposals = {c: d for c, d in _disposals(vault).items() if c in mine}
        checked: list[bool] = []

        def check_once() -> None:
            if not checked:
                check_audit(vault)
                checked.append(True)

        if any(not r.set_aside for r in purged.revived(vault.root, purges, own)):
            check_once()  # set aside: a copy of a destroyed key among them is removed again
            group.set_aside(vault, purges)  # anything else under a purged client came back: kept
        for target in targets:
            try:
                target.open(vault.practice_id, create=False)
            except (TargetUnavailable, TamperedFile):
                continue
            due = {
                c: list(d[0].get("index_entries", []))
                for c, d in disposals.items()
                if target.target_id not in d[1]
            }
            if not due:
                continue
            check_once()
            try:
                destroyed = _destroyed_on(target, shred_on(vault, due, target))
            except (TargetUnavailable, TamperedFile, OSError):
                continue  # still pending: the next run tries again
            for client_id, items in destroyed.items():
                certificate.write(
                    vault,
                    {
                        "client_id": client_id,
                        "completes": str(disposals[client_id][0]["name"]),
                        "target": str(target),
                        "target_id": target.target_id,
                        "purged_at": vault.clock().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "device": vault.device.device_id,
                        "destroyed": items,
                        "pending": [],
                    },
                    target_id=target.target_id,
                )
                done.append((client_id, str(target)))
    return done


def still_pending(vault: Vault) -> list[tuple[str, str]]:
    """(client id, target) of every shred still waiting for a target that was away."""
    return [
        (client_id, target)
        for client_id, (facts, _, finished) in _disposals(vault).items()
        for target in facts.get("pending", [])
        if target not in finished
    ]


# -- runs ------------------------------------------------------------------------------------
def run(
    vault: Vault,
    policy: Policy,
    targets: Sequence[BackupTarget],
    *,
    unattended: bool,
    max_unattended: int = 5,
    max_clock_gap: dt.timedelta = dt.timedelta(days=400),
    heard_within: dt.timedelta = group.DEFAULT_HEARD_WITHIN,
    progress: Progress | None = None,
    rules_version: int | None = None,
    index: facts_index.FactsIndex | None = None,
) -> RunReport:
    """Finish pending shreds, then purge every due client. ``rules_version``: the version of
    the practice's rules ``policy`` comes from (retention/rules.py; 0: none in the vault yet):
    no client is purged while a signed entry names a newer one. None: not checked.
    ``index``: this device's facts index, if the caller loaded it already."""
    with vault.backup_lock():
        # Only the retention checks are read here (kept by the facts index): not the whole log.
        index = index or facts_index.load(vault)
        index.fold_logs(vault.audit.directory, index.key)  # what was written before the lock was ours
        known = group.devices(vault, index.heard_entries())
        if len(known) > 1:  # the other machines hear from this one; it remembers them, and they its rules
            rules = group.rules_of(policy.describe())
            extra = {} if rules_version is None else {"rules_version": rules_version}
            vault.audit.append(group.HEARD_EVENT, devices=sorted(known), rules=rules, **extra)
        valves = (max_unattended, max_clock_gap, heard_within)
        return _run(vault, policy, targets, unattended, *valves, progress, rules_version, index)


def _check_group(vault: Vault, entries: Sequence[Entry], now: dt.datetime, window: dt.timedelta) -> None:
    silent = group.silent_devices(vault, entries, now, window)
    if silent:
        who = ", ".join(
            f"device {d} (last heard {when:%Y-%m-%d %H:%M} UTC)" if when else f"device {d} (never)"
            for d, when in silent.items()
        )
        verb = " has" if len(silent) == 1 else " have"
        raise DevicesSilent(who + verb, round(window.total_seconds() / 3600))


def _run(
    vault: Vault,
    policy: Policy,
    targets: Sequence[BackupTarget],
    unattended: bool,
    max_unattended: int,
    max_clock_gap: dt.timedelta,
    heard_within: dt.timedelta,
    progress: Progress | None,
    rules_version: int | None = None,
    index: facts_index.FactsIndex | None = None,
) -> RunReport:
    index = index or facts_index.load(vault)
    report = RunReport(completed=finish_pending(vault, targets, policy, index))
    index.fold_logs(vault.audit.directory, index.key)  # what this run wrote so far
    now = vault.clock()
    # In a group practice, the nightly notice is written by the device that makes the
    # nightly purges, and no other: a notice written into a client's folder while another
    # machine purges it comes back over the deletion, a revived client on every machine.
    announce = True
    if unattended:
        early = index.heard_entries()  # group.is_group and group.purger read only these
        if group.is_group(vault, early):
            announce = group.purger(vault, early, now, heard_within) == vault.device.device_id
    rows = scan(vault, policy, now.date(), announce, index)
    report.announced = [c.client_id for c in rows if c.announced_now]

    by_dates = [c for c in rows if c.decision and c.decision.purgeable]
    if not by_dates:
        return report
    entries = list(vault.audit.entries())  # read once: the valves and every client's checks
    check_clock(entries, now, max_clock_gap, unattended)
    check_audit(vault)  # the log vouches for the holds and facts below: it must be intact
    # A purge of this device's cut short once its keys were shredded: nothing is left to
    # protect and the client can no longer be read, so it is finished now, whoever runs
    # (syncd too, before the notice an unattended purge waits for, and past its limit):
    # left as it is, the client would stay half destroyed for a month or for good.
    shredded = _shredded(vault, [c.client_id for c in by_dates])
    fresh = [c for c in by_dates if c.client_id not in shredded]
    if unattended and len(fresh) > max_unattended:
        vault.audit.append("purge-waiting", clients=len(fresh), limit=max_unattended)
        report.waiting = len(fresh)
        fresh = []
    # Unattended, only those announced a whole notice period ago; a person may do the rest.
    due = [
        c.client_id
        for c in fresh
        if c.decision and (not unattended or c.decision.purgeable_unattended(now.date()))
    ]
    if due and rules_version is not None:
        from .rules import check_not_outdated  # not for a run with nothing due

        check_not_outdated(vault, rules_version)
    if due and group.is_group(vault, entries):
        _check_group(vault, entries, now, heard_within)
        mine = group.rules_of(policy.describe())
        if differ := group.other_rules(vault, entries, now, heard_within, mine):
            device, theirs = next(iter(differ.items()))
            raise RulesDiffer(device, theirs, mine)
        chosen = group.purger(vault, entries, now, heard_within)
        if unattended and chosen != vault.device.device_id:
            report.deferred_to = chosen  # that device's syncd purges; two would race
            due = []
        # Two phases: destroyed only once every other device acknowledged an intent.
        step = intents.phase(vault, due, purged.trusted(entries, purged.signed(vault)), unattended)
        report.intents, report.awaiting, report.stopped = step.written, step.waiting, step.held
        due = step.destroy
    due = sorted(shredded) + due
    for done, client_id in enumerate(due, start=1):
        try:
            purge_client(vault, client_id, policy, targets, entries, unattended and client_id not in shredded)
            report.purged.append(client_id)
        except VaultError as exc:
            report.failed.append(f"client {client_id}: {exc}")
        if progress:
            progress(done, len(due))
    return report


def _shredded(vault: Vault, client_ids: Sequence[str]) -> set[str]:
    """Those of ``client_ids`` whose purge this device began and a run cut short after every
    sealed key was destroyed (its ``purge-begin`` is signed, no ``purge-done`` followed)."""
    own = vault.device.device_id
    begun = {
        client_id
        for client_id, purge in purged.purges(purged.signed(vault)).items()
        if purge.device == own and not purge.done
    }
    return {c for c in client_ids if c in begun and not plan_disposal(vault, c).keys}
