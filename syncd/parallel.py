"""Sealing a burst on several threads, one note at a time per note.

Most of a seal waits on the kernel with the interpreter released: fsync, mkdir, creating
and reading files, PyNaCl's libsodium calls. So a few threads each sealing other notes
overlap those waits (and the file system's journal commits their fsyncs together),
while one thread would wait for each in turn.

What keeps this safe: items that share a key (two inbox files of one note) run one after
another, in their order, so a note's revisions are numbered, and a signed one refused a
successor, exactly as one thread would; the vault's shared steps order themselves (the
audit log's append takes its file lock; revision files are write-once names). A caller
that needs everything durable waits for the whole batch, and commits after it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: threads that seal a burst: more than the cores, since most of each seal is waiting
SEAL_THREADS = 4


def run_grouped(
    items: Iterable[T], work: Callable[[T], R], key: Callable[[T], Hashable], threads: int = SEAL_THREADS
) -> list[tuple[T, R | Exception]]:
    """``work(item)`` for every item, on up to ``threads`` threads, each started as soon as
    ``items`` yields it (so the caller's preparing of the next overlaps it); an item whose
    ``key`` an earlier one has is held back until that one is done (a round each). Returns
    every item with its result, or the exception it raised; returns once all are done."""
    done: list[tuple[T, R | Exception]] = []
    pool: ThreadPoolExecutor | None = None
    batch = items
    try:
        while True:
            started: list[tuple[T, Future[R] | R | Exception]] = []
            keys: set[Hashable] = set()
            later: list[T] = []
            for item in batch:
                if key(item) in keys:
                    later.append(item)
                    continue
                keys.add(key(item))
                if threads <= 1:
                    started.append((item, _outcome(partial(work, item))))
                    continue
                if pool is None:
                    pool = ThreadPoolExecutor(threads, thread_name_prefix="casenotes-seal")
                started.append((item, pool.submit(work, item)))
            for item, outcome in started:
                done.append((item, _outcome(outcome.result) if isinstance(outcome, Future) else outcome))
            if not later:
                return done
            batch = later
    finally:
        if pool is not None:
            pool.shutdown()


def _outcome(call: Callable[[], R]) -> R | Exception:
    try:
        return call()
    except Exception as exc:  # the caller sorts outcomes; one item never stops the others
        return exc
