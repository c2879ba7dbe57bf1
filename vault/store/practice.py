"""Making a practice, and registering another machine (a new laptop, a restore) for one."""

from __future__ import annotations

from pathlib import Path

import nacl.utils
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from .. import durable
from ..errors import NotAPractice, PracticeExists, TamperedFile, VaultError, WrongPassphrase
from ..format import sync_artefacts
from ..format.constants import JSON_FORMAT_VERSION, PRACTICE_FORMAT, PRACTITIONER_KEY_FORMAT, KdfParams
from ..format.encoding import Clock, b64, canonical, new_id, stamp, utc_now
from ..format.keys import (
    Device,
    Practitioner,
    check_registration,
    public_keys,
    read_record,
    registration,
    save_device,
    unlock_practitioner,
    wrap_practitioner,
)
from ..format.redact import Passphrase
from . import audit, ledger
from .vault import Vault


class NotYetAdded(VaultError):
    template = (
        "{}: your key is in this practice, but no colleague has added you yet: ask one to run "
        "`casenotes practitioner add YOUR-NAME <your identity>`, then run this again"
    )


def _device(practice_id: str, practitioner: Practitioner, index_key: bytes) -> Device:
    """A new device of this practitioner, pinning their keys."""
    return Device(
        new_id(),
        practice_id,
        practitioner.practitioner_id,
        SigningKey.generate(),
        index_key,
        {practitioner.practitioner_id: b64(bytes(practitioner.signing_key.verify_key))},
        {practitioner.practitioner_id: b64(bytes(practitioner.box_key.public_key))},
    )


def create_practice(
    root: Path, config_dir: Path, passphrase: Passphrase, kdf: KdfParams, clock: Clock = utc_now
) -> Vault:
    """A new vault with one practitioner and this machine registered as its device."""
    if (root / "practice.json").exists():
        raise PracticeExists(root)
    practice_id = new_id()
    practitioner = Practitioner(new_id(), PrivateKey.generate(), SigningKey.generate())
    device = _device(practice_id, practitioner, nacl.utils.random(32))
    when = stamp(clock())
    pid, did = practitioner.practitioner_id, device.device_id
    durable.make_dirs(root)
    durable.write_new(
        root / "practitioners" / f"{pid}.json", canonical(wrap_practitioner(practitioner, passphrase, kdf))
    )
    durable.write_new(
        root / "practitioners" / f"{pid}.index",
        SealedBox(practitioner.box_key.public_key).encrypt(device.index_key),
    )
    durable.write_new(root / "devices" / f"{did}.json", canonical(registration(device, practitioner, when)))
    save_device(config_dir / practice_id / "device.json", device)
    # practice.json last: until it exists, the folder is not a practice, and init can rerun.
    record = {
        "format": PRACTICE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "practice_id": practice_id,
        "created": when,
    }
    durable.write_new(root / "practice.json", canonical(record))
    write_sync_ignore(root)
    vault = Vault(root, config_dir, clock)
    vault.audit.append(
        "init",
        practitioner=pid,
        kdf_opslimit=kdf.opslimit,
        kdf_memlimit=kdf.memlimit,
        files=ledger.files(root, *[root / "practitioners" / f"{pid}{ext}" for ext in (".json", ".index")]),
    )
    vault.audit.checkpoint()
    return vault


def register_device(root: Path, config_dir: Path, passphrase: Passphrase, clock: Clock = utc_now) -> Vault:
    """Register this machine for a vault that has no device key here (a restore, a new laptop,
    a colleague joining). The passphrase proves the practitioner; their key vouches for the
    new device, and the handle-index key is unsealed from the vault."""
    practice = root / "practice.json"
    if not practice.exists():
        raise NotAPractice(root)
    practice_id = str(read_record(practice, PRACTICE_FORMAT, TamperedFile)["practice_id"])
    refused: WrongPassphrase = WrongPassphrase(root / "practitioners")
    for key_file in sync_artefacts.glob(root / "practitioners", "*.json"):
        try:
            practitioner = unlock_practitioner(key_file, passphrase)
            break
        except WrongPassphrase as exc:
            if type(exc) is not WrongPassphrase:
                refused = exc  # a key that asks for a key file: say so, not just "wrong"
            continue
    else:
        raise refused
    index_file = root / "practitioners" / f"{practitioner.practitioner_id}.index"
    if not index_file.exists():
        raise NotYetAdded(root)
    _check_index_key(root, practitioner, index_file)
    device = _device(practice_id, practitioner, practitioner.open_sealed(index_file.read_bytes()))
    durable.write_new(
        root / "devices" / f"{device.device_id}.json",
        canonical(registration(device, practitioner, stamp(clock()))),
    )
    save_device(config_dir / practice_id / "device.json", device)
    write_sync_ignore(root)
    vault = Vault(root, config_dir, clock)
    vault.audit.append(
        "device-registered",
        practitioner=practitioner.practitioner_id,
        files=ledger.files(root, key_file, index_file),
    )
    return vault


def write_sync_ignore(root: Path) -> Path:
    """``vault/.stignore``, the files of this machine a sync engine must not carry (Syncthing
    reads it; docs/sharing.md). Rewritten only when it differs: the engine does not sync it."""
    path = root / ".stignore"
    wanted = sync_artefacts.STIGNORE.encode()
    try:
        same = path.read_bytes() == wanted
    except FileNotFoundError:
        same = False
    if not same:
        durable.replace(path, wanted)
    return path


def _check_index_key(root: Path, practitioner: Practitioner, index_file: Path) -> None:
    """Before a new device takes the handle-index key, the audit logs of the practitioner's
    own devices must vouch for it: a key swapped in by whoever can write the folder would
    otherwise key this device's index and retention facts. (A colleague's first device has
    no such log yet: the colleague who added them wrote it.)"""
    own = {practitioner.practitioner_id: b64(bytes(practitioner.signing_key.verify_key))}
    devices = {}
    for path in sync_artefacts.glob(root / "devices", "*.json"):
        try:
            devices[path.stem] = check_registration(path, own)
        except TamperedFile:
            continue  # another practitioner's device, or a forged one: it vouches for nothing here
    if not devices:
        # A colleague's first device: no log of their own to ask. The colleague who added
        # them recorded the key they wrote; whoever swapped or planted one since must at
        # least forge a practitioner, a device and its log, which verify reports elsewhere.
        devices = _practice_devices(root)
    entries = audit.vouching_entries(root / "audit", devices)
    if problem := ledger.vouch(root, index_file, entries):
        raise TamperedFile(problem.path, problem.why)


def _practice_devices(root: Path) -> dict[str, VerifyKey]:
    """Every device registered by a practitioner whose key file is in this vault."""
    signers = {}
    for key_file in sorted((root / "practitioners").glob("*.json")):
        try:
            sign = public_keys(read_record(key_file, PRACTITIONER_KEY_FORMAT), key_file)[1]
        except VaultError:
            continue
        signers[key_file.stem] = b64(bytes(sign))
    devices = {}
    for path in sorted((root / "devices").glob("*.json")):
        try:
            devices[path.stem] = check_registration(path, signers)
        except VaultError:
            continue
    return devices
