"""The code's shape, checked from its source: no import circle anywhere in the product.

tests/test_layering.py holds the arrows between packages; this holds what an arrow
check alone lets through: two modules of one package importing each other, through an
import inside a function or one under ``TYPE_CHECKING`` (both are edges here: a circle
hidden that way still means neither module can be read, or moved, without the other).
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vault", "note_templates", "syncd", "retention", "site_builder", "casenotes", "docs_hooks")


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
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    modules = {"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py"}
    graph = {name: imported(path, name, modules) for name, path in modules.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert circles(graph) == [["pkg.a", "pkg.b"]]
