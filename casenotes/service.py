"""What `casenotes syncd --install` runs, and the folders it may write (from casenotes.yml)."""

from __future__ import annotations

import sys

from syncd.service import Service
from vault.backup.storage import FolderStorage
from vault.errors import NotAPractice

from .backups import targets
from .config import Practice, rclone_config_dir


def service_of(p: Practice) -> Service:
    """The daemon of this practice, run by this interpreter: the one casenotes is installed
    in (a pipx or pip --user install stays put; a checkout's .venv must too).

    The practice must exist: the unit names its folder as one it may write, and systemd
    refuses to start a service whose such folder is missing."""
    if not (p.vault_dir / "practice.json").exists():
        raise NotAPractice(p.root)
    found = [target.storage for target in targets(p)]
    folders = tuple(s.path for s in found if isinstance(s, FolderStorage))
    # rclone rewrites its config when it refreshes a remote's token: let it, or every run refreshes
    helpers = (rclone_config_dir(),) if len(folders) < len(found) else ()
    return Service(
        command=(sys.executable, "-m", "casenotes", "--practice", str(p.root), "syncd"),
        environment={"CASENOTES_CONFIG_DIR": str(p.config_dir)},
        practice=p.root,
        config_dir=p.config_dir,
        log=p.state_dir / "service.log",
        targets=tuple(f for f in folders if not f.is_relative_to(p.root)),
        helpers=helpers,
    )
