"""A new passphrase: asked for once, judged, then confirmed.

The passphrase is all that stands between a stolen vault or backup drive and every note
in it: the thief can try guesses offline, as fast as Argon2id lets them. zxcvbn (Dropbox's
estimator, kept on PyPI) judges a candidate by how an attacker would guess it — common
passwords, words, names, dates, keyboard walks — not by counting character classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from vault import Passphrase
from vault.store.key_renewal import Renewal

from . import config
from .context import Failure, UsageFailure

# zxcvbn's score 3 means "safely unguessable: moderate protection from an offline
# slow-hash attack" (about 10^8 to 10^10 guesses); with Argon2id in front, that takes years.
MIN_SCORE = 3
ADVICE = (
    "choose four or more unrelated words, or a sentence only you would write "
    "(e.g. five random words from a dictionary)"
)


def weakness(value: str, context: Sequence[str] = ()) -> str | None:
    """Why a passphrase is too easy to guess, or None. ``context``: words an attacker knows."""
    if not value:
        return "it is empty"
    from zxcvbn import zxcvbn  # its word lists load only when a new passphrase is judged

    judged = zxcvbn(value[:100], user_inputs=[c for c in context if c])  # zxcvbn slows on long input
    if judged["score"] >= MIN_SCORE:
        return None
    warning = str(judged["feedback"].get("warning") or "").rstrip(".")
    seconds = judged["crack_times_seconds"]["offline_slow_hashing_1e4_per_second"]
    found = warning[0].lower() + warning[1:] if warning else "it is short or predictable"
    return f"{found}; someone with a stolen copy of the vault could guess it in {_duration(float(seconds))}"


def _duration(seconds: float) -> str:
    for unit, size in (("years", 31_557_600), ("days", 86_400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"about {int(seconds // size)} {unit}"
    return "seconds"


def ask_new(prompt: str = "New passphrase", context: Sequence[str] = ()) -> Passphrase:
    """A new passphrase from CASENOTES_PASSPHRASE or the prompt; refused if empty or weak.

    Unlike click's own prompt, an empty answer is refused at once with a sentence, not
    asked again in silence; a weak one is refused before it must be typed twice.
    """
    value = config.passphrase_from_env()
    from_env = value is not None
    if value is None:
        try:
            value = click.prompt(prompt, hide_input=True, default="", show_default=False)
        except click.Abort:
            raise UsageFailure(
                "no passphrase given: type it at the prompt or set CASENOTES_PASSPHRASE"
            ) from None
    if not value:
        raise UsageFailure("the passphrase is empty: choose one you will remember, " + ADVICE)
    why = weakness(value, context)
    if why:
        where = " (from CASENOTES_PASSPHRASE)" if from_env else ""
        raise Failure(f"that passphrase{where} is too easy to guess: {why}. Nothing was changed; {ADVICE}")
    if not from_env:
        again = click.prompt("Repeat for confirmation", hide_input=True, default="", show_default=False)
        while again != value:
            click.echo("Error: The two entered values do not match.", err=True)
            value = click.prompt(prompt, hide_input=True, default="", show_default=False)
            if not value or weakness(value, context):
                raise Failure(f"that passphrase is empty or too easy to guess; {ADVICE}")
            again = click.prompt("Repeat for confirmation", hide_input=True, default="", show_default=False)
    return Passphrase(value)


def tell_renewed(renewal: Renewal) -> None:
    """What a passphrase or key-file change did to the keys (docs/recovery.md says more)."""
    click.echo(
        f"your encryption key is new, and so is the key of each of your {renewal.clients} client(s): "
        "notes sealed from now on open only with what you set now; an older copy of your key "
        "record (a backup) opens only notes sealed before, with the old passphrase"
    )
    if renewal.waiting:
        click.echo(
            f"casenotes: {len(renewal.waiting)} client(s) could not be given a new key yet (a key file "
            "of theirs cannot be checked): the next unlock tries again; `casenotes verify` says why",
            err=True,
        )
    if renewal.recovery_renewed is False:
        click.echo(
            "casenotes: your recovery set was made by an older casenotes, or written from a retired "
            "machine (`casenotes verify` says which): its shares open only notes sealed before now; make "
            "a new set with `casenotes recovery create`",
            err=True,
        )
