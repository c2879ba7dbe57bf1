"""Canonical JSON and base64: the byte-exact encodings that signatures cover."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .constants import ID_BYTES

_ID = re.compile(rf"^[0-9a-f]{{{2 * ID_BYTES}}}$")


def canonical(obj: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: one byte string per value, so it can be signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, length: int | None = None) -> bytes:
    """Decode strict base64, optionally of an exact length; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not valid base64") from exc
    if length is not None and len(data) != length:
        raise ValueError(f"expected {length} bytes, found {len(data)}")
    return data


def new_id() -> str:
    return secrets.token_hex(ID_BYTES)


def is_id(text: object) -> bool:
    return isinstance(text, str) and bool(_ID.match(text))


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A moment as the vault writes it: UTC, to the second (``2026-11-27T03:30:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
