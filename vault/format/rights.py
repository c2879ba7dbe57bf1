"""The bytes of a client's rights records, which ride in audit entries (docs/format.md).

Two seals, for two readers:

- a **fact** (``seal_fact``): what the clocks and the accounting of disclosures need
  without the passphrase (a request's kind and dates; a disclosure's date, recipient,
  purpose and description). XChaCha20-Poly1305 under the retention key (the device's index
  key in the retention domain: vault/format/retention_facts.py), associated data the
  canonical JSON ``{"client", "id", "what": "rights"}``, so a fact moved to another client
  or record does not open. It survives the client's purge, as a disposal certificate does:
  it holds no clinical content (the commands say so), and the law keeps the accounting of
  disclosures six years whatever the record's own retention.
- a **text** (``seal_text``): what only someone holding the client's key may read (the
  request's own words, a denial's reason, an outcome). A SealedBox to the client's public
  key: sealed with public keys alone, and crypto-shredded with the client.

Both pad their plaintext with spaces to a multiple of 64 bytes: a length names no kind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import nacl.exceptions
import nacl.utils
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.public import PrivateKey, PublicKey, SealedBox

from .constants import AEAD_NONCE_BYTES, RIGHTS_FACT_WHAT
from .encoding import b64, canonical, unb64

PAD = 64


class Unreadable(ValueError):
    """A sealed rights value does not open: damaged, moved, or its key is gone."""


def _padded(fields: Mapping[str, Any]) -> bytes:
    plain = canonical(dict(fields))
    return plain + b" " * (-len(plain) % PAD)  # JSON ignores trailing blanks


def _loaded(plain: bytes) -> dict[str, Any]:
    found = json.loads(plain)
    if not isinstance(found, dict):
        raise Unreadable("not an object")
    return found


def _aad(client_id: str, record_id: str) -> bytes:
    return canonical({"client": client_id, "id": record_id, "what": RIGHTS_FACT_WHAT})


def seal_fact(key: bytes, client_id: str, record_id: str, fields: Mapping[str, Any]) -> str:
    """b64 of a nonce and the AEAD of ``fields`` under ``key`` (the retention key)."""
    nonce = nacl.utils.random(AEAD_NONCE_BYTES)
    box = crypto_aead_xchacha20poly1305_ietf_encrypt(_padded(fields), _aad(client_id, record_id), nonce, key)
    return b64(nonce + box)


def open_fact(value: object, key: bytes, client_id: str, record_id: str) -> dict[str, Any]:
    try:
        raw = unb64(value)
        plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
            raw[AEAD_NONCE_BYTES:], _aad(client_id, record_id), raw[:AEAD_NONCE_BYTES], key
        )
        return _loaded(plain)
    except (ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
        raise Unreadable(str(exc)) from exc


def seal_text(public: PublicKey, client_id: str, record_id: str, fields: Mapping[str, Any]) -> str:
    """b64 of a SealedBox to the client's key; the ids ride inside and are checked on opening."""
    return b64(SealedBox(public).encrypt(_padded({"client": client_id, "id": record_id, **fields})))


def open_text(value: object, keys: Sequence[PrivateKey], client_id: str, record_id: str) -> dict[str, Any]:
    """Opened with whichever of the client's key generations sealed it."""
    try:
        raw = unb64(value)
    except (ValueError, TypeError) as exc:
        raise Unreadable(str(exc)) from exc
    for key in keys:
        try:
            found = _loaded(SealedBox(key).decrypt(raw))
        except nacl.exceptions.CryptoError:
            continue
        if found.pop("client", None) != client_id or found.pop("id", None) != record_id:
            raise Unreadable("sealed for another client or record")
        return found
    raise Unreadable("no key of this client opens it")
