"""The practice's retention rules: read from the vault, the same on every machine.

casenotes.yml's ``retention:`` section keeps what is this machine's own (the time of
the nightly run, how many clients it may purge unattended, the clock-gap valve). What
the practice keeps and for how long (the preset and overrides, the notice period) and
the heard-within window are shared: the newest signed version in ``vault/settings/``
(vault/store/practice_rules.py). An older vault gets its version 1 from the first
machine to upgrade, from that machine's casenotes.yml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vault import Vault
from vault.store import practice_rules
from vault.store.practice_rules import RulesView

from .errors import RulesOutdated
from .group import DEFAULT_HEARD_WITHIN
from .policy import DEFAULT_PRESET, OVERRIDABLE, Policy, PolicyInvalid, policy_from

#: the keys of a ``retention:`` mapping that are the practice's, not one machine's
SHARED = ("preset", "kinds", *OVERRIDABLE, "heard_within_hours")


def shared_part(retention: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in retention.items() if k in SHARED}


def validate(settings: Mapping[str, Any]) -> None:
    """Raise PolicyInvalid for a shared mapping no machine could apply."""
    for key in settings:
        if key not in SHARED:
            raise PolicyInvalid(key, f"not a practice rule (known: {', '.join(SHARED)})")
    hours = settings.get("heard_within_hours", 1)
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        raise PolicyInvalid("heard_within_hours", "must be a whole number of hours, 1 or more")
    policy_from(settings)


@dataclass(frozen=True)
class PracticeRules:
    settings: Mapping[str, Any]
    version: int  # 0: the vault holds no version yet (read from casenotes.yml)
    view: RulesView = field(default_factory=lambda: RulesView(None))

    @property
    def policy(self) -> Policy:
        policy = policy_from(self.settings)
        if self.version:  # say where the rules come from
            policy = replace(policy, name=policy.name.split(" (")[0] + f" (practice rules v{self.version})")
        return policy

    @property
    def heard_within(self) -> dt.timedelta:
        hours = self.settings.get("heard_within_hours")
        return dt.timedelta(hours=int(hours)) if hours else DEFAULT_HEARD_WITHIN


def differs_from_default(shared: Mapping[str, Any]) -> bool:
    return {k: v for k, v in shared.items() if k != "heard_within_hours" or v != 48} not in (
        {},
        {"preset": DEFAULT_PRESET},
    )


def current(vault: Vault, local: Mapping[str, Any], upgrade: bool = False) -> PracticeRules:
    """The rules this machine applies. ``local``: its casenotes.yml ``retention:`` mapping.

    ``upgrade`` (a purge, the nightly run: commands that write anyway; a status line does
    not write): a vault with no version yet gets version 1 from ``local`` when this machine is the
    practice's only device, or its casenotes.yml names rules of its own: a joined machine
    with the defaults must not make 7 years the practice's rule before the machine that
    keeps 10 has upgraded (until then, the nightly checks' RulesDiffer holds its purges).
    """
    view = practice_rules.read(vault)
    if view.current is None:
        shared = shared_part(local)
        if upgrade and (len(vault.trust.device_keys()) <= 1 or differs_from_default(shared)):
            try:
                practice_rules.write(vault, shared, 1)
            except FileExistsError:
                pass  # written already by this device; it failed its check (refused, reported)
            view = practice_rules.read(vault)
        if view.current is None:
            return PracticeRules(shared, 0, view)
    return PracticeRules(dict(view.current.settings), view.current.version, view)


def change(vault: Vault, local: Mapping[str, Any], key: str, value: Any) -> PracticeRules:
    """Write the next version with ``key`` set to ``value`` (None: back to the preset's)."""
    now = current(vault, local, upgrade=True)
    settings = dict(now.settings)
    if value is None:
        settings.pop(key, None)
    else:
        settings[key] = value
    validate(settings)
    version = max(now.version, practice_rules.seen_version(vault)) + 1
    practice_rules.write(vault, settings, version)
    return current(vault, local)


def check_not_outdated(vault: Vault, version: int) -> None:
    """Raise RulesOutdated when a registered device's signed entry names a newer version than
    the one this machine applies: a version still syncing, or deleted and an older one
    put back."""
    seen = practice_rules.seen_version(vault)
    if seen > version:
        raise RulesOutdated(version, seen)
