"""What a group commit holds while it runs: the folders to make durable at its end, and
the facts its notes are filed by (`Vault.group_commit` opens and ends one)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")


class GroupCommit:
    """Outside a group commit, `deferred` is None and `once` computes every time."""

    def __init__(self) -> None:
        self.deferred: set[Path] | None = None  # folders a group commit makes durable at its end
        self._facts: dict[Hashable, Any] | None = None

    @property
    def running(self) -> bool:
        return self.deferred is not None

    def begin(self) -> None:
        self.deferred, self._facts = set(), {}

    def end(self) -> set[Path]:
        """Forget the facts; returns the folders to make durable."""
        folders, self.deferred, self._facts = self.deferred or set(), None, None
        return folders

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` until the group commit ends (outside one,
        computed every time): the notes of a burst are filed as the vault was when its first
        one was (a handle's client, the key sealed to), not each one checking it again; as if
        the burst had been filed a few seconds sooner. A failure is not remembered."""
        facts = self._facts
        if facts is None:
            return compute()
        if key not in facts:
            facts[key] = compute()
        return cast(T, facts[key])
