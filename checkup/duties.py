"""What the practice owes, as its vault shows it: snapshots taken and verified, disposals
made when due, retention rules the machines agree on, clients' requests answered in time.

What only casenotes' configuration knows (the backup targets of casenotes.yml, the rules
this machine applies, where the settings file is) comes in as plain inputs:
casenotes/doctor.py gathers them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from retention import group
from retention.policy import Policy
from retention.purge import outlook
from retention.rules import PracticeRules, differs_from_default, shared_part
from vault import Vault
from vault.backup.snapshots import BackupTarget

from . import Finding


def backups_checked(
    vault: Vault,
    targets: list[BackupTarget],
    last_verify: str | None,
    now: dt.datetime,
    on_practice_disk: Callable[[BackupTarget], bool],
) -> list[Finding]:
    """Each target's newest snapshot and the last full verify (``last_verify``, syncd's);
    ``on_practice_disk``: whether a target lies on the disk that holds the practice."""
    found = []
    for target in targets:
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
        if on_practice_disk(target):
            # `status` says the same: a disk that fails, or a laptop that is stolen, takes both.
            status = "warn"
            detail += (
                "; but it is on the practice's own disk, not yet a real backup: "
                "add an external drive with `casenotes backup target add PATH`"
            )
        found.append(Finding(name, status, detail))
    return found


def purges(vault: Vault, policy: Policy, today: dt.date) -> Finding:
    """Clients due for disposal under ``policy``, shreds waiting, purged clients come back."""
    name = "retention"
    seen = outlook(vault, policy, today)
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


def _rules_files(shared: PracticeRules, local: Mapping[str, Any], settings_file: Path) -> list[Finding]:
    """The vault's rules files: refused ones, two machines' same version, and a casenotes.yml
    whose retention rules (``local``) are not the ones applied."""
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
        own = shared_part(local)
        if differs_from_default(own) and own != dict(chosen.settings):
            found.append(
                Finding(
                    "retention rules",
                    "warn",
                    f"{settings_file}: its retention rules ({own}) are not the practice's; the "
                    f"vault's rules (version {chosen.version}, {chosen.path.name}: {dict(chosen.settings)}) "
                    "are the ones applied; remove those lines from casenotes.yml, and change the "
                    "practice's with `casenotes retention rules set`",
                )
            )
    return found


def shared_rules(
    vault: Vault, shared: PracticeRules, local: Mapping[str, Any], settings_file: Path, now: dt.datetime
) -> list[Finding]:
    """In a group practice, the machines whose nightly check names other retention rules
    than ``shared``, the ones this machine applies: no purge runs anywhere until they agree.
    ``local``: the ``retention:`` mapping of this machine's casenotes.yml (``settings_file``)."""
    window = shared.heard_within
    mine = group.rules_of(shared.policy.describe())
    return _rules_files(shared, local, settings_file) + [
        Finding(
            "retention rules",
            "warn",
            f"device {device} purges by other rules ({theirs}) than this machine ({mine}): let the vault "
            "sync (`casenotes retention rules` on each machine shows the version it holds); until they "
            "agree nothing is purged",
        )
        for device, theirs in group.other_rules(vault, list(vault.audit.entries()), now, window, mine).items()
    ]
