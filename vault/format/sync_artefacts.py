"""What file-sync engines leave in a replicated vault, recognised in one place.

A group practice replicates ``vault/`` between its machines with a sync engine (see
docs/sharing.md). Besides casenotes' own files, the engine leaves four kinds of thing:

``conflict``
    a copy of a file two machines wrote while apart, under a new name: Syncthing's
    ``<stem>.sync-conflict-<date>-<time>-<device><ext>``, Dropbox's and Nextcloud's
    ``<stem> (… conflicted copy …)<ext>``, ownCloud's ``<stem>_conflict-<date>-<time><ext>``.
    Never read as casenotes data; ``verify`` names it with how to resolve it.
``temp``
    a file the engine is still downloading: Syncthing's ``.syncthing.<name>.tmp`` and
    ``~syncthing~<name>.tmp``, Nextcloud's ``.<name>.~<hex>``, Resilio's ``<name>.!sync``.
    Ignored everywhere: the engine renames it into place or removes it.
``engine``
    the engine's own bookkeeping: ``.stfolder``, ``.stignore``, ``.dropbox``,
    ``.dropbox.attr``, ``.owncloudsync.log``, ``.nextcloudsync.log``, ``.sync_*.db*``,
    ``._sync_*.db*``. Ignored everywhere.
``versions``
    a folder of older copies of vault files: Syncthing's ``.stversions``, Dropbox's
    ``.dropbox.cache``, Resilio's ``.sync`` (its ``Archive``). It may hold a purged
    client's sealed key, so backups never copy it, a purge shreds the client's paths in
    it, and ``doctor`` warns that it exists.

Anything named here is never a casenotes file: every casenotes name is an id, a blinded
value, a number or a fixed word, so the lists cannot hide one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

Kind = Literal["conflict", "temp", "engine", "versions"]

CONFLICT_PATTERNS = (
    re.compile(r"\.sync-conflict-\d{8}-\d{6}(-[0-9A-Z]{7})?"),  # Syncthing
    re.compile(r" \([^)]*conflicted copy[^)]*\)"),  # Dropbox, Nextcloud
    re.compile(r"_conflict-\d{8}-\d{6}"),  # ownCloud
)
TEMP_PATTERNS = (
    re.compile(r"^\.syncthing\..+\.tmp$"),
    re.compile(r"^~syncthing~.+\.tmp$"),
    re.compile(r"^\..+\.~[0-9a-f]+$"),  # Nextcloud, ownCloud: a download under way
    re.compile(r"\.!sync$"),  # Resilio
)
ENGINE_NAMES = frozenset(
    {".stfolder", ".stignore", ".dropbox", ".dropbox.attr", ".owncloudsync.log", ".nextcloudsync.log"}
)
ENGINE_PATTERNS = (re.compile(r"^\.?_?sync_[0-9a-f]+\.db(-wal|-shm)?$"),)
VERSION_FOLDERS = (".stversions", ".dropbox.cache", ".sync")

# What casenotes writes as vault/.stignore (Syncthing reads it; other engines have their own
# exclude settings, see docs/sharing.md): files of this machine that must not travel.
STIGNORE = """\
// Written by casenotes (docs/sharing.md). Share the vault folder only, never the inbox.
// A write under way on this machine, and a purged client's folder while it is removed:
.tmp-*
.purged-*
"""


def kind(name: str) -> Kind | None:
    """What a file or folder name is, if a sync engine made it."""
    if name in VERSION_FOLDERS:
        return "versions"
    if name in ENGINE_NAMES or any(p.match(name) for p in ENGINE_PATTERNS):
        return "engine"
    if any(p.search(name) for p in TEMP_PATTERNS):
        return "temp"
    if any(p.search(name) for p in CONFLICT_PATTERNS):
        return "conflict"
    return None


def is_artefact(name: str) -> bool:
    return kind(name) is not None


def original_name(name: str) -> str:
    """The name a conflict copy was copied from (``name`` itself if it is none)."""
    for pattern in CONFLICT_PATTERNS:
        name = pattern.sub("", name, count=1)
    return name


def glob(folder: Path, pattern: str) -> list[Path]:
    """``folder.glob(pattern)``, sorted, without what a sync engine made: a conflict copy
    ``0002.sync-conflict-….json`` matches ``*.json`` but is not a casenotes file."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if not is_artefact(p.name))


def find(root: Path) -> Iterator[tuple[Path, Kind]]:
    """Every artefact under ``root`` (a version folder once, not what it holds)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for path in entries:
            found = kind(path.name)
            if found is not None:
                yield path, found
            elif path.is_dir() and not path.is_symlink():
                stack.append(path)


def version_folders(root: Path) -> list[Path]:
    """The version folders a sync engine keeps in the vault."""
    return [p for p, k in find(root) if k == "versions"]


def conflict_advice(root: Path, path: Path) -> str:
    """What a conflict copy is and how to resolve it, for `verify`."""
    original = path.with_name(original_name(path.name))
    relative = path.relative_to(root).parts
    where = relative[0] if relative else ""
    shown = original.name
    if where == "index":
        return (
            f"conflict copy of handle-index entry {shown}: the same handle was added on two machines "
            "while apart; both clients are kept and commands read this copy too; `casenotes syncd --once` "
            "files it under its own name and deletes the copy (do not delete it by hand)"
        )
    if where == "audit":
        return (
            f"conflict copy of {shown}: this device's audit log was written on two machines (one "
            "device key copied to another machine?); keep the copy, register each machine as its own "
            "device (`casenotes device register`), and report it to whoever runs the practice"
        )
    if where == "practitioners":
        return (
            f"conflict copy of {shown}: a passphrase was changed on two machines while apart; unlock with "
            "the passphrase you use now, then delete this copy"
        )
    return (
        f"conflict copy of {shown} made by the sync engine (two machines wrote it while apart); "
        f"casenotes never reads it: compare it with {shown}, keep {shown} if `casenotes verify` is "
        "clean without the copy, and delete the copy"
    )
