"""Keep a process that holds plaintext or keys out of core dumps and debuggers.

A crash would otherwise write the decrypted notes and the unlocked keys to a core file
on disk (systemd-coredump keeps them for days). RLIMIT_CORE 0 stops the core file;
PR_SET_DUMPABLE 0 also stops coredump handlers that ignore the limit, makes
/proc/PID/{mem,environ,maps} root-owned, and refuses ptrace to other processes of the
same user. Linux only (prctl); elsewhere the core limit alone, or nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def no_core_dumps() -> None:
    """Called by every command that decrypts (open, open-share, cat, share, purge, demo), and
    by `measure`, which holds a client's answers."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass  # no resource module (Windows): no core files either
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
