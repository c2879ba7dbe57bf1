"""Wrappers whose repr never shows what they hold, so no log line or traceback can."""

from __future__ import annotations

import hashlib


class KeyFile:
    """The second factor: a hash of a key file's bytes (the bytes themselves are not kept).

    Like KeePassXC's composite key, the key file's SHA-256 is what enters the key
    derivation, so any file of any size can serve, and its content never lingers here.
    """

    __slots__ = ("_digest",)

    def __init__(self, digest: bytes) -> None:
        if not isinstance(digest, bytes) or len(digest) != hashlib.sha256().digest_size:
            raise TypeError("a key file is held as its 32-byte SHA-256")
        self._digest = digest

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyFile:
        return cls(hashlib.sha256(data).digest())

    @property
    def digest(self) -> bytes:
        return self._digest

    def __repr__(self) -> str:
        return '<KeyFile "***hidden***">'

    __str__ = __repr__


class Passphrase:
    """A passphrase, and the key file that goes with it when the practitioner requires one
    (what KeePassXC calls the composite key); ``repr`` and ``str`` are redacted, the bytes
    are only taken on purpose."""

    __slots__ = ("_value", "_key_file")

    def __init__(self, value: str, key_file: KeyFile | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError("a passphrase is text")
        self._value = value
        self._key_file = key_file

    def encode(self) -> bytes:
        return self._value.encode("utf-8")

    @property
    def key_file(self) -> KeyFile | None:
        return self._key_file

    def with_key_file(self, key_file: KeyFile | None) -> Passphrase:
        """The same passphrase with another (or no) key file."""
        return Passphrase(self._value, key_file)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return '<Passphrase "***hidden***">'

    __str__ = __repr__


class Plaintext(bytes):
    """Decrypted note bytes: behave as bytes, print as a size only."""

    def __repr__(self) -> str:
        return f"<Plaintext {len(self)} bytes>"

    __str__ = __repr__
