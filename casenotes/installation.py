"""How this casenotes was installed: the program's path, its version, and what to give
pip to install the same again (for the custodian letter, read on another day by someone
for whom `casenotes` may be "command not found")."""

from __future__ import annotations

import importlib.metadata
import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "casenotes"


@dataclass(frozen=True)
class Installation:
    #: the `casenotes` program by its full path, as a shell command (works in a fresh
    #: terminal, whatever PATH holds)
    program: str
    version: str
    #: what `pip install` / `pipx install` takes to install it again: the folder or wheel
    #: it was installed from, else the release by name
    source: str


def current() -> Installation:
    beside = Path(sys.executable).parent / "casenotes"  # the venv's (pipx's) own bin folder
    found = str(beside) if beside.exists() else shutil.which("casenotes")
    program = shlex.quote(found) if found else shlex.join([sys.executable, "-m", "casenotes"])
    version, source = "unknown", DISTRIBUTION
    # Every distribution of the name: a checkout's casenotes.egg-info (a build's leftover)
    # may come first on sys.path; only the installed one says where it came from (PEP 610).
    for dist in importlib.metadata.distributions(name=DISTRIBUTION):
        version = dist.version
        origin = dist.read_text("direct_url.json")
        if origin:
            url = json.loads(origin).get("url", "")
            if url.startswith("file://"):
                source = unquote(urlparse(url).path)
            elif url:
                source = url
            break
    else:
        if version != "unknown":
            source = f"{DISTRIBUTION}=={version}"
    return Installation(program, version, source)
