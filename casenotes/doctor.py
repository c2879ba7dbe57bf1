"""`casenotes doctor`: a privacy and health checkup, one line per check and what to do.

The checks of this machine and its keys are in checkup/ (machine.py, keys.py); here are
those of what only the practice's configuration knows (its backup targets, its retention
rules, the passphrase in the environment), and `run_checks`, which gathers the real
inputs of this machine. Each check is a function from plain inputs to a `Finding`, so
each can be tested passing and failing. Nothing here changes anything.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from checkup import Finding, keys, machine
from retention import group
from retention.purge import outlook
from retention.rules import PracticeRules, differs_from_default, shared_part
from syncd.state import State
from vault import Vault
from vault.store import recovery

from . import backups, passphrases
from .config import Practice
from .practice_rules import practice_rules


def passphrase_strength(value: str | None) -> Finding | None:
    """The passphrase in CASENOTES_PASSPHRASE, when one is set: doctor never asks for it."""
    if value is None:
        return None
    why = passphrases.weakness(value)
    if why:
        return Finding(
            "passphrase strength",
            "warn",
            f"the passphrase in CASENOTES_PASSPHRASE is too easy to guess: {why}; "
            f"change it with `casenotes passphrase` ({passphrases.ADVICE})",
        )
    return Finding("passphrase strength", "ok", "the passphrase in CASENOTES_PASSPHRASE is hard to guess")


def backups_checked(vault: Vault, practice: Practice, now: dt.datetime) -> list[Finding]:
    found = []
    last_verify = State.load(practice.state_dir / "state.json").jobs.get("backup-verify")
    for target in backups.targets(practice):
        name = f"backup {target}"
        try:
            target.open(vault.practice_id, create=False)
            names = sorted(target.snapshots())
        except Exception as exc:  # any reason a target cannot be read is the finding
            found.append(
                Finding(name, "warn", f"not reachable ({exc}); plug it in and run `casenotes backup run`")
            )
            continue
        if not names:
            found.append(Finding(name, "warn", "no snapshot yet: run `casenotes backup run`"))
            continue
        newest = dt.datetime.strptime(names[-1][:18], "%Y-%m-%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        age = (now - newest).days
        verified = (
            f"last full verify {last_verify[:10]}"
            if last_verify
            else "never fully verified (`casenotes backup verify --full`)"
        )
        status = "ok" if age <= 2 and last_verify else "warn"
        detail = f"last good snapshot {newest:%Y-%m-%d} ({age} days ago); {verified}"
        if backups.on_same_disk(target, practice):
            # `status` says the same: a disk that fails, or a laptop that is stolen, takes both.
            status = "warn"
            detail += (
                "; but it is on the practice's own disk, not yet a real backup: "
                "add an external drive with `casenotes backup target add PATH`"
            )
        found.append(Finding(name, status, detail))
    return found


def purges(vault: Vault, practice: Practice, today: dt.date) -> Finding:
    name = "retention"
    seen = outlook(vault, practice_rules(practice, vault).policy, today)
    if seen.revived:
        first = seen.revived[0]
        more = f" (and {len(seen.revived) - 1} more: `casenotes verify`)" if len(seen.revived) > 1 else ""
        return Finding(name, "warn", f"{first.path}: {first.describe()}{more}")
    if seen.due or seen.damaged or seen.pending:
        return Finding(
            name,
            "warn",
            f"{seen.due} client(s) due for disposal, {seen.pending} shred(s) waiting for a drive, "
            f"{seen.damaged} with damaged facts: `casenotes retention status`",
        )
    return Finding(name, "ok", "nothing due for disposal")


def rights_requests(vault: Vault, today: dt.date) -> Finding:
    """Clients' requests (access, amendment, ...) near or past their legal deadline."""
    from vault.rights import requests

    name = "clients' requests"
    found = [r for r in requests.load(vault) if r.urgent(today)]
    if not found:
        return Finding(name, "ok", "none near or past its deadline")
    first = found[0]
    left = first.days_left(today)
    when = f"{-left} day(s) late" if left < 0 else f"due in {left} day(s)"
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return Finding(
        name,
        "fail" if left < 0 else "warn",
        f"{first.kind} request {first.request_id} of client {first.client_id} is {when}, on "
        f"{first.deadline}{more}: `casenotes request list`",
    )


def _rules_files(practice: Practice, shared: PracticeRules) -> list[Finding]:
    """The vault's rules files: refused ones, two machines' same version, and a casenotes.yml
    whose retention rules are not the ones applied."""
    found = [
        Finding("retention rules", "warn", f"{bad.path}: {bad.why}; refused, not applied")
        for bad in shared.view.refused
    ]
    if shared.view.current is not None:
        chosen = shared.view.current
        found += [
            Finding(
                "retention rules",
                "warn",
                f"{other.path} and {chosen.path.name} are both version {other.version}, written apart; "
                f"{chosen.path.name} is applied (the smaller device id): `casenotes retention rules set` "
                "writes the next version on purpose",
            )
            for other in shared.view.tied
        ]
        local = shared_part(practice.settings().retention)
        if differs_from_default(local) and local != dict(chosen.settings):
            found.append(
                Finding(
                    "retention rules",
                    "warn",
                    f"{practice.settings_file}: its retention rules ({local}) are not the practice's; the "
                    f"vault's rules (version {chosen.version}, {chosen.path.name}: {dict(chosen.settings)}) "
                    "are the ones applied; remove those lines from casenotes.yml, and change the "
                    "practice's with `casenotes retention rules set`",
                )
            )
    return found


def shared_rules(vault: Vault, practice: Practice, now: dt.datetime) -> list[Finding]:
    """In a group practice, the machines whose nightly check names other retention rules
    than this machine's casenotes.yml: no purge runs anywhere until they agree."""
    shared = practice_rules(practice, vault)
    window = shared.heard_within
    mine = group.rules_of(shared.policy.describe())
    return _rules_files(practice, shared) + [
        Finding(
            "retention rules",
            "warn",
            f"device {device} purges by other rules ({theirs}) than this machine ({mine}): let the vault "
            "sync (`casenotes retention rules` on each machine shows the version it holds); until they "
            "agree nothing is purged",
        )
        for device, theirs in group.other_rules(vault, list(vault.audit.entries()), now, window, mine).items()
    ]


def run_checks(
    vault: Vault,
    practice: Practice,
    ram_dirs: list[Path],
    passphrase: str | None = None,
    key_file: Path | None = None,
) -> list[Finding]:
    """Every check, on this machine's real inputs."""
    now = vault.clock()
    swaps = Path("/proc/swaps").read_text() if Path("/proc/swaps").exists() else ""
    source, fstype = machine.mount_of(practice.inbox)
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: machine.permissions(practice, vault.device_dir / "device.json"),
        lambda: machine.encrypted_inbox(
            source,
            fstype,
            Path("/sys"),
            sys.platform,
            machine.filevault() if sys.platform == "darwin" else None,
        ),
        lambda: machine.encrypted_swap(swaps, Path("/sys")),
        lambda: machine.residue(practice.inbox),
        lambda: machine.ram_directory(ram_dirs),
        lambda: keys.kdf_cost(vault.practitioner_file),
        lambda: [found for found in [passphrase_strength(passphrase)] if found],
        lambda: keys.second_factor_on(vault.practitioner_file, key_file, vault.root),
        lambda: keys.recovery_set_up(recovery.status(vault)),
        lambda: keys.device_registered(vault),
        lambda: backups_checked(vault, practice, now),
        lambda: purges(vault, practice, now.date()),
        lambda: rights_requests(vault, now.astimezone().date()),
        lambda: shared_rules(vault, practice, now),
        lambda: machine.syncd_running(practice),
        lambda: machine.sync_engine(practice),
    ]
    findings: list[Finding] = []
    for check in checks:
        result = check()
        findings += result if isinstance(result, list) else [result]
    return findings
