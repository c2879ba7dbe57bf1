"""The practitioner's key and this device's: the passphrase's hardening, the second
factor, recovery, and the device's registration."""

from __future__ import annotations

from pathlib import Path

from vault import KDF_PROFILES, Vault
from vault.format.constants import PRACTITIONER_KEY_FORMAT
from vault.format.keys import read_record, second_factor
from vault.store import recovery

from . import Finding


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


def remake_recovery(status: recovery.RecoveryStatus) -> str:
    """The command that makes a set like ``status`` again."""
    return f"casenotes recovery create --shares {status.shares} --threshold {status.threshold}"


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
    if status.outdated_since:
        return Finding(
            name,
            "warn",
            f"your recovery set (made {status.created[:10]}) is older than your key renewal of "
            f"{status.outdated_since[:10]}: its shares open only notes sealed before it; make a new set "
            f"with `{remake_recovery(status)}` and give each custodian their new share",
        )
    return Finding(
        name,
        "ok",
        f"{status.threshold} of {status.shares} custodians' shares reset the passphrase "
        f"(set {status.created[:10]})",
    )


def device_registered(vault: Vault) -> Finding:
    name = "this machine's device key"
    own = vault.device.device_id
    retired = vault.trust.retired().get(own)
    if retired is not None:  # what it signs from now on carries no authority anywhere
        circle = [b if a == own else a for a, b in vault.trust.retire_circles() if own in (a, b)]
        why = (
            f"device {own} and device(s) {', '.join(circle)} retired each other while apart: both stay "
            "retired (`casenotes verify` names them)"
            if circle
            else f"device {own} was retired at {retired}"
        )
        return Finding(
            name,
            "fail",
            f"{why}; notes sealed here are not shown on any machine: register this machine again as a "
            "new device (`casenotes device register`)",
        )
    if own in vault.trust.device_keys():
        return Finding(name, "ok", f"device {own} is registered")
    return Finding(
        name,
        "fail",
        "not registered in this vault (or its registration was changed): run `casenotes device register`",
    )
