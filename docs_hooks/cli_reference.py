"""MkDocs hook: the command reference, generated from the click commands so it cannot drift."""

from __future__ import annotations

from typing import Any

import click
from mkdocs.structure.files import File, Files, InclusionLevel

from casenotes.cli import cli


def _section(command: click.Command, path: list[str], depth: int) -> list[str]:
    name = " ".join(path)
    context = click.Context(command, info_name=name)
    lines = [f"{'#' * min(depth, 4)} `{name}`", ""]
    usage = command.get_usage(context).removeprefix("Usage: ")
    lines += [f"```\n{usage}\n```", "", (command.help or "").strip(), ""]
    options = [
        p
        for p in command.get_params(context)
        if isinstance(p, click.Option)
        and not p.hidden
        and p.name != "help"
        and (depth == 1 or p.name != "practice")
    ]
    if options:
        lines += ["| option | meaning |", "|---|---|"]
        for option in options:
            record = option.get_help_record(context)
            if record:
                flags, meaning = record
                lines.append(f"| `{flags}` | {meaning.replace('|', '/')} |")
        lines.append("")
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(context)):
            sub = command.get_command(context, sub_name)
            if sub is not None and not sub.hidden:
                lines += _section(sub, [*path, sub_name], depth + 1)
    return lines


def page() -> str:
    intro = [
        "# Command reference",
        "",
        "Generated from the program itself at every build of this guide. Every command takes",
        "`--practice DIR` (default: `$CASENOTES_HOME`, else `~/casenotes`). Exit codes: 0 ok,",
        "1 failure, 2 usage error or wrong passphrase; messages go to stderr.",
        "",
    ]
    return "\n".join(intro + _section(cli, ["casenotes"], 1)[2:])


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "reference.md", content=page(), inclusion=InclusionLevel.INCLUDED))
    return files
