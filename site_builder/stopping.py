"""A stop asked for by a signal handler, and noticed by the loop that acts on it.

A Python signal handler runs in the main thread, between two bytecodes of whatever that
thread was doing. ``threading.Event.set()`` takes the lock of the Event's condition; if
the main thread was inside ``Event.wait()`` holding that same lock, the handler waits
for itself, forever (`open` once kept serving a decrypted site after Ctrl-C this way).
So a handler only records the stop in a plain attribute (no lock), and the loops that
wait poll it (``time.sleep`` is interrupted by a signal and takes no lock).
"""

from __future__ import annotations

import time

POLL = 0.05  # seconds between looks: a stop is acted on within this


class StopFlag:
    """Set from a signal handler, read from any thread: ``set``, ``is_set`` and ``wait``
    as threading.Event's, without its lock."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True  # one store: safe in a signal handler

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """True once set, else False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL, left))
        return True
