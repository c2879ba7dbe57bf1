"""Practitioner and device keys, and the files that hold them (see docs/format.md).

Practitioner key: an X25519 key (to open the client keys sealed to it) and an Ed25519
key (to register devices), wrapped together under a key that Argon2id derives from the
passphrase (and, when the practitioner requires one, a key file: the composite key of
KeePassXC; the record says only that a key file is required). The file stores the KDF
parameters it was made with; reading checks them against sane caps before spending any
memory.

Device key: an Ed25519 signing key kept outside the vault (the user's config dir, mode
0600) so that syncd can sign revisions and audit entries unattended. The vault holds a
registration of its public half, signed by the practitioner.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from .. import durable
from ..errors import (
    KeyFileInvalid,
    KeyFileNeeded,
    ReadFailed,
    TamperedFile,
    VaultError,
    WrongPassphrase,
    WrongPassphraseOrKeyFile,
    reason,
)
from .constants import (
    AEAD_NONCE_BYTES,
    BOX_KEY_STATEMENT,
    DEVICE_FORMAT,
    DEVICE_REGISTRATION_FORMAT,
    JSON_FORMAT_VERSION,
    KDF_ALGORITHM,
    MAX_MEMLIMIT,
    MAX_OPSLIMIT,
    MAX_RETIRED_BOX_KEYS,
    MIN_MEMLIMIT,
    MIN_OPSLIMIT,
    PRACTITIONER_KEY_FORMAT,
    SALT_BYTES,
    SECOND_FACTOR_KEY_FILE,
    KdfParams,
)
from .encoding import b64, canonical, is_id, unb64
from .redact import Passphrase

_WRAP_KEY_BYTES = 32


# -- reading JSON records strictly ------------------------------------------------------
def read_record(
    path: Path, fmt: str, error: Callable[[Path, str], VaultError] = KeyFileInvalid
) -> dict[str, Any]:
    """Load a JSON record of a known format and version, or raise ``error(path, why)``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise error(path, "the file is missing") from exc
    except OSError as exc:
        raise ReadFailed(path, reason(exc)) from exc
    try:
        record = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(path, "not a valid casenotes file (damaged JSON)") from exc
    if not isinstance(record, dict) or record.get("format") != fmt:
        raise error(path, f"not a {fmt} file")
    version = record.get("version")
    if version != JSON_FORMAT_VERSION:
        raise error(path, f"format version {version!r} is unknown to this casenotes (upgrade it)")
    return record


def sign_record(record: dict[str, Any], sign: Callable[[bytes], bytes]) -> bytes:
    """The record, signed over its canonical JSON, as the canonical bytes to write."""
    record["signature"] = b64(sign(canonical(record)))
    return canonical(record)


def signer(key: SigningKey) -> Callable[[bytes], bytes]:
    """A practitioner's signing key as `sign_record` takes it (a device has `Device.sign`)."""
    return lambda message: key.sign(message).signature


def check_record(
    path: Path,
    fmt: str,
    signers: Mapping[str, VerifyKey] | Mapping[str, str],
    signer_field: str = "device",
    unknown: str = "signed by an unregistered device",
) -> dict[str, Any]:
    """A signed record of a known format, if whoever ``signer_field`` names is among
    ``signers`` (keys, or b64 pins) and their signature matches; else TamperedFile."""
    record = read_record(path, fmt, TamperedFile)
    key = signers.get(str(record.get(signer_field, "")))
    if key is None:
        raise TamperedFile(path, unknown)
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    try:
        verify_key = key if isinstance(key, VerifyKey) else VerifyKey(unb64(key, 32))
        verify_key.verify(canonical(unsigned), unb64(record.get("signature"), 64))
    except (ValueError, nacl.exceptions.BadSignatureError) as exc:
        raise TamperedFile(path, "signature does not match: the file was changed") from exc
    return record


def _field(record: dict[str, Any], name: str, path: Path, length: int | None = None) -> bytes:
    try:
        return unb64(record.get(name), length)
    except ValueError as exc:
        raise KeyFileInvalid(path, f"field {name!r}: {exc}") from exc


# -- practitioner key -------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Practitioner:
    """An unlocked practitioner: the private keys live only in this object's memory."""

    practitioner_id: str
    box_key: PrivateKey
    signing_key: SigningKey
    # the encryption keys a passphrase or key-file change replaced, newest first: what was
    # sealed to them before still opens; nothing is sealed to them again
    retired: tuple[PrivateKey, ...] = ()

    def __repr__(self) -> str:
        return f"<Practitioner {self.practitioner_id} (unlocked)>"

    def open_sealed(self, sealed: bytes) -> bytes:
        """Open a box sealed to this practitioner's key, or to one it replaced."""
        for key in (self.box_key, *self.retired):
            try:
                return SealedBox(key).decrypt(sealed)
            except nacl.exceptions.CryptoError:
                continue
        raise nacl.exceptions.CryptoError("sealed to none of this practitioner's keys")


def check_kdf(record: dict[str, Any], path: Path) -> tuple[bytes, KdfParams]:
    kdf = record.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("algorithm") != KDF_ALGORITHM:
        raise KeyFileInvalid(path, "unknown key-derivation algorithm")
    ops, mem = kdf.get("opslimit"), kdf.get("memlimit")
    if not (isinstance(ops, int) and MIN_OPSLIMIT <= ops <= MAX_OPSLIMIT):
        raise KeyFileInvalid(path, f"KDF opslimit outside {MIN_OPSLIMIT}..{MAX_OPSLIMIT}")
    if not (isinstance(mem, int) and MIN_MEMLIMIT <= mem <= MAX_MEMLIMIT):
        raise KeyFileInvalid(path, f"KDF memlimit outside {MIN_MEMLIMIT}..{MAX_MEMLIMIT}")
    try:
        salt = unb64(kdf.get("salt"), SALT_BYTES)
    except ValueError as exc:
        raise KeyFileInvalid(path, f"KDF salt: {exc}") from exc
    return salt, KdfParams(ops, mem)


def second_factor(record: dict[str, Any], path: Path) -> str | None:
    """What the key asks for besides the passphrase: None, or SECOND_FACTOR_KEY_FILE."""
    factor = record.get("second_factor")
    if factor not in (None, SECOND_FACTOR_KEY_FILE):
        raise KeyFileInvalid(path, f"second factor {factor!r} is unknown to this casenotes (upgrade it)")
    return factor


def _derive(passphrase: Passphrase, salt: bytes, params: KdfParams, factor: str | None) -> bytes:
    secret = passphrase.encode()
    if factor == SECOND_FACTOR_KEY_FILE:
        key_file = passphrase.key_file
        if key_file is None:
            raise ValueError("a key file is required")  # callers check first: KeyFileNeeded
        secret = hashlib.sha256(hashlib.sha256(secret).digest() + key_file.digest).digest()
    import nacl.pwhash.argon2id as argon2id  # only a key derivation loads it

    return argon2id.kdf(
        _WRAP_KEY_BYTES,
        secret,
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def _public_part(record: dict[str, Any]) -> bytes:
    """What the wrapped secret is bound to: every field but the wrapped secret itself."""
    return canonical({k: v for k, v in record.items() if k != "wrapped"})


def practitioner_secret(practitioner: Practitioner) -> bytes:
    """What every wrapped copy holds: the X25519 private key, the Ed25519 seed, then the
    X25519 keys it replaced, newest first (none before the first renewal: 64 bytes)."""
    retired = b"".join(bytes(key) for key in practitioner.retired)
    return bytes(practitioner.box_key) + bytes(practitioner.signing_key) + retired


def secret_length_fits(length: int) -> bool:
    """Whether a wrapped secret of ``length`` bytes is one `practitioner_secret` makes."""
    extra = length - 64
    return extra >= 0 and extra % 32 == 0 and extra // 32 <= MAX_RETIRED_BOX_KEYS


def practitioner_from_secret(practitioner_id: str, secret: bytes) -> Practitioner:
    retired = tuple(PrivateKey(secret[i : i + 32]) for i in range(64, len(secret), 32))
    return Practitioner(practitioner_id, PrivateKey(secret[:32]), SigningKey(secret[32:64]), retired)


def renewed(practitioner: Practitioner) -> Practitioner:
    """The practitioner with a new encryption key, the current one retired (kept to open
    what was sealed to it). The signing key stays: devices, colleagues and every signed
    record name it."""
    retired = (practitioner.box_key, *practitioner.retired)[:MAX_RETIRED_BOX_KEYS]
    return Practitioner(
        practitioner.practitioner_id, PrivateKey.generate(), practitioner.signing_key, retired
    )


def box_statement(practitioner_id: str, box_public: bytes) -> bytes:
    """What a practitioner's signing key signs to vouch for their current encryption key."""
    return canonical(
        {"statement": BOX_KEY_STATEMENT, "practitioner_id": practitioner_id, "box_public": b64(box_public)}
    )


def signed_box_key(record: dict[str, Any], sign_public: VerifyKey) -> PublicKey | None:
    """The record's encryption key, if ``sign_public`` signed it (``box_signed``), else None."""
    try:
        box = unb64(record.get("box_public"), 32)
        sign_public.verify(
            box_statement(str(record.get("practitioner_id")), box), unb64(record.get("box_signed"), 64)
        )
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError):
        return None
    return PublicKey(box)


def wrap_practitioner(
    practitioner: Practitioner, passphrase: Passphrase, params: KdfParams
) -> dict[str, Any]:
    """A practitioner key record with the private keys wrapped under the passphrase, and
    under the key file too when ``passphrase`` carries one."""
    salt = nacl.utils.random(SALT_BYTES)
    factor = SECOND_FACTOR_KEY_FILE if passphrase.key_file is not None else None
    record: dict[str, Any] = {
        "format": PRACTITIONER_KEY_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "practitioner_id": practitioner.practitioner_id,
        "box_public": b64(bytes(practitioner.box_key.public_key)),
        "sign_public": b64(bytes(practitioner.signing_key.verify_key)),
        "kdf": {
            "algorithm": KDF_ALGORITHM,
            "salt": b64(salt),
            "opslimit": params.opslimit,
            "memlimit": params.memlimit,
        },
    }
    if factor is not None:
        record["second_factor"] = factor  # bound as associated data like every other field
    # A colleague's machine seals new client keys to the key the practitioner signed, once
    # it differs from the one it pinned (a renewal): the record alone is not signed.
    box_public = bytes(practitioner.box_key.public_key)
    statement = box_statement(practitioner.practitioner_id, box_public)
    record["box_signed"] = b64(practitioner.signing_key.sign(statement).signature)
    nonce = nacl.utils.random(AEAD_NONCE_BYTES)
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        practitioner_secret(practitioner),
        _public_part(record),
        nonce,
        _derive(passphrase, salt, params, factor),
    )
    record["wrapped"] = b64(nonce + sealed)
    return record


def public_keys(record: dict[str, Any], path: Path) -> tuple[PublicKey, VerifyKey]:
    if not is_id(record.get("practitioner_id")):
        raise KeyFileInvalid(path, "practitioner id is malformed")
    return (
        PublicKey(_field(record, "box_public", path, 32)),
        VerifyKey(_field(record, "sign_public", path, 32)),
    )


def unlock_practitioner(path: Path, passphrase: Passphrase) -> Practitioner:
    """Open a practitioner key file. WrongPassphrase if the passphrase does not fit;
    KeyFileNeeded (before any key derivation) if the key asks for a key file and none was
    given; WrongPassphraseOrKeyFile if it asks for one and the pair does not fit. A key
    file given to a key that asks for none is not used."""
    record = read_record(path, PRACTITIONER_KEY_FORMAT)
    public_keys(record, path)
    salt, params = check_kdf(record, path)
    factor = second_factor(record, path)
    if factor == SECOND_FACTOR_KEY_FILE and passphrase.key_file is None:
        raise KeyFileNeeded(path)
    wrapped = _field(record, "wrapped", path)
    if not secret_length_fits(len(wrapped) - AEAD_NONCE_BYTES - 16):
        raise KeyFileInvalid(path, "wrapped key has the wrong length")
    try:
        secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            wrapped[AEAD_NONCE_BYTES:],
            _public_part(record),
            wrapped[:AEAD_NONCE_BYTES],
            _derive(passphrase, salt, params, factor),
        )
    except nacl.exceptions.CryptoError as exc:
        # Indistinguishable by design from an edited public field; both mean "not this key".
        raise (WrongPassphraseOrKeyFile(path) if factor else WrongPassphrase(path)) from exc
    return checked_practitioner(record, secret, path)


def checked_practitioner(record: dict[str, Any], secret: bytes, path: Path) -> Practitioner:
    """The practitioner a 64-byte secret holds, if its public keys are the record's."""
    box_public, sign_public = public_keys(record, path)
    practitioner = practitioner_from_secret(record["practitioner_id"], secret)
    if practitioner.box_key.public_key != box_public or practitioner.signing_key.verify_key != sign_public:
        raise KeyFileInvalid(path, "the private and public keys do not match")
    return practitioner


# -- device key -------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Device:
    """This machine's signing key, plus what it needs to work without a passphrase."""

    device_id: str
    practice_id: str
    practitioner_id: str  # whose device this is
    signing_key: SigningKey
    index_key: bytes  # keys the blinded handle index; see vault/store/clients.py
    trusted: dict[str, str]  # practitioner id -> Ed25519 public key (b64), pinned here
    # practitioner id -> X25519 public key (b64), pinned too: client keys are sealed to it
    trusted_box: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Device {self.device_id}>"

    def sign(self, message: bytes) -> bytes:
        return self.signing_key.sign(message).signature


def save_device(path: Path, device: Device) -> None:
    record = {
        "format": DEVICE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device_id": device.device_id,
        "practice_id": device.practice_id,
        "practitioner_id": device.practitioner_id,
        "sign_seed": b64(bytes(device.signing_key)),
        "index_key": b64(device.index_key),
        "trusted_practitioners": device.trusted,
        "trusted_box_keys": device.trusted_box,
    }
    durable.replace(path, canonical(record))
    os.chmod(path, durable.FILE_MODE)


def load_device(path: Path) -> Device:
    record = read_record(path, DEVICE_FORMAT)
    trusted = record.get("trusted_practitioners")
    ids = ("device_id", "practice_id", "practitioner_id")
    if not all(is_id(record.get(name)) for name in ids):
        raise KeyFileInvalid(path, "an id in the device file is malformed")
    if not isinstance(trusted, dict) or not all(is_id(k) for k in trusted):
        raise KeyFileInvalid(path, "trusted practitioners are malformed")
    return Device(
        record["device_id"],
        record["practice_id"],
        record["practitioner_id"],
        SigningKey(_field(record, "sign_seed", path, 32)),
        _field(record, "index_key", path, 32),
        dict(trusted),
        _pins(record.get("trusted_box_keys", {}), path),
    )


def _pins(value: object, path: Path) -> dict[str, str]:
    if not isinstance(value, dict) or not all(is_id(k) and isinstance(v, str) for k, v in value.items()):
        raise KeyFileInvalid(path, "trusted box keys are malformed")
    return dict(value)


def registration(device: Device, practitioner: Practitioner, when: str) -> dict[str, Any]:
    """The vault's record that a practitioner vouches for a device's signing key."""
    record: dict[str, Any] = {
        "format": DEVICE_REGISTRATION_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device_id": device.device_id,
        "sign_public": b64(bytes(device.signing_key.verify_key)),
        "practitioner_id": practitioner.practitioner_id,
        "registered_at": when,
    }
    record["signature"] = b64(practitioner.signing_key.sign(canonical(record)).signature)
    return record


def check_registration(path: Path, trusted: dict[str, str]) -> VerifyKey:
    """A registered device's public key, if a pinned practitioner signed it."""
    record = check_record(
        path,
        DEVICE_REGISTRATION_FORMAT,
        trusted,
        "practitioner_id",
        "device registered by no trusted practitioner",
    )
    if record.get("device_id") != path.stem:
        raise TamperedFile(path, "device registered by no trusted practitioner")
    try:
        return VerifyKey(unb64(record.get("sign_public"), 32))
    except ValueError as exc:
        raise TamperedFile(path, "device registration signature is invalid") from exc
