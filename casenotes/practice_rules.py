"""The practice's shared retention rules as this machine applies them: the vault's newest
version (retention/rules.py), with casenotes.yml's part for a vault that has none yet."""

from __future__ import annotations

from retention.rules import PracticeRules, current
from vault import Vault

from .config import Practice


def practice_rules(p: Practice, vault: Vault, upgrade: bool = False) -> PracticeRules:
    """``upgrade``: write version 1 from casenotes.yml if the vault has none (retention/rules.py)."""
    return current(vault, p.settings().retention, upgrade)
