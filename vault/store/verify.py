"""`casenotes verify`: check the whole vault without a passphrase.

Every revision must parse, carry a valid signature of a registered device, and lie in
the folder and under the name its header states. Revision numbers of a note must run
1..N without a gap, and every revision the audit log recorded as sealed must still be
there, byte for byte: so a deleted revision is found even when it was the newest one
(a purged client's revisions excepted: the log records the purge).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import Problem, TamperedFile
from . import colleagues as team
from . import ledger
from .clients import read_index_record
from .vault import REVISION_NAME, Vault


def verify(vault: Vault) -> list[Problem]:
    bad = vault.trust.bad_registrations() + vault.keyring.bad_practitioner_keys()
    bad += team.read_all(vault.root, vault.trust.trusted_signers())[1]  # a colleague's own adds too
    problems = [Problem(e.path, e.why) for e in bad]
    keys = vault.trust.device_keys()
    problems += vault.audit.verify(keys)
    for path in sorted((vault.root / "index").glob("*.json")):
        problems += _check(lambda p=path: read_index_record(p, keys))
    for client_id in vault.client_ids():
        problems += _check(lambda c=client_id: vault.keyring.client_generations(c))  # client.json and keys/
        records = vault.client_dir(client_id) / "records"
        for folder in sorted(records.iterdir()) if records.exists() else []:
            problems += _check_note(vault, folder)
    problems += _check_ledger(vault)
    problems += ledger.problems(vault.root, vault.audit.entries())
    return problems


def _check(action: object) -> list[Problem]:
    try:
        action()  # type: ignore[operator]
    except TamperedFile as exc:
        return [Problem(exc.path, exc.why)]
    return []


def _check_note(vault: Vault, folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    numbers = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".tmp-"):
            continue  # a write interrupted by a crash: never linked into place, safe to delete
        if not REVISION_NAME.match(path.name):
            problems.append(Problem(path, "not a revision file (unexpected name)"))
            continue
        try:
            vault.check_place(vault.load(path), path)
            numbers.append(int(path.name[:6]))
        except TamperedFile as exc:
            problems.append(Problem(exc.path, exc.why))
    for missing in sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers)):
        problems.append(Problem(folder, f"revision {missing} is missing"))
    return problems


def _check_ledger(vault: Vault) -> list[Problem]:
    """Each revision the audit log saw sealed, and each client key a revoke made, is still
    present and unchanged, unless the log also shows the client purged (crypto-shredding)."""
    entries = list(vault.audit.entries())
    purged = {e.data.get("client") for e in entries if e.event == "purge-begin"}
    ledger = []
    for e in entries:
        if e.data.get("client") in purged:
            continue
        if e.event == "seal":
            ledger.append((e.data.get("file"), e.data.get("sha256"), f"revision sealed at {e.time}"))
        elif e.event == "access-revoke":  # deleting it would seal new notes to the old key again
            ledger.append((e.data.get("key_file"), e.data.get("sha256"), f"client key made at {e.time}"))
    problems = []
    for relative, digest, what in ledger:
        path = vault.root / str(relative or "")
        if not path.is_file():
            problems.append(Problem(path, f"{what} is missing (deleted?)"))
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(Problem(path, f"{what} differs from the one recorded (replaced?)"))
    return problems
