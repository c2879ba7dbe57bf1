"""`casenotes doctor`: a privacy and health checkup, one line per check and what to do.

Each check is a function from plain inputs (paths, the vault, file contents) to a
`Finding`, so each can be tested passing and failing; `run_checks` gathers the real
inputs of this machine. Nothing here changes anything.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retention import group
from retention.purge import outlook
from retention.rules import PracticeRules, differs_from_default, shared_part
from site_builder import choose_base
from syncd.editors import Kind, classify, inbox_files
from syncd.lock import DaemonLock
from syncd.state import State
from vault import KDF_PROFILES, Vault
from vault.format import sync_artefacts
from vault.format.constants import PRACTITIONER_KEY_FORMAT
from vault.format.keys import read_record, second_factor
from vault.store import recovery

from . import backups, passphrases
from .config import Practice
from .practice_rules import practice_rules


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # "ok", "warn" or "fail"
    detail: str  # what was found, and (unless ok) what to do

    def line(self) -> str:
        return f"{self.status.upper():<4}  {self.check}: {self.detail}"


def permissions(practice: Practice, device_file: Path) -> Finding:
    name = "permissions"
    for folder in (practice.root, practice.inbox, practice.vault_dir):
        mode = folder.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            return Finding(
                name,
                "fail",
                f"{folder} is open to other users (mode {oct(mode & 0o777)}): chmod 700 {folder}",
            )
    mode = device_file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Finding(name, "fail", f"{device_file} is readable by others: chmod 600 {device_file}")
    return Finding(name, "ok", "only you can open the practice folders and the device key")


def _dm_crypt(device: str, sys_root: Path) -> bool:
    """Whether a block device is a dm-crypt mapping (LUKS), or sits on one."""
    name = Path(os.path.realpath(device)).name
    uuid = sys_root / "block" / name / "dm" / "uuid"
    if uuid.exists() and uuid.read_text().startswith("CRYPT-"):
        return True
    slaves = sys_root / "block" / name / "slaves"
    return slaves.is_dir() and any(_dm_crypt(f"/dev/{s.name}", sys_root) for s in slaves.iterdir())


def encrypted_inbox(
    source: str | None, fstype: str | None, sys_root: Path, platform: str, filevault: str | None
) -> Finding:
    name = "encrypted disk for the inbox"
    if platform == "darwin":
        if filevault and "FileVault is On" in filevault:
            return Finding(name, "ok", "FileVault is on")
        return Finding(
            name,
            "warn",
            "FileVault is not on: drafts in the inbox are plain text; turn it on in System Settings",
        )
    if fstype in ("ecryptfs", "fuse.gocryptfs", "fuse.encfs") or (source and _dm_crypt(source, sys_root)):
        return Finding(name, "ok", f"the inbox lies on an encrypted volume ({source or fstype})")
    if not source:
        return Finding(
            name, "warn", "could not tell which disk holds the inbox: make sure it is encrypted (LUKS)"
        )
    return Finding(
        name,
        "warn",
        f"the inbox lies on {source}, which is not LUKS-encrypted: drafts are plain text until "
        "sealed; encrypt the disk or move the practice",
    )


def encrypted_swap(swaps: str, sys_root: Path) -> Finding:
    name = "encrypted swap"
    devices = [line.split()[0] for line in swaps.splitlines()[1:] if line.strip()]
    plain = [d for d in devices if not Path(d).name.startswith("zram") and not _dm_crypt(d, sys_root)]
    if plain:
        return Finding(
            name,
            "warn",
            f"swap on {', '.join(plain)} is not encrypted: an open client's notes could be paged "
            "to disk; encrypt swap or turn it off",
        )
    return Finding(name, "ok", "no swap, or only encrypted or in-memory swap" if devices else "no swap")


def residue(inbox: Path) -> Finding:
    name = "editor leftovers in the inbox"
    found = [p for p in inbox_files(inbox) if classify(p.relative_to(inbox)) is Kind.RESIDUE]
    if found:
        return Finding(
            name,
            "warn",
            f"{len(found)} editor backup or swap file(s) hold plaintext, e.g. {found[0]}: close the "
            "editor and delete them; docs/syncd.md has settings that avoid them",
        )
    return Finding(name, "ok", "none")


def ram_directory(candidates: list[Path]) -> Finding:
    name = "RAM directory for open"
    base, in_ram = choose_base(candidates)
    if in_ram:
        return Finding(name, "ok", f"{base} (client sites never touch the disk)")
    return Finding(
        name,
        "warn",
        f"no RAM file system found: open builds sites in {base} and wipes them; mount a tmpfs at /dev/shm",
    )


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


def kdf_cost(key_file: Path) -> Finding:
    name = "passphrase hardening (KDF cost)"
    kdf = read_record(key_file, PRACTITIONER_KEY_FORMAT)["kdf"]
    moderate = KDF_PROFILES["moderate"]
    if kdf["opslimit"] < moderate.opslimit or kdf["memlimit"] < moderate.memlimit:
        return Finding(
            name,
            "warn",
            f"below the moderate profile ({kdf['memlimit'] // 2**20} MiB): a stolen vault is "
            "cheaper to attack; `casenotes passphrase --kdf moderate` raises it",
        )
    return Finding(name, "ok", f"Argon2id, {kdf['opslimit']} passes, {kdf['memlimit'] // 2**20} MiB")


def same_disk(path: Path, vault_root: Path) -> bool:
    """Whether ``path`` lies on the file system that holds the vault (same st_dev)."""
    try:
        return path.stat().st_dev == vault_root.stat().st_dev
    except OSError:
        return False


def second_factor_on(key_record: Path, key_file: Path | None, vault_root: Path) -> Finding:
    """Whether the key asks for a key file, and whether the one named lies apart from the vault."""
    name = "second factor (key file)"
    if second_factor(read_record(key_record, PRACTITIONER_KEY_FORMAT), key_record) is None:
        return Finding(
            name,
            "warn",
            "off: the passphrase alone unlocks your key, so a shoulder-surfed passphrase and a stolen "
            "laptop open every note; `casenotes passphrase --key-file /media/usb/casenotes.key` adds one",
        )
    if key_file is None:
        return Finding(name, "ok", "on: your key asks for a key file besides the passphrase")
    if same_disk(key_file, vault_root):
        return Finding(
            name,
            "warn",
            f"on, but the key file {key_file} lies on the practice's own disk: whoever takes the disk "
            "takes both factors; keep it on a USB stick and point --key-file or CASENOTES_KEY_FILE there",
        )
    return Finding(name, "ok", f"on; the key file {key_file} lies apart from the vault's disk")


def recovery_set_up(status: recovery.RecoveryStatus | None) -> Finding:
    name = "recovery and professional will"
    if status is None:
        return Finding(
            name,
            "warn",
            "no recovery set up: a forgotten passphrase, your death or incapacity leaves every note "
            "unreadable to anyone; `casenotes recovery create --shares 3 --threshold 2`, then give each "
            "custodian a share and `casenotes custodian letter`",
        )
    return Finding(
        name,
        "ok",
        f"{status.threshold} of {status.shares} custodians' shares reset the passphrase "
        f"(set {status.created[:10]})",
    )


def device_registered(vault: Vault) -> Finding:
    name = "this machine's device key"
    if vault.device.device_id in vault.trust.device_keys():
        return Finding(name, "ok", f"device {vault.device.device_id} is registered")
    return Finding(
        name,
        "fail",
        "not registered in this vault (or its registration was changed): run `casenotes device register`",
    )


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


def sync_engine(practice: Practice) -> Finding:
    """A vault replicated by a sync engine: only ``vault/`` shared, with casenotes' ignore
    list, and no version folder keeping old copies (a purged client's key among them)."""
    name = "sync engine"
    for folder in (practice.root, practice.inbox):
        if (folder / ".stfolder").exists():
            return Finding(
                name,
                "fail",
                f"{folder} is a Syncthing folder: the inbox (plaintext drafts) would travel; "
                f"share {practice.vault_dir} only (docs/sharing.md)",
            )
    versions = sync_artefacts.version_folders(practice.vault_dir)
    if versions:
        return Finding(
            name,
            "warn",
            f"the sync engine keeps versions of the vault in {versions[0]}: old copies of key files "
            "outlive a purge until casenotes purges that client there; turn file versioning off for "
            "this folder (Syncthing: Edit Folder > File Versioning > No File Versioning) and delete it",
        )
    if (practice.vault_dir / ".stfolder").exists():
        if not (practice.vault_dir / ".stignore").exists():
            return Finding(
                name,
                "warn",
                f"{practice.vault_dir / '.stignore'} is missing: run `casenotes sync ignore` to write it",
            )
        return Finding(name, "ok", "Syncthing shares the vault only, with casenotes' ignore list")
    return Finding(name, "ok", "no sync engine's folder marker in the practice")


def syncd_running(practice: Practice) -> Finding:
    holder = DaemonLock(practice.state_dir / "syncd.lock").holder()
    if holder:
        return Finding("syncd", "ok", f"running (PID {holder})")
    return Finding(
        "syncd",
        "warn",
        "not running: notes are not sealed and backups not taken; `casenotes syncd --install`",
    )


def _filevault() -> str | None:
    try:
        return subprocess.run(["fdesetup", "status"], capture_output=True, text=True, timeout=10).stdout  # noqa: S607
    except OSError:
        return None


def _mount_of(path: Path) -> tuple[str | None, str | None]:
    try:
        out = subprocess.run(  # noqa: S603 (fixed arguments)
            ["findmnt", "-n", "-o", "SOURCE,FSTYPE", "-T", str(path)],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split()
    except OSError:
        return None, None
    return (out[0], out[1]) if len(out) >= 2 else (None, None)


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
    source, fstype = _mount_of(practice.inbox)
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: permissions(practice, vault.device_dir / "device.json"),
        lambda: encrypted_inbox(
            source, fstype, Path("/sys"), sys.platform, _filevault() if sys.platform == "darwin" else None
        ),
        lambda: encrypted_swap(swaps, Path("/sys")),
        lambda: residue(practice.inbox),
        lambda: ram_directory(ram_dirs),
        lambda: kdf_cost(vault.practitioner_file),
        lambda: [found for found in [passphrase_strength(passphrase)] if found],
        lambda: second_factor_on(vault.practitioner_file, key_file, vault.root),
        lambda: recovery_set_up(recovery.status(vault)),
        lambda: device_registered(vault),
        lambda: backups_checked(vault, practice, now),
        lambda: purges(vault, practice, now.date()),
        lambda: rights_requests(vault, now.astimezone().date()),
        lambda: shared_rules(vault, practice, now),
        lambda: syncd_running(practice),
        lambda: sync_engine(practice),
    ]
    findings: list[Finding] = []
    for check in checks:
        result = check()
        findings += result if isinstance(result, list) else [result]
    return findings
