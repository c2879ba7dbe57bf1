"""Real Syncthing instances on 127.0.0.1 for tests: one per machine of a group practice.

Each runs from its own home folder, listens on loopback only, with discovery, relays,
NAT traversal, usage reporting and upgrades off, and a GUI/REST API on a random loopback
port with a random API key. `share` makes one folder shared between instances; `pause`
and `resume` take a machine off the network and back; `converge` waits until Syncthing
shows the folder up to date on both sides and both hold the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FOLDER = "casenotes-vault"
OFF = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "urAccepted": "-1",
    "startBrowser": "false",
    "autoUpgradeIntervalH": "0",
    "crashReportingEnabled": "false",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Syncthing:
    def __init__(self, binary: str, home: Path) -> None:
        self.binary, self.home = binary, home
        self.key = secrets.token_hex(16)
        self.gui, self.port = free_port(), free_port()
        env = {**os.environ, "STNODEFAULTFOLDER": "1", "STNOUPGRADE": "1", "STNORESTART": "1"}
        self.env = env
        subprocess.run(
            [binary, "generate", "--home", str(home), "--no-default-folder", "--skip-port-probing"],
            check=True,
            capture_output=True,
            env=env,
        )
        self._configure()
        self.device_id = (
            subprocess.run(
                [binary, "serve", "--home", str(home), "--device-id"],
                check=True,
                capture_output=True,
                env=env,
            )
            .stdout.decode()
            .strip()
        )
        self.log = open(home / "syncthing.log", "wb")  # closed in stop
        self.process = subprocess.Popen(
            [binary, "serve", "--home", str(home), "--no-browser", "--no-restart", "--no-upgrade"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.get("/rest/system/ping")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"syncthing did not start; see {home / 'syncthing.log'}") from None
                time.sleep(0.2)

    def _configure(self) -> None:
        path = self.home / "config.xml"
        tree = ET.parse(path)
        gui = tree.getroot().find("gui")
        options = tree.getroot().find("options")
        assert gui is not None and options is not None
        gui.find("address").text = f"127.0.0.1:{self.gui}"  # type: ignore[union-attr]
        gui.find("apikey").text = self.key  # type: ignore[union-attr]
        options.find("listenAddress").text = f"tcp://127.0.0.1:{self.port}"  # type: ignore[union-attr]
        for name, value in OFF.items():
            element = options.find(name)
            if element is None:
                element = ET.SubElement(options, name)
            element.text = value
        tree.write(path)

    # -- REST ---------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.gui}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"X-API-Key": self.key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    # -- what a test does -----------------------------------------------------------------
    def share(self, folder: Path, *others: Syncthing) -> None:
        """Share ``folder`` with the other instances (each shares its own copy the same way)."""
        for other in others:
            self.call(
                "POST",
                "/rest/config/devices",
                {
                    "deviceID": other.device_id,
                    "name": other.home.name,
                    "addresses": [f"tcp://127.0.0.1:{other.port}"],
                },
            )
        self.call(
            "POST",
            "/rest/config/folders",
            {
                "id": FOLDER,
                "label": "vault",
                "path": str(folder),
                "devices": [{"deviceID": d.device_id} for d in (self, *others)],
                "fsWatcherEnabled": True,
                "fsWatcherDelayS": 1,
                "rescanIntervalS": 3600,
            },
        )

    def pause(self) -> None:
        self.call("PATCH", f"/rest/config/folders/{FOLDER}", {"paused": True})

    def resume(self) -> None:
        self.call("PATCH", f"/rest/config/folders/{FOLDER}", {"paused": False})

    def scan(self) -> None:
        self.call("POST", f"/rest/db/scan?folder={FOLDER}")

    def up_to_date_with(self, other: Syncthing) -> bool:
        """Syncthing's own "Up to Date" for this folder, as both sides see it: this instance
        is idle and needs nothing, OTHER holds all of this instance's files, and OTHER has
        received this instance's whole index (its sequence), so an index update still in
        flight is not taken for agreement. Completion alone is 100 before the remote has
        even heard of a new file (its sequence is 0 then)."""
        status = self.get(f"/rest/db/status?folder={FOLDER}")
        theirs = self.get(f"/rest/db/completion?folder={FOLDER}&device={other.device_id}")
        heard = other.get(f"/rest/db/completion?folder={FOLDER}&device={self.device_id}")
        return (
            status.get("state") == "idle"
            and status.get("needTotalItems") == 0
            and status.get("pullErrors", 0) == 0
            and theirs.get("completion") == 100
            and theirs.get("needItems", 0) == 0
            and heard.get("sequence") == status.get("sequence")
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def tree(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file Syncthing carries (its own markers and temp
    files excluded): an audit checkpoint rewritten at the same size is a change too."""
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] in (".stfolder", ".stignore") or relative.name.startswith(
            (".tmp-", ".syncthing.")
        ):
            continue
        if path.is_file():
            try:
                found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:  # renamed away by the engine while listed
                found[str(relative)] = "gone"
    return found


def converge(a: Syncthing, a_root: Path, b: Syncthing, b_root: Path, timeout: float = 120) -> None:
    """Wait until Syncthing itself shows the folder up to date on both sides, and both hold
    the same bytes. Under load (a CI machine at a load of 9) this takes what it takes: the
    timeout is only there so that a broken engine fails the test rather than hanging it."""
    a.scan()
    b.scan()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if a.up_to_date_with(b) and b.up_to_date_with(a) and tree(a_root) == tree(b_root):
                return
        except OSError:
            pass
        time.sleep(0.3)
    differing = {k for k in tree(a_root).items() ^ tree(b_root).items()}
    raise AssertionError(
        f"the two vaults did not converge within {timeout}s; differing: {sorted(differing)[:5]}"
    )
