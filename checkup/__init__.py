"""checkup: the doctor's checks of this machine, its practice folders, its keys, and what
the practice owes.

Each check is a function from plain inputs (paths, the vault, a file's text, the rules in
force) to a `Finding`, so each can be tested passing and failing; nothing here changes
anything. It imports the packages whose facts it checks (vault, syncd, site_builder,
retention), never the command line: `casenotes doctor` (casenotes/doctor.py) gathers the
real inputs from this machine and the practice's configuration (its backup targets, the
retention rules it applies), and keeps the one check of casenotes' own passphrase rule.

- ``machine``: the disks, swap, RAM directory, inbox leftovers, syncd and a sync engine.
- ``keys``: the passphrase's hardening, the second factor, recovery, this device's key.
- ``duties``: backups taken and verified, disposals due, retention rules agreed between
  the machines, clients' requests near their deadline.
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
