"""Run a program under a systemd unit's sandbox, rebuilt without systemd.

    python tests/unit_sandbox.py UNIT_FILE -- PROGRAM ARG...
    unshare -m --propagation private python tests/unit_sandbox.py --mounts UNIT_FILE -- PROGRAM ARG...

No systemd runs on a test machine, so this rebuilds, with libseccomp (pyseccomp), what the
unit's SystemCallFilter= lines (their groups expanded by `systemd-analyze syscall-filter`,
calls outside them failing with SystemCallErrorNumber=), RestrictAddressFamilies= (other socket
families fail with EAFNOSUPPORT) and MemoryDenyWriteExecute= (in the seccomp form of
systemd before 254: mmap with write and execute, and any mprotect or pkey_mprotect that
adds execute, fail with EPERM) ask for, then executes the program under it. The filter
is inherited by every child (rclone too), as in the service.

With --mounts (as root, in a mount namespace of its own), it first makes what
ProtectSystem=strict and ProtectHome=read-only make: every mount read-only but the API file
systems (/proc, /sys, /dev), except the unit's ReadWritePaths= (a missing one fails, as
systemd's start does, unless it has the "-" prefix). PrivateTmp= is rebuilt for /var/tmp
only (a fresh tmpfs, where Python's tempfile turns when /tmp is read-only): /tmp holds the
tests' own folders, so it stays read-only but for them.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

AF_MAX = 46  # one past the highest address family Linux knows


def lines(unit: str, key: str) -> list[str]:
    """The value of every KEY= line of the unit, in order."""
    return [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith(f"{key}=")]


def setting(unit: str, key: str) -> list[str]:
    """The words of every KEY= line of the unit, in order."""
    return [word for value in lines(unit, key) for word in value.split()]


def allowed_calls(unit: str) -> set[str]:
    """SystemCallFilter= as systemd reads it: the first line an allow list, each later
    line adding to it, or, when it starts with "~", taking its calls away."""
    allowed: set[str] = set()
    for value in lines(unit, "SystemCallFilter"):
        deny = value.startswith("~")
        named = set().union(*(expand(n) for n in value.removeprefix("~").split()))
        allowed = allowed - named if deny else allowed | named
    return allowed


def expand(name: str, seen: set[str] | None = None) -> set[str]:
    """A system call, or every call of an @group (nested groups included), by systemd's list."""
    if not name.startswith("@"):
        return {name}
    seen = set() if seen is None else seen
    seen.add(name)
    listed = subprocess.run(
        ["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True
    ).stdout
    calls: set[str] = set()
    for line in listed.splitlines():
        word = line.strip()
        if not word or word.startswith("#") or word == name or word in seen:
            continue
        calls |= expand(word, seen)
    return calls


def quoted(unit: str, key: str) -> list[str]:
    """The double-quoted words of every KEY= line, as systemd reads them ('%%' is '%')."""
    return [
        word.replace("%%", "%").replace("$$", "$")
        for value in lines(unit, key)
        for word in re.findall(r'"([^"]*)"', value)
    ]


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        # the fifth field, with spaces and the like written as octal escapes (\040)
        return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4]) for line in table]


def protect_system(unit: str) -> None:
    writable = []
    for word in quoted(unit, "ReadWritePaths"):
        path = word.removeprefix("-")
        if not Path(path).exists():
            if word.startswith("-"):
                continue
            raise SystemExit(f"unit_sandbox: {path} does not exist: systemd would not start the unit")
        subprocess.run(["mount", "--bind", path, path], check=True)
        writable.append(path)
    private = "/var/tmp"  # PrivateTmp=: a tmp of its own
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", private], check=True)
    for point in _mount_points():
        kept = (*writable, private, "/proc", "/sys", "/dev")
        inside = [p for p in kept if point == p or point.startswith(p + "/")]
        if not inside:
            subprocess.run(["mount", "-o", "remount,bind,ro", point], check=True)


def apply(unit: str) -> None:
    import pyseccomp as seccomp  # only here: --mounts and the helpers above do without it

    allowed = allowed_calls(unit)
    error = getattr(errno, (setting(unit, "SystemCallErrorNumber") or ["EPERM"])[0])
    calls = seccomp.SyscallFilter(seccomp.ERRNO(error))
    for name in sorted(allowed):
        try:
            calls.add_rule(seccomp.ALLOW, name)
        except (ValueError, RuntimeError, OSError):
            continue  # a call this libseccomp does not know on this architecture
    limits = seccomp.SyscallFilter(seccomp.ALLOW)
    families = {getattr(socket, f) for f in setting(unit, "RestrictAddressFamilies")}
    for family in range(AF_MAX):
        if family not in families:
            limits.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.EQ, family))
    if setting(unit, "MemoryDenyWriteExecute") == ["yes"]:
        wx, x = mmap.PROT_WRITE | mmap.PROT_EXEC, mmap.PROT_EXEC
        refuse = seccomp.ERRNO(errno.EPERM)
        limits.add_rule(refuse, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
        limits.add_rule(refuse, "mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, x, x))
        limits.add_rule(refuse, "pkey_mprotect", seccomp.Arg(2, seccomp.MASKED_EQ, x, x))
    limits.load()
    calls.load()


def main(argv: list[str]) -> None:
    mounts = argv[0] == "--mounts"
    unit_file, separator, *command = argv[1:] if mounts else argv
    assert separator == "--" and command, __doc__
    unit = Path(unit_file).read_text()
    if mounts:
        protect_system(unit)
    apply(unit)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
