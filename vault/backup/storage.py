"""Where backup targets keep their files: a folder, or any store rclone speaks to.

A storage holds named blobs ("packs/abcd…", "snapshots/x.json") and offers only
what a backup needs: list, read (whole, a range, the tail), write once, replace (a
manifest a purge rewrites), delete. Writes are all or nothing: a folder uses the vault's
durable writes; rclone uploads under a temporary name and then renames.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

from .. import durable
from ..errors import VaultError


class TargetUnavailable(VaultError):
    template = (
        "backup target {} is not available ({}): plug in the drive or fix the path; the next run retries"
    )


class FolderStorage:
    def __init__(self, path: Path) -> None:
        self.path = path
        #: names this machine's temp files (the device id): while this machine's backup lock
        #: is held, no writer of its own is alive, so its leftovers can go at once
        self.tag = ""

    def __str__(self) -> str:
        return str(self.path)

    def prepare(self, create: bool) -> None:
        if not self.path.is_dir():
            if not create or not self.path.parent.is_dir():
                raise TargetUnavailable(self.path, "the folder does not exist")
            durable.make_dirs(self.path)

    def is_empty(self) -> bool:
        # A temp file is what a run killed while claiming the target leaves: still empty.
        return not any(not p.name.startswith(".tmp-") for p in self.path.iterdir())

    def list(self, prefix: str) -> list[str]:
        base = self.path / prefix
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.path))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def read(self, key: str) -> bytes:
        return (self.path / key).read_bytes()

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with open(self.path / key, "rb") as file:
            return os.pread(file.fileno(), length, offset)

    def read_tail(self, key: str, length: int) -> tuple[bytes, int]:
        """The last ``length`` bytes and the size of the whole."""
        with open(self.path / key, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            return os.pread(file.fileno(), min(length, size), max(size - length, 0)), size

    def exists(self, key: str) -> bool:
        return (self.path / key).is_file()

    def write_new(self, key: str, data: bytes) -> None:
        durable.write_new(self.path / key, data, tag=self.tag)

    def replace(self, key: str, data: bytes) -> None:
        durable.replace(self.path / key, data, tag=self.tag)

    def delete(self, key: str) -> None:
        (self.path / key).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove the temp files killed runs left in the folders casenotes writes: this
        machine's at once (call it under the backup lock), another's after an hour."""
        removed = 0
        for folder in (self.path, self.path / "packs", self.path / "snapshots"):
            # At the top only the marker is written: once it is there, a temp file is a claim
            # that lost (or was killed), whoever made it.
            mine = "" if folder == self.path and (self.path / "casenotes-backup.json").exists() else self.tag
            if (mine or folder == self.path) and folder.is_dir():
                for path in folder.glob(f"{durable.TEMP_PREFIX}{mine}{'-' if mine else ''}*"):
                    path.unlink(missing_ok=True)
                    removed += 1
            # objects/ (targets from before packs) is never written now: not walked
            removed += durable.sweep_temps(folder, time.time(), skip=("packs", "snapshots", "objects"))
        return removed


class RcloneStorage:
    """``rclone:REMOTE:PATH``: an off-site copy in any store rclone reaches (Debian's rclone)."""

    def __init__(self, remote: str, rclone: str = "rclone", config: Path | None = None) -> None:
        self.remote = remote.rstrip("/")
        self.rclone = rclone
        self.config = config
        self.tag = ""  # as FolderStorage's: names this machine's partial uploads

    def __str__(self) -> str:
        return f"rclone:{self.remote}"

    def _run(self, *args: str, data: bytes | None = None) -> bytes:
        command = [self.rclone, *args]
        if self.config:
            command[1:1] = ["--config", str(self.config)]
        try:
            done = subprocess.run(command, input=data, capture_output=True, timeout=600, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetUnavailable(self, f"rclone did not run: {exc}") from exc
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise TargetUnavailable(self, reason[-1] if reason else f"rclone exited with {done.returncode}")
        return done.stdout

    def prepare(self, create: bool) -> None:
        self._run("mkdir", self.remote) if create else self._run("lsf", "--max-depth", "1", self.remote)

    def is_empty(self) -> bool:
        listed = self._run("lsf", "--max-depth", "1", self.remote).decode().splitlines()
        return not [line for line in listed if line and not line.endswith(".partial")]  # as above

    def list(self, prefix: str) -> list[str]:
        try:
            out = self._run("lsf", "-R", "--files-only", f"{self.remote}/{prefix}")
        except TargetUnavailable as exc:
            if "not found" in str(exc).lower():
                return []
            raise
        return sorted(
            f"{prefix}/{line}" for line in out.decode().splitlines() if line and ".partial" not in line
        )

    def read(self, key: str) -> bytes:
        return self._run("cat", f"{self.remote}/{key}")

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        return self._run("cat", "--offset", str(offset), "--count", str(length), f"{self.remote}/{key}")

    def read_tail(self, key: str, length: int) -> tuple[bytes, int]:
        data = self.read(key)  # only when this machine's cache lacks a pack: rare
        return data[-length:], len(data)

    def exists(self, key: str) -> bool:
        folder, _, name = key.rpartition("/")
        return name in self._run("lsf", f"{self.remote}/{folder}").decode().splitlines()

    def write_new(self, key: str, data: bytes) -> None:
        partial = f"{self.remote}/{key}.{self.tag or 'x'}.partial"
        self._run("rcat", partial, data=data)
        self._run("moveto", partial, f"{self.remote}/{key}")

    replace = write_new  # moveto replaces the old file in one step

    def delete(self, key: str) -> None:
        self._run("deletefile", f"{self.remote}/{key}")

    def sweep(self) -> int:
        """Remove the partial uploads killed runs left (``….partial``, rclone's own temp
        names too): no listing shows them, and one may hold a purged client's sealed key.
        This machine's at once (under its backup lock), another's after an hour."""
        removed = 0
        now = time.time()
        for folder in ("", "/packs", "/snapshots"):
            try:
                listed = json.loads(self._run("lsjson", "--files-only", f"{self.remote}{folder}"))
            except (TargetUnavailable, ValueError):
                continue  # no such folder yet
            for item in listed:
                name = str(item.get("Name", ""))
                if not name.endswith(".partial"):
                    continue
                try:
                    age = now - dt.datetime.fromisoformat(str(item.get("ModTime"))).timestamp()
                except ValueError:
                    age = 0.0
                if (self.tag and f".{self.tag}.partial" in name) or age > durable.STALE_TEMP_SECONDS:
                    self._run("deletefile", f"{self.remote}{folder}/{name}")
                    removed += 1
        return removed


Storage = FolderStorage | RcloneStorage


def storage_for(spec: str, base: Path, rclone_config: Path | None = None) -> Storage:
    """A target from casenotes.yml: ``rclone:REMOTE:PATH``, or a folder (relative to ``base``)."""
    if spec.startswith("rclone:"):
        return RcloneStorage(spec.removeprefix("rclone:"), config=rclone_config)
    return FolderStorage((base / os.path.expanduser(spec)).absolute())
