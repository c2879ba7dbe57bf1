"""This machine's side of the practice: folder modes, disk and swap encryption, the RAM
directory `open` builds in, editor leftovers in the inbox, syncd, and a sync engine."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Protocol

from site_builder import choose_base
from syncd.editors import Kind, classify, inbox_files
from syncd.lock import DaemonLock
from vault.format import sync_artefacts

from . import Finding


class Folders(Protocol):
    """The practice's folders (casenotes' Practice has them)."""

    @property
    def root(self) -> Path: ...
    @property
    def inbox(self) -> Path: ...
    @property
    def vault_dir(self) -> Path: ...
    @property
    def state_dir(self) -> Path: ...


def permissions(practice: Folders, device_file: Path) -> Finding:
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


def sync_engine(practice: Folders) -> Finding:
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


def syncd_running(practice: Folders) -> Finding:
    holder = DaemonLock(practice.state_dir / "syncd.lock").holder()
    if holder:
        return Finding("syncd", "ok", f"running (PID {holder})")
    return Finding(
        "syncd",
        "warn",
        "not running: notes are not sealed and backups not taken; `casenotes syncd --install`",
    )


def filevault() -> str | None:
    try:
        return subprocess.run(["fdesetup", "status"], capture_output=True, text=True, timeout=10).stdout  # noqa: S607
    except OSError:
        return None


def mount_of(path: Path) -> tuple[str | None, str | None]:
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
