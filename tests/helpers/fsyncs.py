"""The system calls that make data durable, as strace's `-e trace=` names them."""

from __future__ import annotations

SYNC_CALLS = "fsync,fdatasync,sync,syncfs,sync_file_range,msync"
