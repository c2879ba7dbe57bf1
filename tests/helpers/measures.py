"""`casenotes measure` as a real process, requests to its form, and a draft with scores
written in."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

from conftest import Env
from notes import write_every_section


def request(server, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Host": server.host, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def cookie_of(server) -> dict[str, str]:
    status, headers, _ = request(server, "GET", f"{server.prefix}/?token={server.token}")
    assert status == 200
    return {"Cookie": headers["Set-Cookie"].split(";")[0]}


class Measuring:
    """`casenotes measure AB-1 ...` as a real process, its address read from stdout."""

    def __init__(self, env: Env, *keys: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "casenotes", "measure", "AB-1", *keys, "--no-browser"],
            env=env.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + self.proc.stderr.read()
        self.url = line.split()[-1]
        self.base = self.url.split("/?")[0]

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def _draft(env: Env, measures: str, risk: str) -> Path:
    result = env.run("new", "AB-1", "--no-edit", "--template", "soap", "--date", "2026-11-20")
    assert result.code == 0, result.err
    path = Path(result.text.strip())
    write_every_section(path, risk=risk)
    text = path.read_text().replace("measures:\n  phq9:\n  gad7:\n", f"measures:\n{measures}")
    path.write_text(text)
    return path
