"""syncd's log file: private, rotating, never a note's text (only `casenotes syncd` loads it)."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from vault import durable


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600, whatever the umask: only its owner reads it."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115 (the handler closes it)


def log_to(path: Path, debug: bool = False, stderr: bool = True) -> None:
    """syncd logs to a private rotating file beside the inbox, and to stderr; never note text."""
    durable.make_dirs(path.parent)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for old in path.parent.glob(path.name + "*"):
        os.chmod(old, 0o600)  # logs an older version made 0644
    handlers: list[logging.Handler] = [
        PrivateLogFile(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"),
    ]
    if stderr:
        handlers.append(logging.StreamHandler())
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
