"""A client's requests (access, amendment, accounting, erasure) and their legal deadlines.

The deadlines are data (`DUTIES`) and `deadline` is a plain function of a request and
the day: tested with tables. Each request is a ``rights-request`` audit entry, extended by
``rights-extend``, decided by ``rights-amend`` (vault/rights/amendments.py), closed by
``rights-close``; `load` folds the entries this practice's devices signed.

Audit entry fields (docs/format.md): ``client``, ``request`` (ids); ``fact`` (sealed under
the retention key: ``kind``, ``received`` and, for an amendment, ``about``, the note; for
``rights-close``: ``closed``); ``text`` (sealed to the client: ``note``, ``reason`` or
``outcome``, the practitioner's or client's words).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nacl.public import PrivateKey

from ..errors import VaultError
from ..format import retention_facts
from ..format import rights as sealed
from ..format.encoding import new_id
from ..store.audit import Entry
from .reading import signed

if TYPE_CHECKING:
    from ..store.vault import Vault

REQUEST, EXTEND, CLOSE, AMEND = "rights-request", "rights-extend", "rights-close", "rights-amend"
EVENTS = (REQUEST, EXTEND, CLOSE, AMEND)
NEAR_DAYS = 7  # `todo` and `doctor` name a request this close to its deadline


@dataclass(frozen=True)
class Duty:
    """How long the law gives, and the one extension it allows (days and calendar months)."""

    days: int
    months: int
    extra_days: int
    extra_months: int
    law: str
    to_do: str  # what is left to do while the request is open ({id}, {client} filled in)


DUTIES: Mapping[str, Duty] = {
    "access": Duty(
        30,
        0,
        30,
        0,
        "HIPAA 45 CFR 164.524(b)(2); GDPR Art. 12(3) and 15",
        "give the client their copy (`casenotes export`), then `casenotes request close {id} --outcome ...`",
    ),
    "amendment": Duty(
        60,
        0,
        30,
        0,
        "HIPAA 45 CFR 164.526(b)(2); GDPR Art. 16",
        "accept (`casenotes amend accept {id}`) or deny in writing "
        "(`casenotes amend deny {id} --reason ...`)",
    ),
    "accounting": Duty(
        60,
        0,
        30,
        0,
        "HIPAA 45 CFR 164.528(c)(1)",
        "give the client `casenotes disclosures HANDLE`, then `casenotes request close {id} --outcome ...`",
    ),
    "erasure": Duty(
        0,
        1,
        0,
        2,
        "GDPR Art. 12(3) and 17",
        "`casenotes retention erase HANDLE --request {id}`, or refuse in writing naming the law "
        "that keeps the record (`casenotes request close {id} --outcome ...`)",
    ),
}
KINDS = tuple(DUTIES)


class UnknownRequest(VaultError):
    template = "no request {} in this practice: `casenotes request list` shows them"


class RequestClosed(VaultError):
    template = "request {} was closed on {}: nothing was changed"


class AlreadyExtended(VaultError):
    template = "request {} was already extended on {}: the law allows one extension"


class WrongKind(VaultError):
    template = "request {} is an {} request, not an {} request: nothing was changed"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; the month's last day where it is shorter (31 Jan -> 28 Feb),
    as GDPR's "one month" is read."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Decision:
    """An amendment accepted, denied, or answered by the client's statement of disagreement."""

    decision: str  # accept | deny | disagreement
    when: str  # UTC time of the audit entry
    note: str  # the note it concerns
    ref: str | None  # the addendum (accept) or the statement's attachment record (disagreement)
    device: str
    text: str | None = None  # sealed words, once opened

    def __repr__(self) -> str:
        return f"<Decision {self.decision} {self.note}>"


@dataclass(frozen=True)
class Request:
    request_id: str
    client_id: str
    kind: str
    received: dt.date
    about: str | None = None  # an amendment's note
    extended: dt.date | None = None
    closed: dt.date | None = None
    decisions: tuple[Decision, ...] = ()
    #: the sealed words of each entry, by event ("note", "reason", "outcome"): opened on demand
    sealed_texts: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    texts: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"<Request {self.request_id} {self.kind}>"

    @property
    def duty(self) -> Duty:
        return DUTIES[self.kind]

    @property
    def deadline(self) -> dt.date:
        return deadline(self.kind, self.received, self.extended is not None)

    def days_left(self, today: dt.date) -> int:
        return (self.deadline - today).days

    def countdown(self, today: dt.date) -> str:
        """'3 days left', '1 day late', 'closed 2026-03-01': as a list or a to-do line says it."""
        if self.closed is not None:
            return f"closed {self.closed}"
        left = self.days_left(today)
        days = f"{abs(left)} day{'s' if abs(left) != 1 else ''}"
        return f"{days} late" if left < 0 else f"{days} left"

    def urgent(self, today: dt.date) -> bool:
        """Open, and at most NEAR_DAYS from its deadline or past it: `todo` and `doctor` say so."""
        return self.closed is None and self.days_left(today) <= NEAR_DAYS

    def left_to_do(self) -> str:
        if self.closed is not None:
            return "nothing: closed"
        if self.kind == "amendment" and self.decisions:
            last = self.decisions[-1].decision
            return (
                f"{'accepted' if last == 'accept' else 'denied' if last == 'deny' else 'statement linked'}; "
                f"`casenotes request close {self.request_id} --outcome ...` once the client is told"
            )
        return self.duty.to_do.format(id=self.request_id)


def deadline(kind: str, received: dt.date, extended: bool) -> dt.date:
    duty = DUTIES[kind]
    end = add_months(received, duty.months) + dt.timedelta(days=duty.days)
    if extended:
        end = add_months(end, duty.extra_months) + dt.timedelta(days=duty.extra_days)
    return end


# -- writing ---------------------------------------------------------------------------------
def _key(vault: Vault) -> bytes:
    return retention_facts.key(vault.device.index_key)


def sealed_text(vault: Vault, client_id: str, record_id: str, **words: str) -> dict[str, str]:
    """The ``text`` field, if there are words: sealed to the client's current key."""
    if not any(words.values()):
        return {}
    public = vault.keyring.client_public(client_id)
    return {"text": sealed.seal_text(public, client_id, record_id, words)}


def add(
    vault: Vault,
    client_id: str,
    kind: str,
    received: dt.date,
    note: str | None = None,
    about: str | None = None,
) -> Request:
    """Record a client's request (no passphrase: public keys only). ``about``: an amendment's note."""
    if kind not in DUTIES:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    request_id = new_id()
    fact: dict[str, Any] = {"kind": kind, "received": received.isoformat()}
    if about:
        fact["about"] = about
    vault.audit.append(
        REQUEST,
        client=client_id,
        request=request_id,
        fact=sealed.seal_fact(_key(vault), client_id, request_id, fact),
        **sealed_text(vault, client_id, request_id, note=note or ""),
    )
    return Request(request_id, client_id, kind, received, about)


def extend(vault: Vault, request: Request, reason: str, today: dt.date) -> Request:
    check_open(request)
    if request.extended is not None:
        raise AlreadyExtended(request.request_id, request.extended.isoformat())
    vault.audit.append(
        EXTEND,
        client=request.client_id,
        request=request.request_id,
        fact=sealed.seal_fact(
            _key(vault), request.client_id, request.request_id, {"extended": today.isoformat()}
        ),
        **sealed_text(vault, request.client_id, request.request_id, reason=reason),
    )
    return replace(request, extended=today)


def close(vault: Vault, request: Request, outcome: str, today: dt.date) -> Request:
    check_open(request)
    vault.audit.append(
        CLOSE,
        client=request.client_id,
        request=request.request_id,
        fact=sealed.seal_fact(
            _key(vault), request.client_id, request.request_id, {"closed": today.isoformat()}
        ),
        **sealed_text(vault, request.client_id, request.request_id, outcome=outcome),
    )
    return replace(request, closed=today)


def check_open(request: Request) -> None:
    if request.closed is not None:
        raise RequestClosed(request.request_id, request.closed.isoformat())


# -- reading ---------------------------------------------------------------------------------
def entries(vault: Vault, client_id: str | None = None) -> list[Entry]:
    """The rights entries a registered device signed (a line added by whoever can write the
    folder is not one), in time order."""
    return signed(vault, EVENTS, client_id)


def fold(found: Iterable[Entry], key: bytes) -> list[Request]:
    """Each request as its entries leave it, oldest received first. An entry whose fact does
    not open (another practice's key, damaged) is passed over: `audit verify` reports damage."""
    requests: dict[str, Request] = {}
    for e in found:
        client_id, request_id = str(e.data.get("client")), str(e.data.get("request"))
        try:
            fact = sealed.open_fact(e.data["fact"], key, client_id, request_id) if "fact" in e.data else {}
        except sealed.Unreadable:
            continue
        text = (str(e.event), str(e.data["text"])) if "text" in e.data else None
        current = requests.get(request_id)
        if e.event == REQUEST and current is None and fact.get("kind") in DUTIES:
            requests[request_id] = Request(
                request_id,
                client_id,
                str(fact["kind"]),
                dt.date.fromisoformat(str(fact["received"])),
                fact.get("about"),
                sealed_texts=(text,) if text else (),
            )
            continue
        if current is None or current.client_id != client_id:
            continue
        texts = (*current.sealed_texts, text) if text else current.sealed_texts
        if e.event == EXTEND and current.extended is None and "extended" in fact:
            current = replace(current, extended=dt.date.fromisoformat(str(fact["extended"])))
        elif e.event == CLOSE and current.closed is None and "closed" in fact:
            current = replace(current, closed=dt.date.fromisoformat(str(fact["closed"])))
        elif e.event == AMEND and current.kind == "amendment":
            ref = e.data.get("ref")
            decision = Decision(
                str(e.data.get("decision")),
                e.time,
                str(e.data.get("note")),
                str(ref) if ref else None,
                e.device,
            )
            current = replace(current, decisions=(*current.decisions, decision))
        requests[request_id] = replace(current, sealed_texts=texts)
    return sorted(requests.values(), key=lambda r: (r.received, r.request_id))


def load(vault: Vault, client_id: str | None = None) -> list[Request]:
    """Every request (of one client, or of the practice), no passphrase needed."""
    return fold(entries(vault, client_id), _key(vault))


def find(vault: Vault, request_id: str) -> Request:
    """A request by its id, or by a prefix of at least 4 digits that names one."""
    matches = [r for r in load(vault) if r.request_id.startswith(request_id)] if len(request_id) >= 4 else []
    if len(matches) != 1:
        raise UnknownRequest(request_id)
    return matches[0]


def with_texts(request: Request, keys: Sequence[PrivateKey]) -> Request:
    """The request with its words opened (the client's keys: after a purge there are none)."""
    texts: dict[str, str] = {}
    for event, value in request.sealed_texts:
        try:
            opened = sealed.open_text(value, keys, request.client_id, request.request_id)
        except sealed.Unreadable:
            continue
        for name, words in opened.items():
            texts[f"{event}:{name}"] = str(words)
    return replace(request, texts=texts)
