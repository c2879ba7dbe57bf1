"""What every command shares: the practice, the vault, the passphrase, and failures."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from vault import Passphrase, Vault
from vault.errors import WriteFailed

from . import config
from .config import Practice


class Failure(click.ClickException):
    """A command-line failure: one sentence on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"casenotes: {self.message}", err=True)


class UsageFailure(Failure):
    """The command cannot run as called (no passphrase given, ...): exit 2."""

    exit_code = 2


def _store_practice(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(dict)["practice"] = value


practice_option = click.option(
    "--practice",
    metavar="DIR",
    expose_value=False,
    callback=_store_practice,
    help="The practice directory (default: $CASENOTES_HOME, else ~/casenotes).",
)


def practice(ctx: click.Context) -> Practice:
    obj = ctx.find_root().ensure_object(dict)
    return Practice(config.practice_root(obj.get("practice")), config.config_dir())


def open_vault(ctx: click.Context) -> Vault:
    p = practice(ctx)
    vault = Vault(p.vault_dir, p.config_dir)
    ctx.call_on_close(lambda: close_vault(vault))
    return vault


def close_vault(vault: Vault) -> None:
    """Sign the audit log's head. The command's own work is done by now, so a checkpoint the
    disk refuses (full, read-only) is a warning: `verify` and `audit verify` still answer,
    and the next command that can write signs the head."""
    failing = sys.exc_info()[0] is not None  # closing as the command's own error unwinds
    try:
        vault.close()
    except WriteFailed as exc:
        if failing:
            return  # the command itself failed (on this same disk): its sentence is enough
        click.echo(
            f"casenotes: warning: could not write the audit checkpoint {exc.path} ({exc.why}); "
            "free some disk space: the next command writes it",
            err=True,
        )


def ask_passphrase(confirm: bool = False, prompt: str = "Passphrase") -> Passphrase:
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
    return Passphrase(value)


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
