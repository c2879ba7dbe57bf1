"""Retention facts' bytes: one device's facts of a client, and a note's session fact.

A facts record (written to ``clients/<cid>/retention/<did>.json`` by vault/store/retention_files.py;
docs/format.md)::

    {"format", "version", "client_id", "device", "seq", "nonce", "box", "signature"}

``box`` is XChaCha20-Poly1305 under the retention key (`key`: BLAKE2b of nothing, keyed
with the device file's index key, personalised ``RETENTION_KEY_PERSON``), with the
other fields but the signature as associated data: syncd can read it after a reboot,
and someone with the vault alone learns nothing. The device signs the whole record.

A session fact rides in a seal's audit entry (field ``session``): b64 of a 24-byte nonce
and XChaCha20-Poly1305 under the same key, bound to the client and note, of the
canonical JSON ``{"day", "kind"}`` padded with spaces to a multiple of 64 bytes, so
that its length names no template.

What the box holds (the facts themselves, and how they merge) is retention's
(retention/records.py); this module only seals and opens it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.utils
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.signing import VerifyKey

from ..errors import ReadFailed, TamperedFile
from ..errors import reason as os_reason
from .constants import AEAD_NONCE_BYTES, JSON_FORMAT_VERSION, RETENTION_FORMAT, RETENTION_KEY_PERSON
from .encoding import b64, canonical, unb64
from .keys import Device, check_record, sign_record

SESSION_FIELD = "session"  # in a `seal` audit entry: the note's template and session date, sealed
SESSION_PAD = 64  # every session fact seals to the same size, so its length names no template
FORMAT = (RETENTION_FORMAT, JSON_FORMAT_VERSION)


def key(index_key: bytes) -> bytes:
    """The retention key: the index key in a third domain (after handles and content MACs)."""
    return hashlib.blake2b(b"", key=index_key, digest_size=32, person=RETENTION_KEY_PERSON).digest()


def _aad(record: Mapping[str, Any]) -> bytes:
    return canonical({k: record[k] for k in ("format", "version", "client_id", "device", "seq")})


def seal(client_id: str, device: Device, seq: int, facts: Mapping[str, Any], retention_key: bytes) -> bytes:
    """One device's facts of a client, sealed and signed: the bytes of the file."""
    record: dict[str, Any] = {
        "format": RETENTION_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "client_id": client_id,
        "device": device.device_id,
        "seq": seq,
        "nonce": b64(nonce := nacl.utils.random(AEAD_NONCE_BYTES)),
    }
    record["box"] = b64(
        crypto_aead_xchacha20poly1305_ietf_encrypt(canonical(facts), _aad(record), nonce, retention_key)
    )
    return sign_record(record, device.sign)


def read(path: str, device_keys: Mapping[str, VerifyKey] | None) -> dict[str, Any]:
    """A facts record, its signature checked against ``device_keys``; None skips the
    signature (the AEAD still proves a device of this practice wrote it)."""
    if device_keys is not None:
        return check_record(Path(path), RETENTION_FORMAT, device_keys)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ReadFailed(path, os_reason(exc)) from exc
    return unsigned_record(data, path)


def unsigned_record(data: bytes, path: str) -> dict[str, Any]:
    """A facts record from its bytes, its signature not checked (the AEAD still is)."""
    record: Any
    try:
        record = json.loads(data)
    except ValueError:
        record = None  # reported just below
    if not isinstance(record, dict) or (record.get("format"), record.get("version")) != FORMAT:
        raise TamperedFile(path, f"not a {RETENTION_FORMAT} file of a known version")
    return record


def open_facts(
    record: Mapping[str, Any], retention_key: bytes, client_id: str, device_id: str, path: str
) -> tuple[int, dict[str, Any]]:
    """(seq, the facts) of a record read from ``path``, which must be ``client_id``'s facts
    by ``device_id``; a record moved from elsewhere, damaged or forged is TamperedFile."""
    if record.get("client_id") != client_id or record.get("device") != device_id:
        raise TamperedFile(path, "retention facts were moved from another client or device")
    try:
        plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
            unb64(record.get("box")),
            _aad(record),
            unb64(record.get("nonce"), AEAD_NONCE_BYTES),
            retention_key,
        )
        facts = json.loads(plain)
        if not isinstance(facts, dict):
            raise TypeError("not an object")
        return int(record["seq"]), facts
    except (ValueError, TypeError, KeyError, nacl.exceptions.CryptoError) as exc:
        raise TamperedFile(path, "retention facts do not decrypt: damaged or forged") from exc


def _session_aad(client_id: str, note_id: str) -> bytes:
    return canonical({"client": client_id, "note": note_id, "what": SESSION_FIELD})


def seal_session(retention_key: bytes, client_id: str, note_id: str, kind: str, day: str) -> str:
    """A note's session fact, for its seal's audit entry (b64)."""
    plain = canonical({"day": day, "kind": kind})
    plain += b" " * (-len(plain) % SESSION_PAD)  # JSON ignores trailing blanks
    nonce = nacl.utils.random(AEAD_NONCE_BYTES)
    box = crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, _session_aad(client_id, note_id), nonce, retention_key
    )
    return b64(nonce + box)


def open_session(value: object, retention_key: bytes, client_id: str, note_id: str) -> dict[str, Any]:
    """A session fact's ``{"day", "kind"}``; raises ValueError, TypeError, KeyError or
    CryptoError if it does not open (the caller says which entry)."""
    raw = unb64(value)
    fact = json.loads(
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            raw[AEAD_NONCE_BYTES:], _session_aad(client_id, note_id), raw[:AEAD_NONCE_BYTES], retention_key
        )
    )
    if not isinstance(fact, dict):
        raise TypeError("not an object")
    return fact
