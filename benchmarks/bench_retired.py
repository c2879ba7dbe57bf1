"""What a retired device costs a reader: the retire is judged by the device's audit log up
to the end the retire names (vault/store/retired.py `before`), read once per process (per
`Vault`) and again only when that log changes. Timed cold (a new `Vault`, as each command
is), against the same vault with no retire, at a few log sizes.

    .venv/bin/python benchmarks/bench_retired.py [--entries 2000 5000 20000]
"""

from __future__ import annotations

import argparse
import shutil
from functools import partial

from common import PASSPHRASE, median_of, new_practice

from casenotes.config import Practice
from vault import Passphrase, Vault
from vault.format.encoding import new_id
from vault.store.practice import register_device


def _cold(practice: Practice) -> None:
    """What a command reads of the retires, in a new `Vault`."""
    vault = Vault(practice.vault_dir, practice.config_dir)
    for device in vault.trust.retired():
        vault.trust.before_retire(device)
    vault.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, nargs="+", default=[2_000, 5_000, 20_000])
    args = parser.parse_args()
    for entries in args.entries:
        practice, desk = new_practice()
        try:
            laptop_config = practice.root / ".laptop"
            laptop = register_device(practice.vault_dir, laptop_config, Passphrase(PASSPHRASE))
            client_id = new_id()
            laptop.audit.deferring = True  # one fsync for the lot: the log's size is what is measured
            for _ in range(entries):
                laptop.audit.append("seal", client=client_id, note=new_id(), revision=1, sha256=new_id() * 4)
            laptop.audit.sync()
            laptop.close()

            plain, _ = median_of(5, partial(_cold, practice))
            desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
            retired, _ = median_of(5, partial(_cold, practice))
            print(
                f"{entries:,} entries in the laptop's log: retire read cold {retired:.3f} s (no retire: {plain:.3f} s)"
            )
        finally:
            desk.close()
            shutil.rmtree(practice.root, ignore_errors=True)


if __name__ == "__main__":
    main()
