"""The practice's shared rules (retention presets and overrides, the notice period, the
heard-within window): one signed file per version, in ``settings/``.

Every machine of a group practice must purge by the same rules (issue 29: a joined
machine with no retention section fell back to 7 years while the practice keeps 10). So
the rules live in the vault, not in each machine's casenotes.yml. A version is written
once, under a name no other machine writes (``settings/<version>-<device>.json``: no file
two machines both rewrite), signed by the device that wrote it, and its writing is in the
audit log. The newest valid version wins; two machines that wrote the same version while
apart are told apart by device id (the smaller wins, on every machine), and reported.
A file a registered device did not sign, or whose name does not match its contents, is
refused and reported, never applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import durable
from ..errors import TamperedFile
from ..format import sync_artefacts
from ..format.constants import JSON_FORMAT_VERSION, PRACTICE_RULES_FORMAT
from ..format.encoding import stamp
from ..format.keys import check_record, sign_record
from .audit import signed_entries
from .vault import Vault

FOLDER = "settings"
EVENT = "practice-rules"


@dataclass(frozen=True)
class Rules:
    version: int
    device: str
    written: str
    settings: Mapping[str, Any]
    path: Path


@dataclass(frozen=True)
class RulesView:
    """What this machine holds of the practice's rules."""

    current: Rules | None  # None: no version written yet (an older vault)
    tied: tuple[Rules, ...] = ()  # other devices' files of the same version, not applied
    refused: tuple[TamperedFile, ...] = ()


def _name(version: int, device: str) -> str:
    return f"{version:06d}-{device}.json"


def read(vault: Vault) -> RulesView:
    keys = vault.trust.device_keys()
    valid: list[Rules] = []
    refused: list[TamperedFile] = []
    for path in sync_artefacts.glob(vault.root / FOLDER, "*.json"):
        try:
            record = check_record(path, PRACTICE_RULES_FORMAT, keys)
            version, device = record.get("rules_version"), str(record.get("device"))
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise TamperedFile(path, "its version is not a whole number, 1 or more")
            if path.name != _name(version, device):  # a copy renamed to pass for another version
                raise TamperedFile(path, f"its name does not match its contents ({_name(version, device)})")
            settings = record.get("settings")
            if not isinstance(settings, dict):
                raise TamperedFile(path, "it holds no settings")
        except TamperedFile as exc:
            refused.append(exc)
            continue
        valid.append(Rules(version, device, str(record.get("written")), settings, path))
    if not valid:
        return RulesView(None, (), tuple(refused))
    newest = max(r.version for r in valid)
    same = sorted((r for r in valid if r.version == newest), key=lambda r: r.device)
    return RulesView(same[0], tuple(same[1:]), tuple(refused))


def seen_version(vault: Vault) -> int:
    """The newest rules version a registered device's signed audit entry names (its own
    writing of a version, or a nightly check by it): what this machine's files must reach.
    The audit log only grows, so a newer version deleted, or an older one put back in its
    place, is still known to have existed."""
    found = signed_entries(vault.audit.directory, vault.trust.device_keys(), b'"rules_version"')
    versions = (e.data.get("rules_version") for e in found)
    return max((v for v in versions if isinstance(v, int) and not isinstance(v, bool)), default=0)


def write(vault: Vault, settings: Mapping[str, Any], version: int) -> Rules:
    """Write ``version`` of the rules, signed by this device, and audit it. Raises
    FileExistsError if this device already wrote that version."""
    device = vault.device.device_id
    when = stamp(vault.clock())
    record: dict[str, Any] = {
        "format": PRACTICE_RULES_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "rules_version": version,
        "device": device,
        "written": when,
        "settings": dict(settings),
    }
    path = vault.root / FOLDER / _name(version, device)
    durable.make_dirs(path.parent)
    durable.write_new(path, sign_record(record, vault.device.sign))
    vault.audit.append(EVENT, rules_version=version, settings=dict(settings))
    return Rules(version, device, when, dict(settings), path)
