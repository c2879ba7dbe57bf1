"""The note revision format: seal and open one revision (byte layout in docs/format.md).

A fresh random file key encrypts the padded note with XChaCha20-Poly1305; the file key
is sealed to the client's X25519 public key; the header (client, note, revision, ...)
is the AEAD's associated data, and the device signs every byte before the signature.
Decoding is strict: any flipped, added or missing byte is an error, never a shorter note.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import VerifyKey

from ..errors import NoteTooLarge, TamperedFile
from .constants import (
    AEAD_NONCE_BYTES,
    CONTENT_MAC_BYTES,
    FILE_KEY_BYTES,
    MAX_HEADER_BYTES,
    MAX_PLAINTEXT_BYTES,
    MIN_BUCKET,
    POW2_BUCKET_LIMIT,
    REVISION_MAGIC,
    REVISION_VERSION,
    SEALED_KEY_BYTES,
    SIGNATURE_BYTES,
)
from .encoding import canonical, is_id
from .keys import Device
from .redact import Plaintext

_PREFIX = struct.Struct(">8sHH")  # magic, format version, header length
_LENGTH = struct.Struct(">I")
_MAC_BYTES = 16
RecordKind = Literal["note", "profile", "consent", "attachment"]
RECORD_KINDS = ("note", "profile", "consent", "attachment")
MERGED_NAME = re.compile(r"^\d{6}-[0-9a-f]{16}$")  # a revision file's stem


@dataclass(frozen=True)
class RevisionHeader:
    """The clear header of a revision: ids, counts and times only, never note content."""

    client: str
    note: str
    revision: int
    device: str
    kind: RecordKind
    final: bool
    sealed_at: str
    content_mac: str  # keyed hash of the plaintext: tells "unchanged" without decrypting
    # A merge revision (`casenotes resolve`) names the revisions of a fork it settles, as
    # ``<rev>-<device>`` file stems; absent from the header of every other revision.
    merges: tuple[str, ...] = ()

    def fields(self) -> dict[str, object]:
        found = asdict(self)
        if not self.merges:
            del found["merges"]
        else:
            found["merges"] = list(self.merges)
        return found


@dataclass(frozen=True, repr=False)
class ParsedRevision:
    header: RevisionHeader
    associated: bytes  # magic + version + header: the AEAD's associated data
    sealed_key: bytes
    nonce: bytes
    ciphertext: bytes
    signed: bytes  # every byte before the signature
    signature: bytes


def bucket(size: int) -> int:
    """The padded size for ``size`` bytes: a power of two from 1 KiB, then whole MiB."""
    if size <= POW2_BUCKET_LIMIT:
        return max(MIN_BUCKET, 1 << (size - 1).bit_length())
    return -(-size // POW2_BUCKET_LIMIT) * POW2_BUCKET_LIMIT


def pad(body: bytes) -> bytes:
    framed = _LENGTH.pack(len(body)) + body
    return framed + bytes(bucket(len(framed)) - len(framed))


def unpad(padded: bytes, path: Path) -> Plaintext:
    if len(padded) < _LENGTH.size:
        raise TamperedFile(path, "padding is damaged")
    (length,) = _LENGTH.unpack_from(padded)
    end = _LENGTH.size + length
    if end > len(padded) or any(padded[end:]):
        raise TamperedFile(path, "padding is damaged")
    return Plaintext(padded[_LENGTH.size : end])


def seal(
    header: RevisionHeader, body: bytes, client_public: PublicKey, device: Device
) -> tuple[bytes, bytes]:
    """The revision's bytes, and the file key (kept in memory to check the read-back)."""
    if len(body) > MAX_PLAINTEXT_BYTES:
        raise NoteTooLarge(header.note, MAX_PLAINTEXT_BYTES)
    header_bytes = canonical(header.fields())
    associated = _PREFIX.pack(REVISION_MAGIC, REVISION_VERSION, len(header_bytes)) + header_bytes
    file_key = nacl.utils.random(FILE_KEY_BYTES)
    nonce = nacl.utils.random(AEAD_NONCE_BYTES)
    ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pad(body), associated, nonce, file_key)
    signed = (
        associated
        + SealedBox(client_public).encrypt(file_key)
        + nonce
        + _LENGTH.pack(len(ciphertext))
        + ciphertext
    )
    return signed + device.sign(signed), file_key


def _header(raw: bytes, path: Path) -> RevisionHeader:
    try:
        fields = json.loads(raw)
        merges = fields.get("merges", ()) if isinstance(fields, dict) else ()
        header = RevisionHeader(**{**fields, "merges": tuple(merges) if isinstance(merges, list) else merges})
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise TamperedFile(path, "revision header is damaged") from exc
    if canonical(fields) != raw:
        raise TamperedFile(path, "revision header is not in canonical form")
    ok = (
        is_id(header.client)
        and (is_id(header.note) or header.kind == "profile")
        and is_id(header.device)
        and type(header.revision) is int
        and header.revision >= 1
        and header.kind in RECORD_KINDS
        and isinstance(header.final, bool)
        and isinstance(header.sealed_at, str)
        and isinstance(header.content_mac, str)
        and len(header.content_mac) == 2 * CONTENT_MAC_BYTES
        and isinstance(header.merges, tuple)
        and ("merges" in fields) == bool(header.merges)
        and all(isinstance(m, str) and MERGED_NAME.match(m) for m in header.merges)
    )
    if not ok:
        raise TamperedFile(path, "revision header has an invalid field")
    return header


def _header_length(data: bytes, path: Path) -> int:
    """The header's length from a revision file's prefix, once its magic and version check."""
    if len(data) < _PREFIX.size:
        raise TamperedFile(path, "file is truncated")
    magic, version, header_len = _PREFIX.unpack_from(data)
    if magic != REVISION_MAGIC:
        raise TamperedFile(path, "not a casenotes revision")
    if version != REVISION_VERSION:
        raise TamperedFile(path, f"revision format {version} is unknown to this casenotes")
    return int(header_len)


def read_header(path: Path) -> RevisionHeader:
    """A revision file's header alone (its first bytes), checked as parse checks it; no
    signature, no crypto: for an order or a listing, never for what is shown."""
    with path.open("rb") as file:
        data = file.read(_PREFIX.size + MAX_HEADER_BYTES)
    header_len = _header_length(data, path)
    if header_len > MAX_HEADER_BYTES or len(data) < _PREFIX.size + header_len:
        raise TamperedFile(path, "revision header is too long or truncated")
    return _header(data[_PREFIX.size : _PREFIX.size + header_len], path)


def parse(data: bytes, path: Path) -> ParsedRevision:
    """Split a revision file into its parts, checking every length; no crypto yet."""
    header_len = _header_length(data, path)
    if header_len > MAX_HEADER_BYTES:
        raise TamperedFile(path, "revision header is too long")
    at = _PREFIX.size + header_len
    fixed = SEALED_KEY_BYTES + AEAD_NONCE_BYTES + _LENGTH.size
    if len(data) < at + fixed + SIGNATURE_BYTES:
        raise TamperedFile(path, "file is truncated")
    header = _header(data[_PREFIX.size : at], path)
    sealed_key = data[at : at + SEALED_KEY_BYTES]
    nonce = data[at + SEALED_KEY_BYTES : at + SEALED_KEY_BYTES + AEAD_NONCE_BYTES]
    (ct_len,) = _LENGTH.unpack_from(data, at + fixed - _LENGTH.size)
    end = at + fixed + ct_len
    if ct_len < _MAC_BYTES or len(data) != end + SIGNATURE_BYTES:
        raise TamperedFile(path, "file is truncated or has extra bytes")
    return ParsedRevision(
        header, data[:at], sealed_key, nonce, data[at + fixed : end], data[:end], data[end:]
    )


def check_signature(parsed: ParsedRevision, path: Path, device_key: VerifyKey) -> None:
    try:
        device_key.verify(parsed.signed, parsed.signature)
    except nacl.exceptions.BadSignatureError as exc:
        raise TamperedFile(path, "signature does not match: the file was changed or forged") from exc


def decrypt_with_file_key(parsed: ParsedRevision, file_key: bytes, path: Path) -> Plaintext:
    try:
        padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            parsed.ciphertext, parsed.associated, parsed.nonce, file_key
        )
    except nacl.exceptions.CryptoError as exc:
        raise TamperedFile(path, "ciphertext does not authenticate") from exc
    return unpad(padded, path)


def decrypt(parsed: ParsedRevision, client_key: PrivateKey, path: Path) -> Plaintext:
    try:
        file_key = SealedBox(client_key).decrypt(parsed.sealed_key)
    except nacl.exceptions.CryptoError as exc:
        raise TamperedFile(path, "file key does not open with this client's key") from exc
    return decrypt_with_file_key(parsed, file_key, path)
