"""`casenotes recovery create | use | status` and `casenotes custodian letter`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vault import Vault, durable
from vault.errors import WriteFailed
from vault.format import recovery as recovery_format
from vault.format.constants import MAX_RECOVERY_SHARES
from vault.store import recovery

from . import backups, custodian, installation, passphrases
from .context import (
    Failure,
    UsageFailure,
    key_file_path,
    open_unlocked,
    open_vault,
    pass_vault,
    practice,
    practice_option,
    read_key_file,
)
from .nodump import no_core_dumps

CONTEXT_WORDS = ("casenotes", "notes", "therapy", "practice", "client", "session", "recovery")


@click.group("recovery")
def recovery_group() -> None:
    """Shares that let K of N custodians set a new passphrase (SLIP-39)."""


@recovery_group.command("create")
@practice_option
@click.option(
    "--shares",
    "-n",
    type=click.IntRange(1, MAX_RECOVERY_SHARES),
    required=True,
    help="How many custodians get a share.",
)
@click.option(
    "--threshold",
    "-k",
    type=click.IntRange(1, MAX_RECOVERY_SHARES),
    required=True,
    help="How many shares together open it.",
)
@click.pass_context
def recovery_create(ctx: click.Context, shares: int, threshold: int) -> None:
    """Make a recovery key and print it once as N mnemonic shares, one per line; K of them
    reset the passphrase. Run again to retire every earlier share."""
    why = recovery_format.check_counts(shares, threshold)
    if why:
        raise UsageFailure(why)
    no_core_dumps()
    vault, practitioner = open_unlocked(ctx)
    retired = recovery.status(vault)
    # Staged, shown, then put in force: killed before the last line below, the earlier set
    # still works; the new shares are in force only once that line says so.
    mnemonics = recovery.stage(vault, practitioner, shares, threshold)
    click.echo(
        f"casenotes: {shares} recovery shares follow, one per line; any {threshold} of them set a new "
        "passphrase (`casenotes recovery use`), fewer reveal nothing. They are shown this once and "
        "kept nowhere: write each on paper for one custodian, then clear this screen. "
        '`casenotes custodian letter --name "YOUR NAME"` writes the letter that goes with them.',
        err=True,
    )
    for mnemonic in mnemonics:
        click.echo(mnemonic)
    sys.stdout.flush()  # shown before they are put in force, whatever stdout is
    try:
        recovery.commit(vault)
    except WriteFailed as exc:
        if recovery.committed(vault):  # the entry took: the next command finishes the rename
            raise Failure(
                f"the new recovery set is recorded but not yet in place ({exc.path}: {exc.why}): "
                "the shares above are the ones that count; once the disk is fixed, "
                "`casenotes recovery status` puts it in place"
            ) from exc
        earlier = "the earlier shares still work" if retired else "no recovery set is in force"
        raise Failure(
            f"could not put the new recovery set in force ({exc.path}: {exc.why}): the shares above "
            f"open nothing; {earlier}. Free some disk space and run `casenotes recovery create` again"
        ) from exc
    if retired:
        click.echo(
            f"casenotes: the earlier {retired.threshold}-of-{retired.shares} shares are retired: "
            "they open nothing now",
            err=True,
        )
    click.echo("casenotes: the new recovery set is in force", err=True)


@recovery_group.command("use")
@practice_option
@click.pass_context
def recovery_use(ctx: click.Context) -> None:
    """Set a new passphrase with K custodians' shares (read one per line, or asked for).

    The new passphrase comes from the prompt after the shares, or CASENOTES_PASSPHRASE.
    A key file named with --key-file or CASENOTES_KEY_FILE stays asked for; without one,
    the passphrase alone unlocks the key afterwards."""
    no_core_dumps()
    vault = open_vault(ctx)
    status = recovery.status(vault)
    if status is None:
        raise UsageFailure(
            "no recovery is set up for this practitioner: without the passphrase, the notes cannot be opened"
        )
    mnemonics = []
    for number in range(1, status.threshold + 1):
        try:
            line = click.prompt(
                f"Share {number} of {status.threshold}", hide_input=True, default="", show_default=False
            )
        except click.Abort:
            break
        if not line.strip():
            break
        mnemonics.append(line)
    practitioner = recovery.open_copy(vault, mnemonics)
    path = key_file_path()
    new = passphrases.ask_new(context=CONTEXT_WORDS)
    if path is not None:
        new = new.with_key_file(read_key_file(path))
    renewal = recovery.reset(vault, practitioner, new)
    click.echo("passphrase reset with the recovery shares; every note reads with the new passphrase")
    passphrases.tell_renewed(renewal)
    click.echo(
        "casenotes: the shares were brought together: make a new set (`casenotes recovery create`) "
        "when you can, which retires these",
        err=True,
    )
    if path is None:
        click.echo(
            "casenotes: no key file is asked for now; `casenotes passphrase --key-file PATH` adds one again",
            err=True,
        )


@recovery_group.command("status")
@practice_option
@pass_vault
def recovery_status(vault: Vault) -> None:
    """Whether recovery is set up, and how many shares open it (no passphrase needed)."""
    status = recovery.status(vault)
    if status is None:
        click.echo("no recovery set up: `casenotes recovery create --shares 3 --threshold 2`")
        return
    click.echo(f"{status.threshold} of {status.shares} shares reset the passphrase (made {status.created})")


@click.group("custodian")
def custodian_group() -> None:
    """The professional will: what your custodians need to know."""


@custodian_group.command("letter")
@practice_option
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout)."
)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "--name",
    required=True,
    metavar="NAME",
    help='Your name as your custodians know you, e.g. "Dr Ada Example" (printed on the letter only).',
)
@click.pass_context
def custodian_letter(ctx: click.Context, output: Path | None, fmt: str, name: str) -> None:
    """A one-page letter for your custodians: what casenotes is, where the vault and backups
    are, how K of them open it with their shares, how to install casenotes, their duties.
    It holds no secret."""
    if not name.strip():
        raise UsageFailure("--name is empty: give your name as your custodians know you")
    p = practice(ctx)
    vault = open_vault(ctx)
    found = installation.current()
    from .practice_rules import practice_rules  # retention loads for the letter only

    facts = custodian.LetterFacts(
        practice_root=str(p.root),
        vault_dir=str(vault.root),
        config_dir=str(p.config_dir),
        backup_targets=[str(t) for t in backups.targets(p)],
        practitioner_name=name.strip(),
        practitioner_id=vault.device.practitioner_id,
        program=found.program,
        version=found.version,
        source=found.source,
        practice_id=vault.practice_id,
        recovery=recovery.status(vault),
        retention=practice_rules(p, vault).policy.describe(),
        today=vault.clock().date().isoformat(),
    )
    text = custodian.html(facts) if fmt == "html" else custodian.markdown(facts)
    if facts.recovery is None:
        click.echo(
            "casenotes: no recovery is set up yet, so the letter says so: run `casenotes recovery create` "
            "and write the letter again",
            err=True,
        )
    if output is None:
        sys.stdout.write(text)
        return
    durable.replace(output, text.encode())
    click.echo(f"wrote the custodian letter to {output}")


COMMANDS: list[click.Command] = [recovery_group, custodian_group]
