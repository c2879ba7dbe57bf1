"""`casenotes doctor`: a privacy and health checkup, one line per check and what to do.

The checks are in checkup/: this machine (machine.py), its keys (keys.py), and what the
practice owes (duties.py: backups, disposals, retention rules, clients' requests). Here
is `run_checks`, which gathers their real inputs from this machine and the practice's
configuration (its backup targets, the retention rules it applies), and the one check of
casenotes' own passphrase rule. Nothing here changes anything.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from checkup import Finding, duties, keys, machine
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
    """The backup targets of casenotes.yml, and the last full verify syncd recorded."""
    last_verify = State.load(practice.state_dir / "state.json").jobs.get("backup-verify")
    return duties.backups_checked(
        vault,
        backups.targets(practice),
        last_verify,
        now,
        lambda target: backups.on_same_disk(target, practice),
    )


def purges(vault: Vault, practice: Practice, today: dt.date) -> Finding:
    """Disposals due under the retention rules this machine applies."""
    return duties.purges(vault, practice_rules(practice, vault).policy, today)


def shared_rules(vault: Vault, practice: Practice, now: dt.datetime) -> list[Finding]:
    """The rules this machine applies, against the vault's files and the other machines'."""
    shared = practice_rules(practice, vault)
    return duties.shared_rules(vault, shared, practice.settings().retention, practice.settings_file, now)


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
        lambda: duties.rights_requests(vault, now.astimezone().date()),
        lambda: shared_rules(vault, practice, now),
        lambda: machine.syncd_running(practice),
        lambda: machine.sync_engine(practice),
    ]
    findings: list[Finding] = []
    for check in checks:
        result = check()
        findings += result if isinstance(result, list) else [result]
    return findings
