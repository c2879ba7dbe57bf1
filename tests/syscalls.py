"""A recording spy on a real process's system calls, by strace: which calls it made, in the
order they started and finished, with the files they touched. For tests of durable order
("every folder that gained a revision is fsynced before any plaintext goes"), where
counting calls (tests/packages/vault/test_fsync_budget.py) cannot tell a right order from a wrong one."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ORDER_CALLS = "fsync,fdatasync,link,linkat,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat"
_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)")
_FD_PATH = re.compile(r"^\d+<([^>]*)>")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Syscall:
    """One call: its name, its arguments as strace printed them (``-y``: a descriptor with
    its file), whether it succeeded, and where in the run it started and finished (line
    numbers of the log: a call another thread's calls interrupted finishes later)."""

    name: str
    args: str
    ok: bool  # it returned, and not an error (-1)
    started: int
    finished: int

    @property
    def fd_path(self) -> str:
        """The file of a call on a descriptor (fsync), as ``-y`` names it."""
        match = _FD_PATH.match(self.args)
        return match[1] if match else ""

    @property
    def paths(self) -> list[str]:
        """The quoted path arguments (link, rename, unlink, mkdir), in order."""
        return _QUOTED.findall(self.args)


def parse(log: str) -> list[Syscall]:
    pending: dict[str, tuple[str, str, int]] = {}
    calls = []
    for number, line in enumerate(log.splitlines()):
        match = _LINE.match(line)
        if not match:
            continue
        pid, resumed, name, rest = match[1], match[2], match[3], match[4]
        if resumed:
            if pid not in pending:
                continue
            name, start_args, started = pending.pop(pid)
            args = start_args + rest
        else:
            args, started = rest, number
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (name, rest.removesuffix("<unfinished ...>").rstrip(), number)
            continue
        results = _RESULT.findall(args)
        calls.append(Syscall(name, args, bool(results) and not results[-1].startswith("-"), started, number))
    return calls


def record(
    strace: Sequence[str], command: Sequence[str], env: dict[str, str], log: Path, calls: str = ORDER_CALLS
) -> tuple[subprocess.CompletedProcess[bytes], list[Syscall]]:
    """Run COMMAND under strace (the ``strace`` fixture's program), every thread followed,
    and return its outcome and the calls of CALLS it made."""
    tracer = [strace[0], "-f", "-qq", "-y", "-e", f"trace={calls}", "-o", str(log)]
    done = subprocess.run([*tracer, *command], capture_output=True, env=env, timeout=180)
    return done, parse(log.read_text(errors="replace"))
