"""Practitioners' public identities, and the colleagues a practitioner has vouched for.

An identity is one line a colleague can paste (``casenotes identity export``)::

    casenotes-identity-1:<practitioner id>:<X25519 public, b64>:<Ed25519 public, b64>:<signature>

The signature, by the Ed25519 key, binds the encryption key to it. Its fingerprint (the
first 80 bits of a SHA-256 over the same fields, in groups of four hex digits) is what
two people compare by phone before trusting it.

``casenotes practitioner add NAME IDENTITY`` stores ``colleagues/<pid>-<by>.json``: the
colleague's name and keys, signed by the practitioner who added them (``by``). A device
trusts the practitioners pinned in its own file and every colleague one of them signed
for: one step, never a chain. So a practitioner's other machines learn a colleague from
the vault, and someone with write access to the vault alone cannot add one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from .. import durable
from ..errors import NotAPractice, TamperedFile, VaultError
from ..format import sync_artefacts
from ..format.constants import JSON_FORMAT_VERSION, KdfParams
from ..format.encoding import b64, canonical, is_id, new_id, unb64
from ..format.keys import Practitioner, check_record, sign_record, signer, wrap_practitioner
from ..format.redact import Passphrase

IDENTITY_PREFIX = "casenotes-identity-1"
COLLEAGUE_FORMAT = "casenotes-colleague"


class IdentityInvalid(VaultError):
    template = "that is not a casenotes identity ({}): ask for the line `casenotes identity export` prints"


class UnknownPractitioner(VaultError):
    template = "no colleague is called {!r} here: `casenotes practitioner list` shows them"


class NameTaken(VaultError):
    template = "another colleague is already called {!r}: add this one under a name that tells them apart"


class ColleagueExists(VaultError):
    template = "{} is already known (as {!r}); nothing was changed"


@dataclass(frozen=True)
class Identity:
    practitioner_id: str
    box_public: PublicKey
    sign_public: VerifyKey

    def _fields(self) -> bytes:
        return canonical(
            [IDENTITY_PREFIX, self.practitioner_id, b64(bytes(self.box_public)), b64(bytes(self.sign_public))]
        )

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self._fields()).hexdigest()[:20]
        return " ".join(digest[i : i + 4] for i in range(0, 20, 4))

    def export(self, signing_key: SigningKey) -> str:
        if signing_key.verify_key != self.sign_public:
            raise ValueError("not this identity's signing key")
        signature = signing_key.sign(self._fields()).signature
        parts = [
            IDENTITY_PREFIX,
            self.practitioner_id,
            b64(bytes(self.box_public)),
            b64(bytes(self.sign_public)),
        ]
        return ":".join([*parts, b64(signature)])


def parse_identity(text: str) -> Identity:
    parts = text.strip().split(":")
    if len(parts) != 5 or parts[0] != IDENTITY_PREFIX:
        raise IdentityInvalid("it does not start with casenotes-identity-1 or is cut short")
    if not is_id(parts[1]):
        raise IdentityInvalid("the practitioner id is malformed")
    try:
        identity = Identity(parts[1], PublicKey(unb64(parts[2], 32)), VerifyKey(unb64(parts[3], 32)))
        identity.sign_public.verify(identity._fields(), unb64(parts[4], 64))
    except (ValueError, nacl.exceptions.BadSignatureError) as exc:
        raise IdentityInvalid("its signature does not match: copy it again, whole") from exc
    return identity


@dataclass(frozen=True)
class Colleague:
    name: str
    identity: Identity
    added_by: str

    @property
    def practitioner_id(self) -> str:
        return self.identity.practitioner_id


def colleague_record(
    name: str, identity: Identity, signer_id: str, signing_key: SigningKey, when: str
) -> bytes:
    record: dict[str, Any] = {
        "format": COLLEAGUE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "name": name,
        "practitioner_id": identity.practitioner_id,
        "box_public": b64(bytes(identity.box_public)),
        "sign_public": b64(bytes(identity.sign_public)),
        "added_by": signer_id,
        "added_at": when,
    }
    return sign_record(record, signer(signing_key))


def read_colleague(path: Path, trusted: dict[str, str]) -> Colleague:
    """A colleague record, if a practitioner this device pins signed it."""
    record = check_record(
        path, COLLEAGUE_FORMAT, trusted, "added_by", "colleague added by no practitioner this device trusts"
    )
    if path.stem != f"{record.get('practitioner_id')}-{record.get('added_by')}":
        raise TamperedFile(path, "colleague record was renamed")
    try:
        identity = Identity(
            str(record["practitioner_id"]),
            PublicKey(unb64(record.get("box_public"), 32)),
            VerifyKey(unb64(record.get("sign_public"), 32)),
        )
    except (ValueError, KeyError) as exc:
        raise TamperedFile(path, "colleague record's keys are damaged") from exc
    return Colleague(str(record.get("name")), identity, str(record["added_by"]))


def read_all(root: Path, trusted: dict[str, str]) -> tuple[list[Colleague], list[TamperedFile]]:
    """Every colleague a trusted practitioner added, and every record that fails its check."""
    good, bad = [], []
    for path in sync_artefacts.glob(root / "colleagues", "*.json"):
        try:
            good.append(read_colleague(path, trusted))
        except TamperedFile as exc:
            bad.append(exc)
    return good, bad


def path_for(root: Path, colleague: Colleague) -> Path:
    return root / "colleagues" / f"{colleague.practitioner_id}-{colleague.added_by}.json"


def add_colleague(root: Path, record: bytes, practitioner_id: str, added_by: str) -> Path:
    path = root / "colleagues" / f"{practitioner_id}-{added_by}.json"
    durable.write_new(path, record)
    return path


def join_practice(root: Path, passphrase: Passphrase, kdf: KdfParams) -> tuple[Identity, str]:
    """A new practitioner in an existing (shared) practice: their own key, wrapped under
    their own passphrase. Until a colleague adds them, they can read nothing."""
    if not (root / "practice.json").exists():
        raise NotAPractice(root)
    practitioner = Practitioner(new_id(), PrivateKey.generate(), SigningKey.generate())
    durable.write_new(
        root / "practitioners" / f"{practitioner.practitioner_id}.json",
        canonical(wrap_practitioner(practitioner, passphrase, kdf)),
    )
    return identity_of(practitioner), identity_of(practitioner).export(practitioner.signing_key)


def identity_of(practitioner: Practitioner) -> Identity:
    return Identity(
        practitioner.practitioner_id, practitioner.box_key.public_key, practitioner.signing_key.verify_key
    )
