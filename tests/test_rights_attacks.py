# ruff: noqa: F811  (`machines` is the fixture imported from test_group_purge)
"""The client's-rights commands attacked (issue 32, after issue 28's principle: a signature
says who wrote a line, not that they were allowed to). Two machines whose vaults are
merged as a sync engine merges them (tests/test_group_purge.py `Sync`)."""

from __future__ import annotations

import datetime as dt

import pytest
from test_group_purge import APA, _readable, machines  # noqa: F401
from test_purge_intents import _due

from retention import certificate, records
from retention.erasure import GroupErasure, erase
from vault.rights import requests


def test_an_erasure_in_a_group_practice_never_destroys_past_a_hold_placed_while_apart(machines) -> None:
    desk, laptop, sync, clock, client_id = _due(machines)  # past retention on both machines
    asked = requests.add(desk, client_id, "erasure", dt.date(2029, 12, 20))
    records.place_hold(laptop, client_id, "fictional subpoena")  # apart: the desk does not know
    with pytest.raises(GroupErasure) as refused:
        erase(desk, client_id, asked.request_id, APA, [])
    assert "retention purge" in str(refused.value) and asked.request_id in str(refused.value)
    assert certificate.all_certificates(desk) == {}
    sync()
    assert _readable(desk, client_id) == 1 and _readable(laptop, client_id) == 1
    assert requests.find(desk, asked.request_id).closed is None  # still to be answered

    records.release_holds(laptop, client_id)  # no hold anywhere: still refused, still kept
    sync()
    with pytest.raises(GroupErasure):
        erase(desk, client_id, asked.request_id, APA, [])
    assert _readable(desk, client_id) == 1
