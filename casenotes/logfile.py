"""syncd's log file: private, rotating, never a note's text (only `casenotes syncd` loads it)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

import click

from syncd.daemon import DRAFT_FILE
from vault import durable


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600, whatever the umask: only its owner reads it. When
    the disk refuses a write (full, gone), it says so once on stderr, in one line and without
    logging's "--- Logging error ---" traceback, and drops lines until a write succeeds."""

    failing = False
    _failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if self.failing and not self._failed_now:
            self.failing = False
            click.echo(f"casenotes: {self.baseFilename} is written to again", err=True)

    def handleError(self, record: logging.LogRecord) -> None:  # logging's name
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._failed_now = True
        if not self.failing:
            self.failing = True
            click.echo(
                f"casenotes: {self.baseFilename}: {error.strerror or type(error).__name__}; syncd logs "
                "to the terminal only until it can write there again (free some disk space)",
                err=True,
            )

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # the handler closes it


class TerminalLines(logging.Formatter):
    """The terminal's lines: the log file's, and the draft's file named where syncd has it
    ("sealed revision 2 of note 3f9a... (inbox: AB-2024-2026-11-21.md)"). Only the terminal:
    the file outlives a purge and names a note by id alone."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        draft = getattr(record, DRAFT_FILE, None)
        return f"{line} (inbox: {draft})" if draft else line


def log_to(path: Path, debug: bool = False, stderr: bool = True) -> None:
    """syncd logs to a private rotating file beside the inbox, and to stderr; never note text."""
    durable.make_dirs(path.parent)
    for old in path.parent.glob(path.name + "*"):
        os.chmod(old, 0o600)  # logs an older version made 0644
    layout = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handlers: list[logging.Handler] = [
        PrivateLogFile(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8", delay=True),
    ]
    handlers[0].setFormatter(logging.Formatter(layout))
    if stderr:
        terminal = logging.StreamHandler()
        terminal.setFormatter(TerminalLines(layout))
        handlers.append(terminal)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
