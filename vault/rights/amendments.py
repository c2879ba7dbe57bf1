"""A client's amendment request decided (HIPAA 45 CFR 164.526): accepted by an addendum,
denied in writing, or answered by the client's statement of disagreement, which is linked
to the note from then on.

Each decision is a ``rights-amend`` audit entry (signed by the device, so a denial is a
signed record): ``client``, ``request``, ``decision`` (accept | deny | disagreement),
``note`` (the note concerned), ``ref`` (the addendum's note id, or the attachment record
that holds the statement), and for a denial ``text``, the reason sealed to the client.
The statement itself is an ``attachment`` record sealed to the client like a consent's form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nacl.public import PrivateKey

from ..errors import VaultError
from ..format.encoding import new_id
from ..format.keys import Practitioner
from . import requests
from .requests import AMEND, Request, WrongKind

if TYPE_CHECKING:
    from ..store.vault import Vault

STATEMENT_LIMIT = 1024 * 1024  # a statement is a letter, not a record


class NotDenied(VaultError):
    template = (
        "request {} has not been denied: a statement of disagreement answers a denial "
        "(`casenotes amend deny {} --reason ...` first)"
    )


class StatementTooLarge(VaultError):
    template = "{} is larger than 1 MiB: a statement of disagreement is a letter; attach a shorter text"


def _amendment(request: Request) -> str:
    if request.kind != "amendment" or request.about is None:
        raise WrongKind(request.request_id, request.kind, "amendment")
    requests.check_open(request)
    return request.about


def accept(vault: Vault, request: Request, addendum_id: str) -> None:
    """Record that the addendum ``addendum_id`` (a draft just started) answers the request."""
    note = _amendment(request)
    vault.audit.append(
        AMEND,
        client=request.client_id,
        request=request.request_id,
        decision="accept",
        note=note,
        ref=addendum_id,
    )


def deny(vault: Vault, request: Request, reason: str) -> None:
    note = _amendment(request)
    vault.audit.append(
        AMEND,
        client=request.client_id,
        request=request.request_id,
        decision="deny",
        note=note,
        **requests.sealed_text(vault, request.client_id, request.request_id, reason=reason),
    )


def disagreement(vault: Vault, request: Request, statement: bytes) -> str:
    """Seal the client's statement and link it to the note; returns its record id."""
    note = request.about or ""
    if request.kind != "amendment" or not any(d.decision == "deny" for d in request.decisions):
        raise NotDenied(request.request_id, request.request_id)
    record_id = new_id()
    vault.seal_record(request.client_id, record_id, statement, "attachment", final=True)
    vault.audit.append(
        AMEND,
        client=request.client_id,
        request=request.request_id,
        decision="disagreement",
        note=note,
        ref=record_id,
    )
    return record_id


@dataclass(frozen=True)
class Shown:
    """What the note's page says of one amendment request. Client words: never logged."""

    request_id: str
    received: dt.date
    deadline: dt.date
    decision: str | None  # None: awaiting one
    decided: dt.date | None
    words: str | None  # a denial's reason, or the client's statement
    addendum: str | None

    def __repr__(self) -> str:
        return f"<Shown {self.request_id} {self.decision}>"


def on_notes(vault: Vault, practitioner: Practitioner, client_id: str) -> dict[str, list[Shown]]:
    """Note id -> each amendment request about it, with its decisions opened (the client's
    keys: audited as a read of the client's records)."""
    found = [r for r in requests.load(vault, client_id) if r.kind == "amendment" and r.about]
    if not found:
        return {}
    keys = vault.keyring.client_keys(practitioner, client_id)
    shown: dict[str, list[Shown]] = {}
    for request in found:
        opened = requests.with_texts(request, keys)
        rows = [Shown(request.request_id, request.received, request.deadline, None, None, None, None)]
        for d in request.decisions:
            day = dt.datetime.fromisoformat(d.when.replace("Z", "+00:00")).astimezone().date()
            if d.decision == "accept":
                rows.append(
                    Shown(request.request_id, request.received, request.deadline, "accept", day, None, d.ref)
                )
            elif d.decision == "deny":
                reason = opened.texts.get(f"{AMEND}:reason")
                rows.append(
                    Shown(request.request_id, request.received, request.deadline, "deny", day, reason, None)
                )
            elif d.decision == "disagreement" and d.ref:
                words = _statement(vault, keys, client_id, d.ref)
                rows.append(
                    Shown(
                        request.request_id,
                        request.received,
                        request.deadline,
                        "disagreement",
                        day,
                        words,
                        None,
                    )
                )
        shown.setdefault(str(request.about), []).extend(rows if len(rows) == 1 else rows[1:])
    vault.audit.append("decrypt-amendments", client=client_id, practitioner=practitioner.practitioner_id)
    return shown


def _statement(vault: Vault, keys: list[PrivateKey], client_id: str, record_id: str) -> str | None:
    try:
        path = vault.revisions(client_id, record_id)[-1][2]
        parsed = vault.load(path)
        return bytes(vault.open_revision(path, keys, parsed)[1]).decode("utf-8", "replace")
    except (VaultError, IndexError, OSError):
        return None  # not arrived yet (sync) or damaged: verify says which
