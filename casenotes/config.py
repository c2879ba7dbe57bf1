"""Where things are, and the practice's settings file ``casenotes.yml``.

This is the only module that reads the environment; the core packages are handed paths.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
import yaml

from syncd import MAX_NOTE_BYTES
from vault import durable

if TYPE_CHECKING:
    from retention import Policy

CONFIG_FILE = "casenotes.yml"
#: libyaml's reader where PyYAML has it (as note_templates' front matter): the same safe
#: constructor, a tenth of the pure-Python reader's time; `status` reads the file thrice
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CONFIG_VERSION = 1
TIME_OF_DAY = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")
#: keys of the retention section that steer syncd's nightly run, not the policy itself
#: (heard_within_hours: a group practice purges only when every device was heard from that
#: recently, see retention/group.py and docs/sharing.md)
RETENTION_RUN = {"time": "03:30", "max_unattended": 5, "max_clock_gap_days": 400, "heard_within_hours": 48}


class ConfigError(Exception):
    exit_code = 1

    def __init__(self, path: Path, key: str | None, why: str) -> None:
        super().__init__(path, key, why)
        self.path, self.key, self.why = path, key, why

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}" if self.key else str(self.path)
        return f"{where}: {self.why}"


@dataclass(frozen=True)
class Settings:
    """casenotes.yml. Every key, its default and its meaning are documented here once."""

    version: int = CONFIG_VERSION
    #: seconds a note must be quiet (no save) before syncd seals it
    quiet_period_seconds: float = 2.0
    #: hours after which an untouched draft is sealed and parked out of the inbox
    draft_ttl_hours: float = 8.0
    #: minutes without a request after which an open client site is wiped
    idle_timeout_minutes: float = 15.0
    #: seconds between full scans of the inbox that catch changes the watcher missed
    rescan_seconds: float = 60.0
    #: largest note syncd will seal, in MiB
    max_note_mib: float = MAX_NOTE_BYTES / 2**20
    #: the practice's and your own name, as the cover and signature of `casenotes export` show them
    practice_name: str = ""
    practitioner_name: str = ""
    #: local time of day ("HH:MM") at which syncd takes the daily backup
    backup_time: str = "02:00"
    #: backup generations kept by `casenotes backup prune`
    keep_daily: int = 7
    keep_weekly: int = 5
    keep_monthly: int = 12
    keep_yearly: int = 7
    #: backup targets: folders (an external drive, a NAS mount); relative to the practice
    backup_targets: tuple[str, ...] = ("backups",)
    #: how long records are kept: a preset (apa, california, new-york, pennsylvania) and
    #: overrides; and when syncd purges (see docs/retention.md)
    retention: Mapping[str, Any] = field(default_factory=lambda: {"preset": "apa"})

    def policy(self) -> Policy:
        from retention import policy_from  # the policies load when asked for, not with every command

        return policy_from(self.retention)

    @property
    def max_note_bytes(self) -> int:
        """The one size limit syncd and `status` apply to an inbox file."""
        return int(self.max_note_mib * 1024 * 1024)

    def retention_run(self, key: str) -> Any:
        return self.retention.get(key, RETENTION_RUN[key])

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: Path) -> Settings:
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(path, str(key), f"unknown setting (known: {', '.join(known)})")
        values: dict[str, Any] = {}
        for key, value in data.items():
            default = known[key].default
            if key == "version":
                if value != CONFIG_VERSION:
                    raise ConfigError(path, key, f"must be {CONFIG_VERSION}")
            elif key == "retention":
                value = _retention(value, path)
            elif key == "backup_time":
                if not (isinstance(value, str) and TIME_OF_DAY.fullmatch(value)):
                    raise ConfigError(path, key, 'must be a time of day in quotes, e.g. "02:00"')
            elif key in ("practice_name", "practitioner_name"):
                if not isinstance(value, str):
                    raise ConfigError(path, key, 'must be a name in quotes, e.g. "Harbour Counselling"')
                value = value.strip()
            elif key == "backup_targets":
                if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                    raise ConfigError(
                        path, key, "must be a list of folders, e.g. [backups, /media/usb/casenotes]"
                    )
                value = tuple(value)
            elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(path, key, f"must be a positive number (default {default})")
            values[key] = value
        return cls(**values)

    def to_yaml(self) -> str:
        lines = [
            "# casenotes practice settings. Delete a line to get its default back.",
            f"version: {self.version}",
            "# seconds a note must be left alone before syncd seals it",
            f"quiet_period_seconds: {self.quiet_period_seconds}",
            "# hours after which an untouched draft is sealed and moved out of the inbox",
            f"draft_ttl_hours: {self.draft_ttl_hours}",
            "# minutes of inactivity after which an open client site is wiped",
            f"idle_timeout_minutes: {self.idle_timeout_minutes}",
            "# seconds between full scans of the inbox (they catch changes the watcher missed)",
            f"rescan_seconds: {self.rescan_seconds}",
            "# largest note syncd will seal, in MiB",
            f"max_note_mib: {self.max_note_mib}",
            "# local time of day at which syncd takes the daily backup (missed ones run at wake-up)",
            f'backup_time: "{self.backup_time}"',
            "# backup generations kept by `casenotes backup prune`",
            f"keep_daily: {self.keep_daily}",
            f"keep_weekly: {self.keep_weekly}",
            f"keep_monthly: {self.keep_monthly}",
            f"keep_yearly: {self.keep_yearly}",
            "# names the client's copy (`casenotes export`) shows on its cover and signature",
            f"practice_name: {json.dumps(self.practice_name)}",
            f"practitioner_name: {json.dumps(self.practitioner_name)}",
            "# where backups go: add a folder on an external drive; 'backups' is on this disk",
            f"backup_targets: {json.dumps(list(self.backup_targets))}",
            "# how long records are kept. YOU choose the rules of your jurisdiction and profession.",
            "# They are the practice's, kept in the vault once a purge or syncd has run: change them",
            "# with `casenotes retention rules set KEY VALUE`; these lines give the first version:",
            "# preset apa (default), california, new-york or pennsylvania, then any override, e.g.",
            "#   adult_years: 10, minor_years_after_majority: 3, majority_age: 18, minor_until_age: 22,",
            "#   kinds: {intake: 10}, notice_days: 30. syncd purges what is due nightly at `time`, but",
            "#   never more than max_unattended clients at once without `casenotes retention purge`.",
            "#   A group practice (one vault synced between machines) purges only when every machine",
            "#   has been heard from within heard_within_hours (docs/sharing.md).",
            "retention:",
            *(
                f"  {k}: {json.dumps(v)}"
                for k, v in ({**self.retention} | {**RETENTION_RUN, **self.retention}).items()
            ),
        ]
        return "\n".join(lines) + "\n"


def _retention(value: object, path: Path) -> dict[str, Any]:
    from retention.policy import OVERRIDABLE, PolicyInvalid, policy_from

    if not isinstance(value, dict):
        raise ConfigError(path, "retention", "must hold 'key: value' lines, e.g. preset: apa")
    try:
        policy_from(value)
    except PolicyInvalid as exc:
        raise ConfigError(path, f"retention.{exc.key}", exc.why) from None
    policy_keys = {"preset", "kinds", *OVERRIDABLE}
    for key, item in value.items():
        if key == "time":
            if not (isinstance(item, str) and TIME_OF_DAY.fullmatch(item)):
                raise ConfigError(path, "retention.time", 'must be a time of day in quotes, e.g. "03:30"')
        elif key in RETENTION_RUN:
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise ConfigError(path, f"retention.{key}", "must be a whole number, 1 or more")
        elif key not in policy_keys:
            known = ", ".join(sorted(policy_keys | set(RETENTION_RUN)))
            raise ConfigError(path, f"retention.{key}", f"unknown setting (known: {known})")
    return dict(value)


@dataclass(frozen=True)
class Practice:
    """The practice directory: settings, the inbox of drafts, and the vault."""

    root: Path
    config_dir: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def vault_dir(self) -> Path:
        return self.root / "vault"

    @property
    def templates_dir(self) -> Path:
        """The practice's own note templates (see docs/templates.md)."""
        return self.root / "templates"

    @property
    def state_dir(self) -> Path:
        """The daemon's lock, log and state: beside the inbox, never in the vault."""
        return self.root / ".syncd"

    @property
    def settings_file(self) -> Path:
        return self.root / CONFIG_FILE

    def settings(self) -> Settings:
        path = self.settings_file
        if not path.exists():
            return Settings()
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader) or {}  # noqa: S506 (safe)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(path, None, "is not valid YAML; fix it or delete it") from exc
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise ConfigError(path, None, f"could not be read ({why}); check the file and the disk") from exc
        if not isinstance(data, dict):
            raise ConfigError(path, None, "must hold 'setting: value' lines")
        return Settings.from_mapping(data, path)

    def backup_targets(self) -> list[str]:
        """Target specs: folders (relative to the practice) or ``rclone:REMOTE:PATH``."""
        return list(self.settings().backup_targets)

    def create_layout(self) -> None:
        """The folders and settings file of a new practice (the vault makes its own)."""
        durable.make_dirs(self.inbox)
        os.chmod(self.root, durable.DIR_MODE)
        durable.write_new(self.settings_file, Settings().to_yaml().encode())

    def complete_layout(self) -> list[str]:
        """What a machine that joins a practice lacks, made: the vault came over from another
        machine, but the inbox, this machine's settings file (its backup target, editor,
        timeouts: local, never synced) and the folders' modes are its own (docs/sharing.md).
        Returns what was done, one phrase each; nothing that exists is overwritten."""
        done = []
        if not self.inbox.is_dir():
            durable.make_dirs(self.inbox)
            done.append(f"made the inbox {self.inbox}")
        for folder in (self.root, self.inbox, self.vault_dir):
            if folder.stat().st_mode & 0o077:
                os.chmod(folder, durable.DIR_MODE)  # `mkdir -p` left it open to other users
                done.append(f"closed {folder} to other users (mode 700)")
        if not self.settings_file.exists():
            try:
                durable.write_new(self.settings_file, Settings().to_yaml().encode())
            except FileExistsError:
                pass  # made a moment ago by another command: it stands
            else:
                done.append(
                    f"wrote this machine's settings {self.settings_file} (backups to {self.root / 'backups'})"
                )
        return done


def practice_root(option: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """--practice, else CASENOTES_HOME, else ~/casenotes."""
    chosen = option or env.get("CASENOTES_HOME")
    return Path(chosen).expanduser().absolute() if chosen else Path.home() / "casenotes"


def config_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where device keys live: outside the practice, never in a backup."""
    chosen = env.get("CASENOTES_CONFIG_DIR")
    return Path(chosen).expanduser().absolute() if chosen else Path(platformdirs.user_config_dir("casenotes"))


PASSPHRASE_VARIABLE = "CASENOTES_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
_taken: dict[str, str] = {}  # the passphrase taken out of the environment, held in memory only


def take_passphrase_from_env(env: MutableMapping[str, str] = os.environ) -> None:
    """Read CASENOTES_PASSPHRASE once and remove it from the environment.

    Called first thing: an editor, a browser or rclone started later inherits an
    environment without it (and a child's /proc/PID/environ never shows it).
    """
    value = env.pop(PASSPHRASE_VARIABLE, None)
    if value is not None:
        _taken[PASSPHRASE_VARIABLE] = value


def passphrase_from_env() -> str | None:
    """The passphrase CASENOTES_PASSPHRASE held when this process started, if any."""
    return _taken.get(PASSPHRASE_VARIABLE)


KEY_FILE_VARIABLE = "CASENOTES_KEY_FILE"


def key_file_path(option: str | None, env: Mapping[str, str] = os.environ) -> Path | None:
    """Where the key file (the second factor) is: --key-file, else CASENOTES_KEY_FILE.

    Only its path is taken from here; the file is read when a key is unlocked."""
    chosen = option or env.get(KEY_FILE_VARIABLE)
    return Path(chosen).expanduser().absolute() if chosen else None


def rclone_config_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder of rclone's config file: RCLONE_CONFIG's, else rclone's default."""
    chosen = env.get("RCLONE_CONFIG")
    if chosen:
        return Path(chosen).expanduser().absolute().parent
    return Path(platformdirs.user_config_dir("rclone", roaming=True))


def ram_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Where an open site may live, most private first: RAM file systems."""
    found = [Path("/dev/shm")]  # noqa: S108 (a RAM file system, chosen on purpose)
    if env.get("XDG_RUNTIME_DIR"):
        found.append(Path(env["XDG_RUNTIME_DIR"]))
    return found
