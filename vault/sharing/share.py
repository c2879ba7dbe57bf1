"""Share bundles: notes sealed to one colleague, signed by the sender, bound to a consent.

A bundle is one JSON file::

    {"format": "casenotes-share", "version": 1, "sender", "recipient", "consent",
     "created", "expires", "box", "signature"}

``box`` is the contents sealed (crypto_box_seal) to the recipient's X25519 key; the
sender's practitioner key signs every other field, ``box`` included. Inside, canonical
JSON: the same ids and dates again (checked against the outside), the client's label,
the consent's purpose, dates and sections, and the notes as Markdown. Opening refuses a
bundle from a sender the recipient has not added, with a bad signature, for someone
else, or past its date, and says which.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.public import SealedBox

from ..errors import TamperedFile, VaultError
from ..format.encoding import b64, canonical, is_id, unb64
from ..format.keys import Practitioner
from ..format.redact import Plaintext
from ..store.colleagues import Colleague

SHARE_FORMAT = "casenotes-share"
SHARE_VERSION = 1


class NotForYou(VaultError):
    template = "{}: this bundle was shared with another practitioner; only they can open it"


class ShareExpired(VaultError):
    template = (
        "{}: the consent it was shared under ran until {}; ask the sender for a new one if still needed"
    )


class UnknownSender(VaultError):
    template = (
        "{}: it comes from practitioner {}, whom you have not added; compare fingerprints by phone, "
        "then `casenotes practitioner add NAME IDENTITY`"
    )


@dataclass(frozen=True, repr=False)
class SharedNotes:
    """An opened bundle. Client data: lives in memory only."""

    sender: Colleague
    client: str
    consent: dict[str, Any]
    created: str
    expires: str
    notes: list[tuple[str, Plaintext]]  # (note id, Markdown)

    def __repr__(self) -> str:
        return f"<SharedNotes from {self.sender.practitioner_id}: {len(self.notes)} notes>"


def seal_bundle(
    sender: Practitioner,
    recipient: Colleague,
    client: str,
    consent: dict[str, Any],
    notes: list[tuple[str, bytes]],
    created: str,
) -> bytes:
    inner = {
        "format": SHARE_FORMAT + "-contents",
        "sender": sender.practitioner_id,
        "recipient": recipient.practitioner_id,
        "client": client,
        "consent": consent,
        "created": created,
        "notes": [{"id": note_id, "text": text.decode("utf-8")} for note_id, text in notes],
    }
    record: dict[str, Any] = {
        "format": SHARE_FORMAT,
        "version": SHARE_VERSION,
        "sender": sender.practitioner_id,
        "recipient": recipient.practitioner_id,
        "consent": consent["consent_id"],
        "created": created,
        "expires": consent["until"],
        "box": b64(SealedBox(recipient.identity.box_public).encrypt(canonical(inner))),
    }
    record["signature"] = b64(sender.signing_key.sign(canonical(record)).signature)
    return canonical(record)


def open_bundle(
    path: Path, data: bytes, me: Practitioner, known: dict[str, Colleague], today: dt.date
) -> SharedNotes:
    try:
        record = json.loads(data)
        if not isinstance(record, dict) or (record.get("format"), record.get("version")) != (
            SHARE_FORMAT,
            SHARE_VERSION,
        ):
            raise ValueError
        unsigned = {k: v for k, v in record.items() if k != "signature"}
        sender_id, recipient_id = str(record["sender"]), str(record["recipient"])
        expires = dt.date.fromisoformat(str(record["expires"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TamperedFile(path, "not a casenotes share bundle (or a damaged one)") from exc
    if not is_id(sender_id) or sender_id not in known:
        raise UnknownSender(path, sender_id if is_id(sender_id) else "?")
    sender = known[sender_id]
    try:
        sender.identity.sign_public.verify(canonical(unsigned), unb64(record.get("signature"), 64))
    except (ValueError, nacl.exceptions.BadSignatureError) as exc:
        raise TamperedFile(
            path, f"the signature of {sender.name} does not match: the bundle was changed"
        ) from exc
    if recipient_id != me.practitioner_id:
        raise NotForYou(path)
    if today > expires:
        raise ShareExpired(path, expires.isoformat())
    try:
        inner = json.loads(me.open_sealed(unb64(record.get("box"))))
        if (inner["sender"], inner["recipient"], inner["consent"]["until"]) != (
            sender_id,
            recipient_id,
            record["expires"],
        ):
            raise ValueError("inside and outside disagree")
        notes = [(str(n["id"]), Plaintext(str(n["text"]).encode("utf-8"))) for n in inner["notes"]]
    except (ValueError, KeyError, TypeError, nacl.exceptions.CryptoError) as exc:
        raise TamperedFile(path, "the bundle's contents do not open or do not match its label") from exc
    return SharedNotes(
        sender, str(inner["client"]), dict(inner["consent"]), str(record["created"]), record["expires"], notes
    )
