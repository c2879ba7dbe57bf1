"""The code's shape, checked from its source: no import circle anywhere in the product.

tests/architecture/test_layering.py holds the arrows between packages; this holds what an arrow
check alone lets through: two modules of one package importing each other, through an
import inside a function or one under ``TYPE_CHECKING`` (both are edges here: a circle
hidden that way still means neither module can be read, or moved, without the other).
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

from conftest import ROOT

PACKAGES = (
    "vault",
    "note_templates",
    "syncd",
    "retention",
    "site_builder",
    "fiction",
    "checkup",
    "casenotes",
    "docs_hooks",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The product modules one module imports: every ``import`` and ``from ... import``
    wherever it stands (a function, ``if TYPE_CHECKING:``), relative ones resolved;
    ``from package import name`` counts as the submodule when ``name`` is one, else as
    the package (its ``__init__``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            subs = [f"{source}.{alias.name}" for alias in node.names]
            targets = [sub for sub in subs if sub in modules]
            if len(targets) < len(subs):  # a name defined in the package itself
                targets.append(source)
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside c
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imported(path, name, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest circle through each module that lies on any (modules sorted, so the
    report is stable)."""
    found: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(graph):
        if start in seen:
            continue
        back = {start: ""}
        queue = deque([start])
        circle = None
        while queue and circle is None:
            here = queue.popleft()
            for there in sorted(graph[here]):
                if there == start:
                    circle = [here]
                    while back[circle[-1]]:
                        circle.append(back[circle[-1]])
                    circle.reverse()
                    break
                if there not in back:
                    back[there] = here
                    queue.append(there)
        if circle is not None:
            seen |= set(circle)
            found.append(circle)
    return found


def test_no_module_of_the_product_imports_itself_through_others() -> None:
    found = circles(import_graph())
    report = "\n".join(" -> ".join([*circle, circle[0]]) for circle in found)
    assert not found, f"import circles (counting imports in functions and under TYPE_CHECKING):\n{report}"


def test_the_circle_check_sees_a_lazy_import_and_a_type_checking_one(tmp_path: Path) -> None:
    """The check itself: a circle made only of a function's import and a TYPE_CHECKING one
    is found (so the test above cannot pass by not looking)."""
    (tmp_path / "a.py").write_text("def f():\n    from .b import g\n")
    (tmp_path / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    modules = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py"}
    graph = {name: imported(path, name, modules) for name, path in modules.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert circles(graph) == [["pkg.a", "pkg.b"]]


# -- only the vault writes the vault ------------------------------------------------------
# Calls that remove, rename or write a file: os and shutil's, a Path's own (``replace``
# with one argument and no keyword: a str's takes two, a date's keywords), and the vault's
# durable writers. Outside vault/, only the modules below make them, each on files that
# are not the vault's.
REMOVING = {
    ("os", name) for name in ("unlink", "remove", "rename", "renames", "replace", "rmdir", "removedirs")
}
REMOVING |= {("shutil", "rmtree"), ("shutil", "move")}
DURABLE_WRITERS = {"write_new", "replace", "make_dirs", "append", "sweep_temps"}
PATH_METHODS = {"unlink", "rename", "rmdir", "replace"}
NOT_THE_VAULT = {
    "syncd/daemon.py": "the inbox: a draft's plaintext removed once it is sealed, editor leftovers, its own temps",
    "syncd/lock.py": "the daemon's lock file, in the practice's state folder",
    "syncd/state.py": "syncd's state file (the jobs' last runs), in the practice's state folder",
    "syncd/service.py": "the systemd unit or launchd agent, in the user's own configuration",
    "site_builder/ramdir.py": "the open site's RAM directory, wiped on close",
    "site_builder/staged_build.py": "a staged build's site folder, inside the RAM directory",
    "site_builder/session.py": "the overview's site moved into place, inside the RAM directory",
    "casenotes/writing.py": "the inbox: a new draft, a draft marked signed",
    "casenotes/measure_command.py": "the inbox: the client's answers written into today's draft",
    "casenotes/config.py": "a new practice's inbox and casenotes.yml",
    "casenotes/backups.py": "casenotes.yml (a target added) and a restored practice's inbox and casenotes.yml",
    "casenotes/context.py": "a new key file, where the practitioner asked for it (never inside the vault)",
    "casenotes/logfile.py": "the log folder",
    "casenotes/handover.py": "the lock a client's form and a site take, in the user's config folder",
    "casenotes/recovery_commands.py": "a custodian's letter, where the practitioner asked for it",
    "casenotes/sharing_commands.py": "a share bundle, where the practitioner asked for it",
    "site_builder/export/pdf.py": "a client's copy (PDF), in the new folder the practitioner named, outside the practice",
    "site_builder/export/record.py": "that folder and the notes' Markdown and JSON in it",
    "casenotes/cli.py": "`demo`: the whole fictional practice it made in a temporary folder",
}


def writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, call) of every call in a module that removes, renames or durably writes a file,
    in the order ``ast.walk`` meets them."""
    durable_names = {  # local name -> the writer's own
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "vault.durable"
        for alias in node.names
        if alias.name in DURABLE_WRITERS
    }
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for node in ast.walk(tree):  # a call, or the function handed on (``partial(shutil.rmtree, p)``)
        if isinstance(node, ast.Name) and node.id in durable_names and id(node) in calls:
            found.append((node.lineno, f"durable.{durable_names[node.id]}"))
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        call = calls.get(id(node))
        if (owner, node.attr) in REMOVING:
            found.append((node.lineno, f"{owner}.{node.attr}"))
        elif owner == "durable" and node.attr in DURABLE_WRITERS:
            found.append((node.lineno, f"durable.{node.attr}"))
        elif owner not in ("os", "shutil", "durable") and node.attr in PATH_METHODS:
            if node.attr != "replace" or (call is not None and len(call.args) == 1 and not call.keywords):
                found.append((node.lineno, f".{node.attr}()"))
    return found


def test_no_module_outside_the_vault_removes_renames_or_writes_a_vault_file() -> None:
    wrong = []
    for package in PACKAGES:
        if package == "vault":
            continue
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative in NOT_THE_VAULT:
                continue
            wrong += [f"{relative}:{line} {call}" for line, call in writes(ast.parse(path.read_text()))]
    assert not wrong, (
        "only the vault writes the vault (vault/store/disposal.py, retention_files.py):\n" + "\n".join(wrong)
    )


def test_every_place_allowed_to_write_still_does() -> None:
    """An allowance left behind when its module stopped writing would let the next write
    there through unseen: each names a module that writes."""
    for relative in NOT_THE_VAULT:
        path = ROOT / relative
        assert path.exists() and writes(ast.parse(path.read_text())), f"{relative} no longer writes: drop it"


def test_the_write_check_sees_each_kind_of_call() -> None:
    code = (
        "import os, shutil\nfrom vault import durable\nfrom vault.durable import write_new as w\n"
        "os.replace(a, b)\nshutil.rmtree(a)\npath.unlink()\ndurable.make_dirs(a)\nw(a, b)\n"
        "folder.replace(other)\nrun(path.unlink)\n"
        "text.replace('a', 'b')\nday.replace(year=1)\n"  # a str's and a date's: not files
    )
    assert [call for _, call in writes(ast.parse(code))] == [
        "os.replace",
        "shutil.rmtree",
        ".unlink()",
        "durable.make_dirs",
        "durable.write_new",
        ".replace()",
        ".unlink()",
    ]
