"""Where backup targets keep their files: a folder, or any store rclone speaks to.

A storage holds named blobs ("objects/ab/abcd…", "snapshots/x.json") and offers only
what a backup needs: list, read, write once, replace (a manifest a purge rewrites),
delete. Writes are all or nothing: a folder
uses the vault's durable writes; rclone uploads under a temporary name and then renames.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
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

    def exists(self, key: str) -> bool:
        return (self.path / key).is_file()

    def write_many(self, blobs: Mapping[str, bytes]) -> None:
        for key, data in blobs.items():
            try:
                durable.write_new(self.path / key, data)
            except FileExistsError:
                pass  # content-addressed: the same bytes are already there

    def write_new(self, key: str, data: bytes) -> None:
        durable.write_new(self.path / key, data)

    def replace(self, key: str, data: bytes) -> None:
        durable.replace(self.path / key, data)

    def delete(self, key: str) -> None:
        (self.path / key).unlink(missing_ok=True)


class RcloneStorage:
    """``rclone:REMOTE:PATH``: an off-site copy in any store rclone reaches (Debian's rclone)."""

    def __init__(self, remote: str, rclone: str = "rclone", config: Path | None = None) -> None:
        self.remote = remote.rstrip("/")
        self.rclone = rclone
        self.config = config

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

    def exists(self, key: str) -> bool:
        folder, _, name = key.rpartition("/")
        return name in self._run("lsf", f"{self.remote}/{folder}").decode().splitlines()

    def write_many(self, blobs: Mapping[str, bytes]) -> None:
        """One upload for many objects: staged in a private temp folder (ciphertext only)."""
        if not blobs:
            return
        staging = Path(tempfile.mkdtemp(prefix="casenotes-upload-"))
        try:
            for key, data in blobs.items():
                path = staging / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self._run("copy", "--no-traverse", str(staging), self.remote)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write_new(self, key: str, data: bytes) -> None:
        self._run("rcat", f"{self.remote}/{key}.partial", data=data)
        self._run("moveto", f"{self.remote}/{key}.partial", f"{self.remote}/{key}")

    replace = write_new  # moveto replaces the old file in one step

    def delete(self, key: str) -> None:
        self._run("deletefile", f"{self.remote}/{key}")


Storage = FolderStorage | RcloneStorage


def storage_for(spec: str, base: Path, rclone_config: Path | None = None) -> Storage:
    """A target from casenotes.yml: ``rclone:REMOTE:PATH``, or a folder (relative to ``base``)."""
    if spec.startswith("rclone:"):
        return RcloneStorage(spec.removeprefix("rclone:"), config=rclone_config)
    return FolderStorage((base / os.path.expanduser(spec)).absolute())
