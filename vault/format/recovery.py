"""The recovery copy of a practitioner key, and the SLIP-39 shares that open it.

A recovery key (``RECOVERY_SECRET_BYTES`` random bytes) is split by SLIP-39 (the
``shamir-mnemonic`` package, Trezor's reference implementation) into N mnemonic shares,
any K of which give it back; fewer reveal nothing of it (Shamir's scheme, as SLIP-39
specifies it). The recovery record holds a second wrapped copy of the practitioner's
secret under a key derived from the recovery key, so K custodians together can set a new
passphrase without knowing the old one. The record stores N, K and when it was made;
never a share, nor anything derived from one but the wrapped copy and the public half of
an X25519 key derived from the recovery key (``box_public``): when a passphrase or key-file
change renews the practitioner's keys, the renewed secret is sealed to it (``renewed``),
so the same shares open notes sealed after the change (vault/store/key_renewal.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
import shamir_mnemonic
from nacl.public import PrivateKey, PublicKey, SealedBox
from shamir_mnemonic.share import Share

from ..errors import KeyFileInvalid, RecoveryFailed
from .constants import (
    AEAD_NONCE_BYTES,
    JSON_FORMAT_VERSION,
    MAX_RECOVERY_SHARES,
    RECOVERY_BOX_PERSON,
    RECOVERY_FORMAT,
    RECOVERY_KEY_PERSON,
    RECOVERY_SECRET_BYTES,
    SLIP39_ITERATION_EXPONENT,
)
from .encoding import b64, canonical, unb64
from .keys import secret_length_fits


def check_counts(shares: int, threshold: int) -> str | None:
    """Why N shares with threshold K cannot be made, or None."""
    if not 1 <= threshold <= shares <= MAX_RECOVERY_SHARES:
        return f"the threshold must be at least 1 and at most the number of shares (1..{MAX_RECOVERY_SHARES})"
    if threshold == 1 and shares > 1:
        return "a threshold of 1 would let any single share open the vault: choose 2 or more (or 1 share)"
    return None


def split(shares: int, threshold: int) -> tuple[bytes, list[str]]:
    """A new random recovery key, and its N SLIP-39 mnemonic shares (K open it)."""
    why = check_counts(shares, threshold)
    if why:
        raise ValueError(why)
    secret = nacl.utils.random(RECOVERY_SECRET_BYTES)
    groups = shamir_mnemonic.generate_mnemonics(
        1, [(threshold, shares)], secret, iteration_exponent=SLIP39_ITERATION_EXPONENT
    )
    return secret, list(groups[0])


def combine(mnemonics: list[str]) -> bytes:
    """The recovery key K shares give back; RecoveryFailed (naming shares by number only,
    never by their words) when they are malformed, mixed, repeated or too few."""
    parsed = []
    for number, mnemonic in enumerate(mnemonics, 1):
        try:
            parsed.append(Share.from_mnemonic(" ".join(mnemonic.lower().split())))
        except shamir_mnemonic.MnemonicError:
            raise RecoveryFailed(
                f"share {number} is not a valid recovery share (a word misspelt, missing or out of order)"
            ) from None
    if not parsed:
        raise RecoveryFailed("no share was given")
    if len({(s.identifier, s.group_threshold, s.group_count) for s in parsed}) > 1:
        raise RecoveryFailed("the shares come from different recovery sets")
    if len({s.index for s in parsed}) < len(parsed):
        raise RecoveryFailed("the same share was given twice")
    needed = parsed[0].member_threshold
    if len(parsed) < needed:
        raise RecoveryFailed(
            f"{len(parsed)} share(s) given, {needed} needed: fewer reveal nothing of the recovery key"
        )
    try:
        return shamir_mnemonic.combine_mnemonics([s.mnemonic() for s in parsed[:needed]])
    except shamir_mnemonic.MnemonicError:
        raise RecoveryFailed("the shares do not fit together") from None


def _wrap_key(secret: bytes) -> bytes:
    # The recovery key is uniform random bytes: a keyed-hash step, not a slow KDF, suffices.
    return hashlib.blake2b(secret, digest_size=32, person=RECOVERY_KEY_PERSON).digest()


def _box_key(secret: bytes) -> PrivateKey:
    return PrivateKey(hashlib.blake2b(secret, digest_size=32, person=RECOVERY_BOX_PERSON).digest())


def _public_part(record: dict[str, Any]) -> bytes:
    # "renewed" is added later, by whoever holds no recovery key: it is not bound
    return canonical({k: v for k, v in record.items() if k not in ("wrapped", "renewed")})


def wrap(
    practitioner_id: str,
    practitioner_secret: bytes,
    recovery_key: bytes,
    shares: int,
    threshold: int,
    when: str,
) -> dict[str, Any]:
    """The recovery record: the practitioner's secret wrapped under the recovery key."""
    record: dict[str, Any] = {
        "format": RECOVERY_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "practitioner_id": practitioner_id,
        "created": when,
        "shares": shares,
        "threshold": threshold,
        "box_public": b64(bytes(_box_key(recovery_key).public_key)),
    }
    nonce = nacl.utils.random(AEAD_NONCE_BYTES)
    sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        practitioner_secret, _public_part(record), nonce, _wrap_key(recovery_key)
    )
    record["wrapped"] = b64(nonce + sealed)
    return record


def counts(record: dict[str, Any], path: Path) -> tuple[int, int]:
    """(N shares, threshold K) of a recovery record."""
    shares, threshold = record.get("shares"), record.get("threshold")
    if not (isinstance(shares, int) and isinstance(threshold, int)) or check_counts(shares, threshold):
        raise KeyFileInvalid(path, "the share counts are malformed")
    return shares, threshold


def renewable(record: dict[str, Any]) -> bool:
    """Whether a renewed secret can be sealed to this record (made by casenotes 0.x with
    ``box_public``; an older set must be made again to open notes sealed after a renewal)."""
    return isinstance(record.get("box_public"), str)


def renew(record: dict[str, Any], secret: bytes, path: Path) -> dict[str, Any]:
    """The record with ``secret`` (a renewed practitioner's) sealed to its recovery key."""
    try:
        public = PublicKey(unb64(record.get("box_public"), 32))
    except ValueError as exc:
        raise KeyFileInvalid(path, f"field 'box_public': {exc}") from exc
    return {**record, "renewed": b64(SealedBox(public).encrypt(secret))}


def unwrap(record: dict[str, Any], recovery_key: bytes, path: Path) -> list[bytes]:
    """The practitioner's secrets these shares' recovery key opens in this record: the
    renewed one first, if a renewal sealed one to it, then the wrapped copy."""
    counts(record, path)
    try:
        wrapped = unb64(record.get("wrapped"))
    except ValueError as exc:
        raise KeyFileInvalid(path, f"field 'wrapped': {exc}") from exc
    if not secret_length_fits(len(wrapped) - AEAD_NONCE_BYTES - 16):
        raise KeyFileInvalid(path, "field 'wrapped' has the wrong length")
    first = _unwrap(record, wrapped, recovery_key)
    if "renewed" not in record:
        return [first]
    try:
        renewed = SealedBox(_box_key(recovery_key)).decrypt(unb64(record.get("renewed")))
    except (ValueError, nacl.exceptions.CryptoError) as exc:
        raise KeyFileInvalid(path, "the renewed copy does not open with these shares (damaged?)") from exc
    if not secret_length_fits(len(renewed)):
        raise KeyFileInvalid(path, "the renewed copy has the wrong length")
    return [renewed, first]


def _unwrap(record: dict[str, Any], wrapped: bytes, recovery_key: bytes) -> bytes:
    try:
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            wrapped[AEAD_NONCE_BYTES:],
            _public_part(record),
            wrapped[:AEAD_NONCE_BYTES],
            _wrap_key(recovery_key),
        )
    except nacl.exceptions.CryptoError:
        raise RecoveryFailed(
            "these shares do not open this practitioner's recovery copy: they belong to a retired set "
            "(replaced by a later `casenotes recovery create`) or to another practice"
        ) from None
