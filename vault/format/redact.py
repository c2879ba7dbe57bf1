"""Wrappers whose repr never shows what they hold, so no log line or traceback can."""

from __future__ import annotations


class Passphrase:
    """A passphrase; ``repr`` and ``str`` are redacted, the bytes are only taken on purpose."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a passphrase is text")
        self._value = value

    def encode(self) -> bytes:
        return self._value.encode("utf-8")

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
