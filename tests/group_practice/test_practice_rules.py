"""Issue 29, item 3: one practice, one set of retention rules. Alex keeps adult records 10
years; Bea's machine, joined later, has no retention section in its casenotes.yml (it
fell back to 7 years and could purge a client Alex keeps). The rules now live in the vault
as signed versions (vault/settings/), and every machine applies the newest valid one."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
from helpers.group_purge import machines  # noqa: F401 (a fixture)
from helpers.retention_vault import add
from nacl.signing import SigningKey

from retention import policy_from, rules
from retention.errors import RulesOutdated
from retention.purge import run, scan
from vault import Vault
from vault.format.constants import JSON_FORMAT_VERSION, PRACTICE_RULES_FORMAT
from vault.format.keys import sign_record, signer
from vault.store import practice_rules

ALEX = {"preset": "apa", "adult_years": 10}  # Alex's casenotes.yml, before the upgrade
BEA: dict[str, object] = {}  # Bea's joined machine: no retention section at all


def _purge(vault: Vault, local: dict[str, object]) -> list[str]:
    shared = rules.current(vault, local, upgrade=True)
    report = run(
        vault,
        shared.policy,
        [],
        unattended=False,
        heard_within=shared.heard_within,
        rules_version=shared.version,
    )
    return report.purged


def _states(vault: Vault, local: dict[str, object]) -> list[str]:
    policy = rules.current(vault, local).policy
    return [r.decision.state for r in scan(vault, policy, vault.clock().date(), announce=False) if r.decision]


def _seen_in_2017(machines) -> tuple[Vault, Vault, Callable[[], None], str]:  # noqa: F811
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2017-03-01"])
    assert rules.current(desk, ALEX, upgrade=True).version == 1  # the first machine to upgrade
    sync()
    clock.set("2026-06-01T03:30:00")  # 9 years on: due under 7 years, kept under 10
    return desk, laptop, sync, client_id


def test_a_joined_machine_with_no_retention_section_keeps_what_the_practice_keeps(machines) -> None:  # noqa: F811
    desk, laptop, sync, client_id = _seen_in_2017(machines)
    assert [r.decision.state for r in scan(laptop, policy_from(BEA), laptop.clock().date(), False)] == ["due"]

    assert rules.current(laptop, BEA).policy.adult_years == 10
    assert _states(laptop, BEA) == ["active"]
    desk.audit.append("retention-check")  # the desk is heard from
    sync()
    assert _purge(laptop, BEA) == []
    sync()
    assert client_id in desk.client_ids() and client_id in laptop.client_ids()


def test_a_rules_file_signed_by_an_unregistered_device_is_refused(machines) -> None:  # noqa: F811
    desk, laptop, sync, client_id = _seen_in_2017(machines)
    stranger = "0123456789abcdef"
    forged = {
        "format": PRACTICE_RULES_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "rules_version": 2,
        "device": stranger,
        "written": "2026-06-01T03:00:00Z",
        "settings": {"preset": "pennsylvania"},  # 5 years: the client would be due
    }
    path = laptop.root / practice_rules.FOLDER / f"000002-{stranger}.json"
    path.write_bytes(sign_record(forged, signer(SigningKey.generate())))

    view = practice_rules.read(laptop)
    assert view.current is not None and view.current.version == 1
    assert [bad.path for bad in view.refused] == [path] and "unregistered device" in view.refused[0].why
    assert _states(laptop, BEA) == ["active"]


def test_an_older_version_put_back_is_not_applied(machines) -> None:  # noqa: F811
    desk, laptop, sync, client_id = _seen_in_2017(machines)
    assert rules.change(desk, ALEX, "adult_years", 5).version == 2  # a mistake, put right at once:
    newest = rules.change(desk, ALEX, "adult_years", 10)
    assert newest.version == 3
    desk.audit.append("retention-check")  # the desk is heard from
    sync()
    folder = laptop.root / practice_rules.FOLDER
    (folder / newest.view.current.path.name).unlink()  # version 3 gone: version 2 (5 years) is back
    assert _states(laptop, BEA) == ["due"]

    with pytest.raises(RulesOutdated, match="version 2 of .* version 3 was written"):
        _purge(laptop, BEA)
    assert client_id in laptop.client_ids()

    # A copy of version 2 renamed to pass for a newer version is refused, not applied.
    old = f"000002-{desk.device.device_id}.json"
    shutil.copy(folder / old, folder / f"000004-{desk.device.device_id}.json")
    view = practice_rules.read(laptop)
    assert view.current.version == 2 and "name does not match" in view.refused[0].why


def test_two_machines_writing_the_same_version_apart_agree_on_one(machines) -> None:  # noqa: F811
    desk, laptop, sync, client_id = _seen_in_2017(machines)
    rules.change(desk, ALEX, "adult_years", 12)
    rules.change(laptop, BEA, "notice_days", 60)
    sync()
    chosen = {practice_rules.read(v).current.device for v in (desk, laptop)}
    assert chosen == {min(desk.device.device_id, laptop.device.device_id)}
    assert len(practice_rules.read(desk).tied) == 1


def test_rules_set_writes_a_version_every_machine_applies_and_doctor_names_a_stale_casenotes_yml(
    machines,  # noqa: F811
    empty,
) -> None:
    desk, laptop, sync, clock = machines
    add(desk, "AB-1", ["2017-03-01"])
    done = empty.run("retention", "rules", "set", "adult_years", "10")
    assert done.code == 0, done.err
    assert "version 1" in done.text and "10 years" in done.text
    assert any(e.event == practice_rules.EVENT for e in desk.audit.entries())
    sync()
    clock.set("2026-06-01T03:30:00")
    assert _states(laptop, BEA) == ["active"]

    bad = empty.run("retention", "rules", "set", "adult_years", "ten")
    assert bad.code == 2 and "adult_years" in bad.err and len(list((desk.root / "settings").iterdir())) == 1

    settings_file = empty.practice.settings_file
    settings_file.write_text(settings_file.read_text().replace('preset: "apa"', 'preset: "pennsylvania"'))
    checkup = empty.run("doctor").text
    assert "its retention rules" in checkup and "are the ones applied" in checkup, checkup
    shown = empty.run("retention", "rules").text
    assert "practice rules (version 1)" in shown and "10 years after the last session" in shown
