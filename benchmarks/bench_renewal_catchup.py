"""What finding clients sealed to a replaced key costs an unlock (vault/store/renewal_catchup.py).

A practice with N clients renews its key; then: the catch-up of the first unlock after it
(started where the renewal had read the logs), of a later unlock, and of a second machine
of the same practitioner that never looked before. Each is CPU time of `catch_up` alone
(and the wall time of reading every log from its start, whose state writes wait on fsync).

.venv/bin/python benchmarks/bench_renewal_catchup.py [--clients 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import time

from common import PASSPHRASE, new_practice

from vault import Passphrase, Vault
from vault.store import renewal_catchup
from vault.store.practice import register_device

NEW = "fictional benchmark passphrase, renewed"


def cpu(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        action()  # type: ignore[operator]
        times.append(time.process_time() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    practice, vault = new_practice()
    for number in range(args.clients):
        vault.add_client(f"C-{number}")
    second = register_device(practice.vault_dir, practice.root / ".second", Passphrase(PASSPHRASE))
    second.close()
    started = time.process_time()
    vault.change_passphrase(Passphrase(PASSPHRASE), Passphrase(NEW))
    print(f"{args.clients} clients: renewal {time.process_time() - started:.2f} s CPU")
    practitioner = vault.unlock(Passphrase(NEW))

    def first() -> None:
        renewal_catchup.state_path(vault).unlink(missing_ok=True)
        renewal_catchup.catch_up(vault, practitioner)

    print(f"first unlock after it: catch-up {cpu(first, args.runs) * 1000:.1f} ms CPU")
    vault.unlock(Passphrase(NEW))
    later = cpu(lambda: renewal_catchup.catch_up(vault, practitioner), args.runs)
    print(f"a later unlock: catch-up {later * 1000:.1f} ms CPU")
    other = Vault(practice.vault_dir, practice.root / ".second")
    on_second = other.unlock(Passphrase(NEW))

    def second_first() -> None:
        renewal_catchup.state_path(other).unlink(missing_ok=True)
        renewal_catchup.catch_up(other, on_second)

    print(f"the second machine's first unlock: catch-up {cpu(second_first, args.runs) * 1000:.1f} ms CPU")

    def from_scratch() -> None:  # no renewal entry to start from: every log from its start
        path = renewal_catchup.state_path(other)
        path.write_bytes(b'{"format": "casenotes-renewal-catchup", "practitioner_id": "x"}')
        state = renewal_catchup._read(other, on_second)
        state["logs"] = {}
        renewal_catchup._write(other, state)
        renewal_catchup.catch_up(other, on_second)

    wall = time.perf_counter()
    scratch = cpu(from_scratch, 1)
    wall = time.perf_counter() - wall  # its fsyncs wait on the disk, not the CPU
    print(f"every log from its start: catch-up {scratch * 1000:.1f} ms CPU, {wall * 1000:.1f} ms wall")
    other.close()
    vault.close()
    shutil.rmtree(practice.root)


if __name__ == "__main__":
    main()
