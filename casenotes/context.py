"""What every command shares: the practice, the vault, the passphrase, and failures."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from vault import Passphrase, Vault, VaultError, durable
from vault.errors import WriteFailed
from vault.format.constants import KEY_FILE_NEW_BYTES, MIN_KEY_FILE_BYTES
from vault.format.redact import KeyFile

from . import config
from .config import Practice

if TYPE_CHECKING:
    from vault.format.keys import Practitioner

P = ParamSpec("P")
R = TypeVar("R")


class Failure(click.ClickException):
    """A command-line failure: one sentence on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"casenotes: {self.message}", err=True)


class UsageFailure(Failure):
    """The command cannot run as called (no passphrase given, ...): exit 2."""

    exit_code = 2


def _store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Keep a global option in the context's object, wherever on the line it was given."""
    if value:
        ctx.ensure_object(dict)[str(param.name)] = value


practice_option = click.option(
    "--practice",
    metavar="DIR",
    expose_value=False,
    callback=_store,
    help="The practice directory (default: $CASENOTES_HOME, else ~/casenotes).",
)


def count(number: int, word: str, many: str | None = None) -> str:
    """'1 revision', '2 revisions': no "revision(s)" in a line a practitioner reads."""
    return f"{number} {word if number == 1 else many or word + 's'}"


def practice(ctx: click.Context) -> Practice:
    obj = ctx.find_root().ensure_object(dict)
    return Practice(config.practice_root(obj.get("practice")), config.config_dir())


def open_vault(ctx: click.Context, durable_checkpoint: bool = True) -> Vault:
    """The practice's vault, its audit head checkpointed when the command ends (fsynced
    unless ``durable_checkpoint`` is False: a lone seal, whose fsyncs are counted)."""
    p = practice(ctx)
    vault = Vault(p.vault_dir, p.config_dir)
    ctx.call_on_close(lambda: _close(vault, durable_checkpoint))
    return vault


def _close(vault: Vault, durable_checkpoint: bool = True) -> None:
    """Sign the audit log's head. The command's own work is done by now, so a checkpoint the
    disk refuses (full, read-only) is a warning: `verify` and `audit verify` still answer,
    and the next command that can write signs the head."""
    if vault.recorded_for_older_version:  # once per device: the next unlock records nothing
        click.echo(
            f"casenotes: recorded {vault.recorded_for_older_version} key and index file(s) that an older "
            "casenotes left unrecorded in the audit log; `casenotes verify` now vouches for them",
            err=True,
        )
    if vault.caught_up.renewed:
        click.echo(
            f"casenotes: gave {len(vault.caught_up.renewed)} client(s) a new key: another machine, apart "
            "while your key was renewed, had sealed them to your old key; notes sealed from now on open "
            "only with your current secret",
            err=True,
        )
    failing = sys.exc_info()[0] is not None  # closing as the command's own error unwinds
    try:
        vault.close(durable_checkpoint)
    except WriteFailed as exc:
        if failing:
            return  # the command itself failed (on this same disk): its sentence is enough
        click.echo(
            f"casenotes: warning: could not write the audit checkpoint {exc.path} ({exc.why}); "
            "free some disk space: the next command writes it",
            err=True,
        )


key_file_option = click.option(
    "--key-file",
    metavar="PATH",
    expose_value=False,
    callback=_store,
    help="The key file, when your key asks for one besides the passphrase (default: $CASENOTES_KEY_FILE).",
)


def key_file_path() -> Path | None:
    """The key file named by the global --key-file, else CASENOTES_KEY_FILE."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().ensure_object(dict) if context else {}
    return config.key_file_path(obj.get("key_file"))


def read_key_file(path: Path) -> KeyFile:
    """A key file's hash; its bytes are read here and kept nowhere."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageFailure(
            f"cannot read the key file {path} ({exc.strerror or exc}): plug in the drive that holds it, "
            "or fix --key-file or CASENOTES_KEY_FILE"
        ) from None
    if len(data) < MIN_KEY_FILE_BYTES:
        raise UsageFailure(
            f"{path} is too short to be a key file (at least {MIN_KEY_FILE_BYTES} bytes): "
            "name a file that does not exist yet and casenotes makes one"
        )
    return KeyFile.from_bytes(data)


def new_key_file(path: Path) -> tuple[KeyFile, bool]:
    """The key file at ``path``, made there from random bytes (mode 0600) if it does not
    exist yet; and whether it was made."""
    if path.exists():
        return read_key_file(path), False
    data = os.urandom(KEY_FILE_NEW_BYTES)
    try:
        durable.write_new(path, data)
    except (OSError, VaultError) as exc:
        raise Failure(f"could not make the key file {path}: {exc}; nothing was changed") from None
    return KeyFile.from_bytes(data), True


def ask_passphrase(confirm: bool = False, prompt: str = "Passphrase") -> Passphrase:
    """The passphrase, from CASENOTES_PASSPHRASE or the prompt, with the key file (if one is
    named) beside it: what a practitioner's key asks for is decided by the key, not here."""
    path = key_file_path()
    key_file = read_key_file(path) if path else None
    value = config.passphrase_from_env()
    if value is None:
        try:
            value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
        except click.Abort:
            raise UsageFailure(
                "no passphrase given: type it at the prompt or set CASENOTES_PASSPHRASE"
            ) from None
    if not value:
        raise UsageFailure("the passphrase is empty: choose one you will remember")
    return Passphrase(value, key_file)


def unlock(vault: Vault) -> Practitioner:
    """The practitioner's key, unlocked in ``vault`` by the passphrase (and key file) asked
    for now: how every command that reads, signs or shares gets it."""
    return vault.unlock(ask_passphrase())


def open_unlocked(ctx: click.Context) -> tuple[Vault, Practitioner]:
    """The practice's vault (open_vault) and the practitioner's key unlocked in it, for a
    command whose first step is the passphrase. A command that checks its arguments in the
    vault first (an unknown handle says so before the prompt) calls open_vault, then unlock."""
    vault = open_vault(ctx)
    return vault, unlock(vault)


def pass_vault(command: Callable[Concatenate[Vault, P], R]) -> Callable[P, R]:
    """Open the practice's vault (open_vault) before ``command`` runs and pass it first, as
    click's pass_context passes the context (stack both for ``command(ctx, vault, ...)``):
    borg's with_repository, so a command says in one line that it needs the vault.

    For a command whose first step is the vault. One that checks its arguments first (a
    usage error is said before the vault is looked for, and writes no checkpoint) or turns
    core dumps off first calls open_vault where it does."""
    return _passing_vault(command, durable_checkpoint=True)


def pass_vault_unsynced(command: Callable[Concatenate[Vault, P], R]) -> Callable[P, R]:
    """pass_vault, its closing checkpoint written but not fsynced: a lone seal, whose fsyncs
    are counted (open_vault's ``durable_checkpoint``)."""
    return _passing_vault(command, durable_checkpoint=False)


def _passing_vault(command: Callable[Concatenate[Vault, P], R], durable_checkpoint: bool) -> Callable[P, R]:
    @functools.wraps(command)
    def opened(*args: P.args, **kwargs: P.kwargs) -> R:
        vault = open_vault(click.get_current_context(), durable_checkpoint)
        return command(vault, *args, **kwargs)

    return opened


def pass_unlocked(command: Callable[Concatenate[Vault, Practitioner, P], R]) -> Callable[P, R]:
    """Open the vault and unlock the practitioner's key in it (open_unlocked) before
    ``command`` runs, and pass both first: for a command whose first step is the
    passphrase. One that checks its arguments in the vault first (an unknown handle says
    so before the prompt) takes pass_vault and calls unlock itself."""

    @functools.wraps(command)
    def unlocked(*args: P.args, **kwargs: P.kwargs) -> R:
        vault, practitioner = open_unlocked(click.get_current_context())
        return command(vault, practitioner, *args, **kwargs)

    return unlocked


def quiet() -> bool:
    """No progress output: asked for with --quiet, or nobody is watching (not a terminal)."""
    context = click.get_current_context(silent=True)
    asked = bool(context and context.find_root().ensure_object(dict).get("quiet"))
    return asked or not sys.stderr.isatty()


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr while someone watches; yields the step callback."""
    if quiet():
        yield lambda done, total: None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:

        def step(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        yield step


def stage(message: str) -> None:
    """One line on stderr for a step of a long command (nothing when quiet)."""
    if not quiet():
        click.echo(f"casenotes: {message}", err=True)
