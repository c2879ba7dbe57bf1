"""A client's rights reports on a long audit log: the requests, the accounting of
disclosures and the access report of a client with 20,000 seal entries.

    .venv/bin/python benchmarks/bench_rights.py [--entries 20000]

Each report reads only the lines of its own events (vault/rights/reading.py) and checks
their signatures; checking every line that names the client (as `signed_entries` with the
client's id would) is timed beside it for comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time

from common import new_practice

from vault.format.encoding import canonical, new_id
from vault.rights import access_report, disclosures, requests
from vault.store.audit import signed_entries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    practice, vault = new_practice()
    try:
        client_id = new_id()
        vault.audit.deferring = True  # one fsync for the lot: the log's size is what is measured
        for _ in range(args.entries):
            vault.audit.append("seal", client=client_id, note=new_id(), revision=1)
        vault.audit.sync()
        vault.audit.deferring = False
        today = dt.date(2026, 12, 1)
        for _ in range(10):
            disclosures.record(vault, client_id, today, "a recipient", "a purpose", "a description")
        timed = {
            "every line naming the client, signatures checked": lambda: signed_entries(
                vault.audit.directory, vault.trust.device_keys(), canonical({"client": client_id})[1:-1]
            ),
            "request list (one client)": lambda: requests.load(vault, client_id),
            "disclosures": lambda: disclosures.accounting(vault, client_id, dt.date(2000, 1, 1), {}, {}),
            "access-report": lambda: access_report.report(vault, client_id, None, {}),
        }
        print(f"{args.entries:,} seal entries of one client")
        for name, run in timed.items():
            start = time.perf_counter()
            run()
            print(f"  {name}: {time.perf_counter() - start:.3f} s")
    finally:
        shutil.rmtree(practice.root, ignore_errors=True)


if __name__ == "__main__":
    main()
