"""Typed errors of retention: each says why nothing was destroyed, and what to do."""

from __future__ import annotations

from vault.errors import VaultError


class RetentionError(VaultError):
    """Base of retention's errors (a VaultError, so the command line reports it the same way)."""


class ClientHeld(RetentionError):
    template = "client {} is on legal hold: nothing was purged; `casenotes retention release` lifts the hold"


class NotDue(RetentionError):
    template = "client {} is not due for disposal until {}: nothing was purged"


class ClockUntrusted(RetentionError):
    template = (
        "this machine's clock cannot be trusted for a purge ({}): nothing was purged; "
        "set the date and time right and run it again"
    )


class DevicesSilent(RetentionError):
    template = (
        "nothing was purged: this is a group practice, and {} not been heard from within {} hours "
        "(a hold placed there may not have arrived here); start that machine and let the vault "
        "sync, or raise retention.heard_within_hours in casenotes.yml"
    )


class RulesDiffer(RetentionError):
    template = (
        "nothing was purged: this is a group practice, and device {} purges by other retention rules "
        "({}) than this machine ({}); let the vault sync until every machine holds the newest version "
        "of the practice's rules (`casenotes retention rules`; a vault not yet upgraded: make the "
        "`retention:` sections of casenotes.yml the same), and the next nightly checks agree"
    )


class RulesOutdated(RetentionError):
    template = (
        "nothing was purged: this machine holds version {} of the practice's retention rules, and "
        "version {} was written (the audit log names it); let the vault sync until vault/settings/ "
        "holds it, or restore it from a backup, then purge again (`casenotes retention rules` shows them)"
    )


class RetireUnverified(RetentionError):
    """A retire record the audit log recorded is missing or changed: the retired device's
    later words (a hold it lifts, an acknowledgement) would count again, so no purge runs."""

    template = (
        "the retire record {} {}: nothing was destroyed; without it a lost device's later words "
        "would count again, so no purge runs until it is restored (casenotes backup restore)"
    )


class AuditUnverified(RetentionError):
    """The audit log vouches for the holds and retention facts a purge checks: while it fails
    to verify, a purge could be acting on a hold cut out or a fact edited, so none runs."""

    template = (
        "the audit log {} fails to verify ({}): nothing was destroyed; the log vouches for holds and "
        "retention facts, so no purge runs until `casenotes audit verify` passes (restore the log from "
        "a backup: casenotes backup restore)"
    )

    def __init__(self, path: object, why: str) -> None:
        super().__init__(path, why)
        self.path = path
        self.why = why
