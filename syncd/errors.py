"""Typed errors of the daemon."""

from __future__ import annotations

from pathlib import Path

from note_templates import NoteInvalid


class SyncdError(Exception):
    exit_code = 1


class AlreadyRunning(SyncdError):
    def __init__(self, pid: str, lock: Path) -> None:
        super().__init__(pid, lock)
        self.pid, self.lock = pid, lock

    def __str__(self) -> str:
        return (
            f"syncd is already running for this practice (PID {self.pid or 'unknown'}, lock {self.lock}); "
            "stop it first, or leave it running"
        )


class ServiceUnsupported(SyncdError):
    def __str__(self) -> str:
        return "installing a service is supported on Linux (systemd) and macOS (launchd) only"


class ServicePathUnsupported(SyncdError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return (
            f"{self.text!r} holds a quote, a backslash or a control character, which a service file "
            "cannot hold safely; rename the folder (or the practice) and install again"
        )


class ClientNotResolved(NoteInvalid):
    """The note's client handle names no client this practitioner can read, yet: one may
    come (its folder still syncing, an access grant on its way), so syncd tries the draft
    again when the vault changes, not only when it is edited."""
