"""The nightly notice in a group practice (issue 29, item 6). Both machines' syncd run at
the nightly minute: the purging device disposes of a client while the other, whose rules
(issue 29, item 3: its own casenotes.yml) had the client fall due only then, writes its own
notice into the client's folder at that moment; the sync engine keeps the newer file over
the deletion and the client comes back "revived" on both machines, verify failing. Now, in
a group practice, only the device that makes the nightly purges writes the nightly notice:
a purge and a notice are never written into one client at once."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from helpers.group_purge import APA, _acknowledged, _purge, machines  # noqa: F401 (a fixture)
from helpers.retention_vault import add

from retention import certificate, group, records
from retention.errors import RulesDiffer
from retention.purge import RunReport, run
from vault import Vault, verify
from vault.store import purged

#: the other machine's rules: kept twenty years, so the client falls due between the
#: purging machine's notice and its purge
LONGER = dataclasses.replace(APA, adult_years=20)


def _nightly(vault: Vault, policy: dataclasses.Field | object = APA) -> RunReport:
    vault.audit.append(group.HEARD_EVENT)  # what each machine's nightly run writes first
    return run(vault, policy, [], unattended=True, max_clock_gap=dt.timedelta(days=9999))  # type: ignore[arg-type]


def test_the_other_machines_nightly_notice_never_revives_a_client_purged_at_that_minute(machines) -> None:  # noqa: F811
    desk, laptop, sync, clock = machines
    purger, other = sorted((desk, laptop), key=lambda v: v.device.device_id)  # the smallest id purges
    client_id = add(desk, "AB-1", ["2010-01-15"])
    sync()
    clock.set("2030-01-01T03:29:00")
    for vault in (purger, other):
        vault.audit.append(group.HEARD_EVENT)
    sync()
    clock.set("2030-01-01T03:30:00")
    assert _nightly(purger).purged == []  # its first notice: the purge waits a notice period
    assert _nightly(other, LONGER).purged == []  # not due by its rules yet
    sync()

    clock.set("2030-03-01T03:29:00")  # each machine heard from the other, as every night
    for vault in (purger, other):
        vault.audit.append(group.HEARD_EVENT)
    sync()
    assert list(_nightly(purger).intents) == [client_id]  # phase one: its intent
    _acknowledged(sync, other)  # acknowledged by the practice's rules, before it changed them
    clock.set("2030-03-01T03:30:00")  # both nightly runs at the same minute
    report = _nightly(purger)
    assert report.purged == [client_id], report
    _nightly(other, LONGER)  # before, its notice went into the client's folder here
    sync()

    for vault in (desk, laptop):
        assert client_id not in vault.client_ids()
        assert purged.revived(vault.root, purged.signed(vault), vault.device.device_id) == []
        assert not [p for p in verify(vault) if p.revived]  # nothing came back over the purge
        assert len(certificate.all_certificates(vault)) == 1
    # The purging machine's view is whole. The other decides for itself (issue 28): by its own
    # rules the client was announced only now, so it refuses the purge and says its files went.
    assert verify(purger) == []


def test_verify_says_what_to_do_with_a_revived_client_not_to_restore_a_backup(machines, empty) -> None:  # noqa: F811
    """A purged client's files that came back (a notice written before this fix, or a note
    sealed on a machine that had not heard of the purge): verify names the decision to make,
    not "restore from a backup", which cannot bring back what the purge destroyed."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    clock.set("2030-01-01T03:30:00")
    laptop.audit.append(group.HEARD_EVENT)
    sync()
    assert _purge(desk, sync, (laptop,)).purged == [client_id]
    records.note_notice(laptop, client_id, clock().date())  # laptop had not heard of the purge
    sync()
    _nightly(desk)  # sets the revived files aside under vault/revived/
    assert [r.set_aside for r in purged.revived(desk.root, purged.signed(desk), desk.device.device_id)] == [
        True
    ]

    checked = empty.run("verify")
    assert checked.code == 1
    last = checked.err.strip().splitlines()[-1]
    assert "purged client(s) whose files came back" in last and "ask the practitioner" in last, last
    assert str(desk.root / "revived") in last and "restore" not in last.replace("cannot bring back", "")


def test_machines_that_purge_by_different_rules_purge_nothing_until_they_agree(machines, empty) -> None:  # noqa: F811
    """Issue 29, item 3: each machine reads its own casenotes.yml; one that fell back to
    another preset purged a client the practice keeps longer. Each nightly check now records
    the rules it purges by, and no machine purges while a recent check names other rules."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-15"])
    sync()
    clock.set("2030-01-01T03:30:00")
    _nightly(laptop, LONGER)  # the laptop keeps records twenty years
    sync()
    with pytest.raises(RulesDiffer, match=f"device {laptop.device.device_id} purges by other"):
        run(desk, APA, [], unattended=False)
    assert client_id in desk.client_ids()
    checkup = empty.run("doctor").text  # the desk's practice folder
    assert f"WARN  retention rules: device {laptop.device.device_id} purges by other rules" in checkup

    _nightly(laptop, APA)  # its casenotes.yml corrected: the next check agrees
    sync()
    assert _purge(desk, sync, (laptop,)).purged == [client_id]
