"""What the daemon remembers between runs, in ``<practice>/.syncd/state.json``.

- ``ids``: note ids the daemon gave to notes that had no ``id:`` line, by inbox path, so
  that later saves of the same file join the same note. Saved durably *before* the first
  seal under a new id, so a crash can never give one file two notes.
- ``files``: the last outcome per inbox file (pending, sealed, signed, error, ...), for
  `casenotes status` and so that a bad note is logged once per change, not per event.
- ``jobs``: when each scheduled job last ran, so a job missed while the machine slept or
  the daemon was down runs at the next start.
- ``failed``: each job whose last run failed: when, and the sentence why (cleared by its
  next success), so that `status` shows the failure rather than an older success.

No note text is kept here; paths and outcomes only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vault import durable

STATE_VERSION = 1


@dataclass
class FileStatus:
    state: str  # pending | sealed | signed | parked | error | refused | residue | locked
    note_id: str | None = None
    revision: int | None = None
    reason: str | None = None
    mac: str | None = None  # keyed hash of the content this outcome is about
    updated: str | None = None
    #: held back for a reason the vault can lift (a fork resolved, a client or key arrived):
    #: the vault's `change_stamp` then; the draft is tried again once it differs
    vault_stamp: str | None = None


@dataclass(frozen=True)
class JobFailure:
    at: str  # ISO time, UTC
    why: str  # one sentence, naming the file (never a note's text: paths carry ids only)


@dataclass
class State:
    path: Path
    ids: dict[str, str] = field(default_factory=dict)
    files: dict[str, FileStatus] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)
    failed: dict[str, JobFailure] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls(path)
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            files = {k: FileStatus(**v) for k, v in data.get("files", {}).items()}
            failed = {k: JobFailure(**v) for k, v in data.get("failed", {}).items()}
            return cls(path, dict(data.get("ids", {})), files, dict(data.get("jobs", {})), failed)
        except (ValueError, TypeError, AttributeError):
            # Only derived facts live here; the inbox and the vault are the truth. Start over.
            return cls(path)

    def save(self) -> None:
        data = {
            "version": STATE_VERSION,
            "ids": self.ids,
            "files": {k: asdict(v) for k, v in sorted(self.files.items())},
            "jobs": self.jobs,
            "failed": {k: asdict(v) for k, v in sorted(self.failed.items())},
        }
        durable.replace(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
        self.dirty = False

    def set(self, rel: str, status: FileStatus) -> None:
        self.files[rel] = status
        self.dirty = True

    def forget(self, rel: str) -> None:
        if self.files.pop(rel, None) is not None:
            self.dirty = True
