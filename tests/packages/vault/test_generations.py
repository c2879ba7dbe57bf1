"""Backup generations, table-driven: which snapshots a policy keeps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import Env

from vault.backup.generations import KeepPolicy, to_keep

UTC = dt.UTC


def days(n: int, start: dt.datetime = dt.datetime(2026, 1, 1, 2, 0, tzinfo=UTC)) -> list[dt.datetime]:
    return [start + dt.timedelta(days=i) for i in range(n)]


@pytest.mark.parametrize(
    "times, policy, expected",
    [
        (days(10), KeepPolicy(7, 0, 0, 0), days(10)[3:]),
        (days(1), KeepPolicy(0, 0, 0, 0), days(1)),  # the newest is always kept
        (
            days(21),
            KeepPolicy(0, 3, 0, 0),
            [days(21)[i] for i in (20, 17, 10)],
        ),  # the newest of each ISO week
        (days(70), KeepPolicy(0, 0, 2, 0), [days(70)[i] for i in (69, 58)]),  # newest of March, of February
        (
            days(3) + [dt.datetime(2026, 1, 3, 23, 0, tzinfo=UTC)],
            KeepPolicy(2, 0, 0, 0),
            [dt.datetime(2026, 1, 3, 23, 0, tzinfo=UTC), days(3)[1]],
        ),  # two on one day: the later one
    ],
)
def test_policy(times, policy, expected) -> None:
    assert to_keep(times, policy) == set(expected)


def test_default_policy_over_two_years_of_nightly_backups() -> None:
    nightly = days(730)
    kept = to_keep(nightly, KeepPolicy())
    assert len(kept) <= 7 + 5 + 12 + 7
    assert nightly[-1] in kept and {t.year for t in kept} == {2026, 2027}


def test_prune_drops_snapshots_and_collects_their_objects(practice: Env) -> None:
    for _ in range(3):
        assert practice.run("backup", "run").code == 0
    target = practice.practice.root / "backups"
    snapshots = sorted((target / "snapshots").glob("*.json"))
    # make the two older snapshots look like last year's, re-signed and named as the device would
    from vault.format.encoding import b64, canonical

    vault = practice.vault()
    for n, created in enumerate(["2025-03-01T02:00:00Z", "2025-03-02T02:00:00Z"]):
        path = snapshots[n]
        record = json.loads(path.read_text())
        record.pop("signature")
        record["created"] = created
        record["files"]["orphan-marker"] = {"sha256": "0" * 64, "size": 0}
        record["signature"] = b64(vault.device.sign(canonical(record)))
        path.unlink()
        snapshots[n] = path.with_name(created.replace(":", "") + "-" + path.name.split("-", 3)[3])
        snapshots[n].write_bytes(canonical(record))
    settings = practice.practice.settings_file
    text = settings.read_text()
    for old, new in (
        ("keep_daily: 7", "keep_daily: 1"),
        ("keep_weekly: 5", "keep_weekly: 1"),
        ("keep_monthly: 12", "keep_monthly: 1"),
        ("keep_yearly: 7", "keep_yearly: 2"),
    ):
        text = text.replace(old, new)
    settings.write_text(text)
    dry = practice.run("backup", "prune", "--dry-run")
    assert "would drop 1 snapshot(s)" in dry.text and len(list((target / "snapshots").glob("*.json"))) == 3
    done = practice.run("backup", "prune")
    assert done.code == 0 and "dropped 1 snapshot(s)" in done.text
    assert snapshots[0].name in dry.text or snapshots[0].stem in dry.text
    assert not snapshots[0].exists() and snapshots[1].exists() and snapshots[2].exists()
    assert (
        practice.run("backup", "verify", "--full").code == 1
    )  # the orphan marker names an object that never existed
    referenced = set()
    for path in (target / "snapshots").glob("*.json"):
        referenced |= {f["sha256"] for f in json.loads(path.read_text())["files"].values()}
    stored = {p.name for p in Path(target / "objects").glob("*/*")}
    assert stored <= referenced  # nothing unreferenced is left
