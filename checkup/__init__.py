"""checkup: the doctor's checks of this machine, its practice folders and its keys.

Each check is a function from plain inputs (paths, the vault, a file's text) to a
`Finding`, so each can be tested passing and failing; nothing here changes anything.
It imports the packages whose facts it checks (vault, syncd, site_builder), never the
command line: `casenotes doctor` (casenotes/doctor.py) gathers this machine's real
inputs, and keeps the checks of what only the practice's configuration knows (its
backup targets, its retention rules, the passphrase in the environment).

- ``machine``: the disks, swap, RAM directory, inbox leftovers, syncd and a sync engine.
- ``keys``: the passphrase's hardening, the second factor, recovery, this device's key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # "ok", "warn" or "fail"
    detail: str  # what was found, and (unless ok) what to do

    def line(self) -> str:
        return f"{self.status.upper():<4}  {self.check}: {self.detail}"
