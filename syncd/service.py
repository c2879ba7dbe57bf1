"""`casenotes syncd --install`: a per-user service so the daemon starts at login."""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path

from vault import durable

from .errors import ServiceUnsupported

SYSTEMD_UNIT = "casenotes-syncd.service"
LAUNCHD_LABEL = "org.casenotes.syncd"


def systemd_unit(command: list[str], environment: dict[str, str]) -> str:
    env_lines = "".join(f"Environment={shlex.quote(f'{k}={v}')}\n" for k, v in sorted(environment.items()))
    return (
        "[Unit]\n"
        "Description=casenotes: seal notes from the inbox, run backups and retention\n\n"
        "[Service]\n"
        f"ExecStart={shlex.join(command)}\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        "RestartSec=10\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def launchd_plist(command: list[str], environment: dict[str, str], log: Path) -> bytes:
    return plistlib.dumps(
        {
            "Label": LAUNCHD_LABEL,
            "ProgramArguments": command,
            "EnvironmentVariables": environment,
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "StandardErrorPath": str(log),
        }
    )


def install(
    platform: str, home: Path, command: list[str], environment: dict[str, str], log: Path
) -> tuple[Path, str]:
    """Write the unit or agent; return its path and the command that enables it."""
    if platform.startswith("linux"):
        path = home / ".config" / "systemd" / "user" / SYSTEMD_UNIT
        durable.replace(path, systemd_unit(command, environment).encode())
        return path, f"systemctl --user daemon-reload && systemctl --user enable --now {SYSTEMD_UNIT}"
    if platform == "darwin":
        path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        durable.replace(path, launchd_plist(command, environment, log))
        return path, f"launchctl load -w {shlex.quote(str(path))}"
    raise ServiceUnsupported()
