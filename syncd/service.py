"""`casenotes syncd --install`: a per-user service so the daemon starts at login.

syncd runs unattended with no passphrase, but it holds the inbox's plaintext drafts and
the device key that signs everything it seals. The service files below therefore give it
no more than it needs: it may write the practice, the device key's folder and the backup
folders, nothing else of the user's; it makes files only its user can read; it never
dumps core (a core file would hold a draft). docs/syncd.md explains every line.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vault import durable

from .errors import ServicePathUnsupported, ServiceUnsupported

SYSTEMD_UNIT = "casenotes-syncd.service"
LAUNCHD_LABEL = "org.casenotes.syncd"
#: 0o077: files and folders syncd makes are its user's alone (launchd wants the number)
UMASK = 0o077

# The sandbox of the systemd unit, in the order docs/syncd.md explains it. Only settings a
# per-user service manager honours: ProtectProc=, ProcSubset=, ProtectControlGroups= and
# RemoveIPC= are for system services only, and are left out rather than silently ignored.
SYSTEMD_HARDENING = (
    f"UMask={UMASK:04o}",
    "LimitCORE=0",
    "NoNewPrivileges=yes",
    "PrivateUsers=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    "CapabilityBoundingSet=",
    "KeyringMode=private",
)

# A path systemd cannot be told unambiguously (quotes and backslashes are its escapes; a
# control character ends or breaks the line) is refused, not written half-right.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')


@dataclass(frozen=True)
class Service:
    """What the service runs, and the only places it may write."""

    command: tuple[str, ...]
    environment: Mapping[str, str]
    #: the practice folder: inbox, vault, .syncd (its lock, log, state and backup caches)
    practice: Path
    #: the device key's folder: syncd takes its write and backup locks there and keeps the
    #: checkpoint that tells a rolled-back vault
    config_dir: Path
    #: where launchd writes the daemon's stderr (systemd sends it to the journal)
    log: Path
    #: backup folders from casenotes.yml; any may be absent when the service starts (a drive)
    targets: tuple[Path, ...] = ()
    #: other folders the daemon's helpers write if present (rclone's refreshed tokens)
    helpers: tuple[Path, ...] = ()


def _systemd_word(text: str, *, argument: bool = False) -> str:
    """One word of a unit file, in double quotes: '%' is a specifier unless doubled, and in
    ExecStart='s arguments (not its program) '$' expands a variable unless doubled."""
    if _UNSAFE.search(text):
        raise ServicePathUnsupported(text)
    text = text.replace("%", "%%")
    if argument:
        text = text.replace("$", "$$")
    return f'"{text}"'


def systemd_unit(service: Service) -> str:
    env_lines = "".join(
        f"Environment={_systemd_word(f'{k}={v}')}\n" for k, v in sorted(service.environment.items())
    )
    # "-": a folder missing at start (an unplugged drive) is skipped, not a failed start;
    # the practice and the device key must be there.
    writable = [_systemd_word(str(service.practice)), _systemd_word(str(service.config_dir))]
    writable += [_systemd_word(f"-{path}") for path in (*service.targets, *service.helpers)]
    program, *arguments = service.command
    words = [_systemd_word(program), *(_systemd_word(a, argument=True) for a in arguments)]
    return (
        "[Unit]\n"
        "Description=casenotes: seal notes from the inbox, run backups and retention\n"
        # A syncd that fails five times in five minutes (another one already runs for the
        # practice, the practice is gone) stays stopped and says so in `systemctl --user status`.
        "StartLimitIntervalSec=300\n"
        "StartLimitBurst=5\n\n"
        "[Service]\n"
        "Type=exec\n"
        f"ExecStart={' '.join(words)}\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        + "".join(f"{line}\n" for line in SYSTEMD_HARDENING)
        + "".join(f"ReadWritePaths={path}\n" for path in writable)
        + "\n[Install]\nWantedBy=default.target\n"
    )


def launchd_plist(service: Service) -> bytes:
    return plistlib.dumps(
        {
            "Label": LAUNCHD_LABEL,
            "ProgramArguments": list(service.command),
            "EnvironmentVariables": dict(service.environment),
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ThrottleInterval": 10,
            "Umask": UMASK,
            "SoftResourceLimits": {"Core": 0},
            "HardResourceLimits": {"Core": 0},
            "ProcessType": "Standard",
            "WorkingDirectory": str(service.practice),
            "StandardErrorPath": str(service.log),
            "StandardOutPath": str(service.log),
        }
    )


def paths(home: Path) -> tuple[Path, Path]:
    """Where `install` writes the systemd unit and the launchd agent."""
    return (
        home / ".config" / "systemd" / "user" / SYSTEMD_UNIT,
        home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist",
    )


def install(platform: str, home: Path, service: Service, launchd: bool = False) -> tuple[Path, str]:
    """Write the unit or agent; return its path and the command that enables it.

    ``launchd`` writes the macOS agent whatever the platform (to look at, or to copy)."""
    unit, agent = paths(home)
    if platform == "darwin" or launchd:
        durable.replace(agent, launchd_plist(service))
        return agent, f'launchctl bootstrap gui/$(id -u) "{agent}"'
    if platform.startswith("linux"):
        durable.replace(unit, systemd_unit(service).encode())
        return unit, f"systemctl --user daemon-reload && systemctl --user enable --now {SYSTEMD_UNIT}"
    raise ServiceUnsupported()
