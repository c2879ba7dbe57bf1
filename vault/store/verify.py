"""`casenotes verify`: check the whole vault without a passphrase.

Every revision must parse, carry a valid signature of a registered device, and lie in
the folder and under the name its header states. Revision numbers of a note must run
1..N without a gap, and every revision the audit log recorded as sealed must still be
there, byte for byte: so a deleted revision is found even when it was the newest one
(a purged client's revisions excepted: the log records the purge).

A vault replicated by a sync engine (docs/sharing.md) also holds what the engine made
(vault/format/sync_artefacts.py): temp files, its own bookkeeping and version folders
are passed over; a conflict copy is reported with how to resolve it. While sync is in
flight, another device's audit log can arrive before the revisions it records, or its
checkpoint before its log: a finding of something absent (`Problem.missing`) is worded
"not yet synced" while any file of another device's in ``audit/`` or ``devices/`` changed
on this disk within `SYNC_GRACE`; after that it is damage, as on a single machine.

Files of a client another device purged, arriving after the purge (vault/store/purged.py),
are no client to check: they are reported once, with what casenotes does and what to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from ..errors import Problem, TamperedFile
from ..format import sync_artefacts
from . import colleagues as team
from . import facts_index, forks, key_renewal, ledger, purged
from .audit import Entry
from .authority import Judge
from .client_keys import ROTATION_EVENTS
from .clients import read_index_entry
from .handles import index_refusal
from .revisions import REVISION_NAME
from .vault import Vault

# How long after another device's audit log or registration last changed here a missing
# file of its is taken to be still on its way: Syncthing delivers a folder within seconds
# to minutes of two machines seeing each other, so 15 minutes covers a slow first sync
# without letting a deletion pass for long.
SYNC_GRACE = dt.timedelta(minutes=15)
NOT_YET_SYNCED = (
    "not yet synced: another device's files are still arriving; run `casenotes verify` again "
    "once the sync engine shows the folder up to date"
)


def verify(vault: Vault) -> list[Problem]:
    key_renewal.adopt(vault)  # a passphrase change cut short after its switch: not a swapped key
    bad = vault.trust.bad_registrations() + vault.keyring.bad_practitioner_keys()
    bad += team.read_all(vault.root, vault.trust.trusted_signers())[1]  # a colleague's own adds too
    problems = [Problem(e.path, e.why) for e in bad] + _retire_circles(vault) + _late_recovery(vault)
    keys = vault.trust.device_keys()
    problems += vault.audit.verify(keys)
    for path in sync_artefacts.glob(vault.root / "index", "*.json"):
        try:
            client_id, device_id = read_index_entry(path, keys)
        except TamperedFile as exc:
            problems.append(Problem(exc.path, exc.why))
            continue
        if why := index_refusal(vault, path, client_id, device_id):
            problems.append(Problem(path, why))
    purges = purged.signed(vault)
    # A forged purge line excuses nothing, nor does another device's purge not agreed to here.
    entries = ledger.agreed_purges(purged.trusted(vault.audit.entries(), purges), vault.device.device_id)
    gone = purged.gone(purges, vault.device.device_id)
    # Not yet set aside: while sync is in flight, maybe only the purge's deletions on their way.
    problems += [
        Problem(r.path, r.describe(), missing=not r.set_aside, revived=True)
        for r in purged.revived(vault.root, purges, vault.device.device_id)
    ]
    for client_id in vault.client_ids():
        if client_id in gone:
            continue
        problems += _check(lambda c=client_id: vault.keyring.client_generations(c))  # client.json and keys/
        problems += _late_grants(vault, client_id)
        records = vault.client_dir(client_id) / "records"
        judge = Judge(vault.keyring, client_id)
        for folder in sorted(records.iterdir()) if records.exists() else []:
            problems += _check_note(vault, folder, judge)
    problems += _check_ledger(vault, entries, set(gone) | purged.begun(purges, vault.device.device_id))
    for client_id, purge, why in purged.refusals(purges, vault.device.device_id):
        problems.append(
            Problem(
                vault.root / "audit" / f"{purge.device}.log",
                f"the purge of client {client_id} begun by device {purge.device} of practitioner "
                f"{vault.trust.registrant(purge.device) or 'unknown'} at {purge.time} is refused on this "
                f"machine ({why}): every file of the client is kept here; if it was meant, run "
                "`casenotes retention purge` on this machine once the client is due",
            )
        )
    problems += _renewal_cut_short(vault, ledger.problems(vault.root, entries, vault.trust.registrant))
    problems += _artefacts(vault) + _sync_ignore(vault)
    if not facts_index.check(vault):  # rebuilt already: the next command reads the vault's facts
        problems.append(
            Problem(
                facts_index.index_path(vault),
                "this machine's facts index disagreed with the vault (damaged, or the audit log was "
                "changed behind it); it was rebuilt from the vault, nothing else is needed",
            )
        )
    forked = forks.everywhere(vault, lambda c: Judge(vault.keyring, c), vault.device.device_id, thorough=True)
    problems += [
        Problem(f.tips[0].parent, forks.describe(f, vault.trust.registrant), conflict=True) for f in forked
    ]
    if any(p.missing for p in problems) and sync_in_flight(vault):
        problems = [
            Problem(p.path, f"{p.why}; {NOT_YET_SYNCED}", missing=True, revived=p.revived) if p.missing else p
            for p in problems
        ]
    return problems


def _retire_circles(vault: Vault) -> list[Problem]:
    """Devices that retired each other while apart (vault/store/retired.py `settle`)."""
    from . import retired

    return [
        Problem(
            retired.path_for(vault.root, a),
            f"devices {a} and {b} of practitioner {vault.trust.registrant(a) or 'unknown'} retired each "
            "other while apart: which machine was lost cannot be told, so both stay retired and neither "
            "one's later files carry authority; register the machine you kept again as a new device "
            "(`casenotes device register`) and keep a key file off the laptop's disk "
            "(`casenotes passphrase --key-file`), so that a thief with the passphrase retires nothing",
            conflict=True,
        )
        for a, b in vault.trust.retire_circles()
    ]


def _renewal_cut_short(vault: Vault, problems: list[Problem]) -> list[Problem]:
    """The key files a passphrase change cut short rewrote before its audit entry are not
    "replaced": one sentence says how to finish it instead."""
    if not key_renewal.switched(vault):
        return problems
    folder = vault.practitioner_file.parent
    own = {
        vault.practitioner_file,
        *(folder / f"{vault.device.practitioner_id}{s}" for s in (".index", ".recovery")),
    }
    why = (
        "a passphrase or key-file change was cut short before it was recorded: run any command that "
        "asks for the passphrase, with the new one, to finish it"
    )
    return [p for p in problems if p.path not in own] + [Problem(vault.practitioner_file, why)]


def sync_in_flight(vault: Vault, grace: dt.timedelta = SYNC_GRACE) -> bool:
    """Whether another device's audit log, checkpoint or registration arrived (changed on this
    disk: its ctime, which a sync engine's rename sets) within ``grace``."""
    own = vault.device.device_id
    since = (vault.clock() - grace).timestamp()
    for folder in (vault.root / "audit", vault.root / "devices"):
        for path in sync_artefacts.glob(folder, "*"):
            if path.stem == own:
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if max(st.st_ctime, st.st_mtime) >= since:
                return True
    return False


def _artefacts(vault: Vault) -> list[Problem]:
    """Conflict copies, with how to resolve each; other sync artefacts are not casenotes'."""
    return [
        Problem(path, sync_artefacts.conflict_advice(vault.root, path), conflict=True)
        for path, kind in sync_artefacts.find(vault.root)
        if kind == "conflict"
    ]


def _sync_ignore(vault: Vault) -> list[Problem]:
    """A ``.stignore`` other than casenotes' (one missing is doctor's to report: vaults made
    before it existed have none): edited, it can let a sync engine carry this machine's
    half-written files and a purged client's folder being removed, or keep vault files from
    the other machines."""
    path = vault.root / ".stignore"
    try:
        same = path.read_bytes() == sync_artefacts.STIGNORE.encode()
    except FileNotFoundError:
        return []
    if same:
        return []
    return [
        Problem(
            path,
            "differs from the one casenotes writes (changed by hand, or by someone who can write the "
            "folder): run `casenotes sync ignore` to write it again",
        )
    ]


def _late_recovery(vault: Vault) -> list[Problem]:
    """A practitioner's recovery set written from a retired device after its retire: no
    renewal seals the new key to it (vault/store/key_renewal.py)."""
    problems = []
    for pid in vault.device.trusted:
        path = vault.root / "practitioners" / f"{pid}.recovery"
        if path.exists() and (why := vault.trust.late_file(path)):
            fix = "no renewal seals a key to it: make a new set (`casenotes recovery create`)"
            problems.append(Problem(path, f"refused: a recovery set {why}; {fix}"))
    return problems


def _late_grants(vault: Vault, client_id: str) -> list[Problem]:
    """Access files a retired device recorded after its retire: they give no access."""
    try:
        return [Problem(e.path, e.why) for e in vault.keyring.late_grants(client_id)]
    except TamperedFile:
        return []  # client.json or a key file does not check: reported above


def _check(action: object) -> list[Problem]:
    try:
        action()  # type: ignore[operator]
    except TamperedFile as exc:
        return [Problem(exc.path, exc.why)]
    return []


def _check_note(vault: Vault, folder: Path, judge: Judge) -> list[Problem]:
    problems: list[Problem] = []
    numbers = []
    others = False
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".tmp-"):
            continue  # a write interrupted by a crash: never linked into place, safe to delete
        if sync_artefacts.is_artefact(path.name):
            continue  # a sync engine's: a conflict copy is reported once, by _artefacts
        if not REVISION_NAME.match(path.name):
            problems.append(Problem(path, "not a revision file (unexpected name)"))
            continue
        try:
            numbers.append(int(path.name[:6]))
            others = others or path.name[7:23] != vault.device.device_id
            parsed = vault.load(path)
            vault.check_place(parsed, path)
            if why := judge(parsed.header):  # signed, but by someone not entitled to: never believed
                problems.append(Problem(path, why))
        except TamperedFile as exc:
            numbers.pop()
            unregistered = "unregistered device" in exc.why  # its registration may be on its way
            problems.append(Problem(exc.path, exc.why, missing=unregistered))
    for missing in sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers)):
        problems.append(Problem(folder, f"revision {missing} is missing", missing=others))
    return problems


def _check_ledger(vault: Vault, entries: list[Entry], purged: set[str]) -> list[Problem]:
    """Each revision the audit log saw sealed, and each client key a revoke made, is still
    present and unchanged, unless the client is ``purged`` (crypto-shredding: by this
    device, or by another one this device agreed to)."""
    ledger = []
    for e in entries:
        if e.data.get("client") in purged:
            continue
        if e.event == "seal":
            ledger.append(
                (e.data.get("file"), e.data.get("sha256"), f"revision sealed at {e.time}", e.device)
            )
        elif e.event in ROTATION_EVENTS:  # deleting it seals new notes to the old key
            ledger.append(
                (e.data.get("key_file"), e.data.get("sha256"), f"client key made at {e.time}", e.device)
            )
    problems = []
    own = vault.device.device_id
    for relative, digest, what, device in ledger:
        path = vault.root / str(relative or "")
        if not path.is_file():
            problems.append(Problem(path, f"{what} is missing (deleted?)", missing=device != own))
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(Problem(path, f"{what} differs from the one recorded (replaced?)"))
    return problems
