"""A client's written consent to share their records, kept sealed with their notes.

A consent is a record of kind ``consent`` in the client's ``records/`` (encrypted to the
client's key like a note, so the vault alone shows only that some record exists); the
scanned form, if given, is a record of kind ``attachment`` beside it, and the consent
holds its SHA-256. Revoking seals a new revision with the date: nothing is erased, so
what was shared, and under which consent, stays on record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, replace

from ..errors import VaultError
from ..format.encoding import canonical, new_id
from ..format.keys import Practitioner
from ..store.vault import Vault


class UnknownConsent(VaultError):
    template = "client {} has no consent {}: `casenotes consent list HANDLE` shows them"


class ConsentNotInForce(VaultError):
    template = "consent {} is not in force ({}): nothing was shared; record a new consent first"


@dataclass(frozen=True, repr=False)
class Consent:
    """What the client agreed to: to whom, why, which dates and sections. Client data."""

    consent_id: str
    to: str  # the recipient's practitioner id
    to_name: str
    purpose: str
    given: str  # YYYY-MM-DD
    start: str | None  # share notes from this session date on (None: from the first)
    until: str  # the consent, and anything shared under it, expires after this day
    sections: tuple[str, ...] = ()  # note sections to share; empty: whole notes
    psychotherapy: bool = False  # psychotherapy (process) notes named explicitly
    document: str | None = None  # attachment record id of the signed form
    document_sha256: str | None = None
    revoked: str | None = None

    def __repr__(self) -> str:
        return f"<Consent {self.consent_id}>"

    def why_not_in_force(self, today: dt.date) -> str | None:
        if self.revoked:
            return f"revoked on {self.revoked}"
        if today > dt.date.fromisoformat(self.until):
            return f"expired on {self.until}"
        if today < dt.date.fromisoformat(self.given):
            return f"given only on {self.given}"
        return None

    def to_bytes(self) -> bytes:
        return canonical(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> Consent:
        fields = json.loads(data)
        fields["sections"] = tuple(fields.get("sections", ()))
        return cls(**fields)


def add(vault: Vault, client_id: str, consent: Consent, document: bytes | None = None) -> Consent:
    """Seal a consent (and its scanned form). Needs no passphrase: public keys only."""
    if document is not None:
        attachment = new_id()
        vault.seal_record(client_id, attachment, document, "attachment", final=True)
        consent = replace(consent, document=attachment, document_sha256=hashlib.sha256(document).hexdigest())
    vault.seal_record(client_id, consent.consent_id, consent.to_bytes(), "consent")
    vault.audit.append("consent-add", client=client_id, consent=consent.consent_id, to=consent.to)
    return consent


def consents(vault: Vault, practitioner: Practitioner, client_id: str) -> list[Consent]:
    """Every consent of a client, newest revision of each, oldest given first (audited)."""
    return on_file(vault, practitioner, client_id, vault.note_ids(client_id))


def on_file(vault: Vault, practitioner: Practitioner, client_id: str, record_ids: list[str]) -> list[Consent]:
    """The consents among ``record_ids`` (the records a read of the client's notes passed
    over as consents): each opened, the client's other records not even listed (audited)."""
    keys = vault.keyring.client_keys(practitioner, client_id)
    found = []
    for record_id in record_ids:
        path = vault.revisions(client_id, record_id)[-1][2]
        parsed = vault.load(path)
        if parsed.header.kind == "consent":
            found.append(Consent.from_bytes(vault.open_revision(path, keys, parsed)[1]))
    vault.audit.append("decrypt-consents", client=client_id, practitioner=practitioner.practitioner_id)
    return sorted(found, key=lambda c: (c.given, c.consent_id))


def find(vault: Vault, practitioner: Practitioner, client_id: str, consent_id: str) -> Consent:
    for consent in consents(vault, practitioner, client_id):
        if consent.consent_id == consent_id:
            return consent
    raise UnknownConsent(client_id, consent_id)


def revoke(vault: Vault, practitioner: Practitioner, client_id: str, consent_id: str, on: dt.date) -> Consent:
    consent = replace(find(vault, practitioner, client_id, consent_id), revoked=on.isoformat())
    vault.seal_record(client_id, consent_id, consent.to_bytes(), "consent")
    vault.audit.append("consent-revoke", client=client_id, consent=consent_id)
    return consent
