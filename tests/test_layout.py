"""The package's layout, read from the source (every import counts, TYPE_CHECKING and
function-level ones too): data flows one way, core -> providers -> session -> testing,
cli, contrib; no cycles; small modules and functions; each package says its rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "lyra_mavera"

#: Which layers each layer may import (its own included).
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "lyra": {"core", "lyra"},
    "mavera": {"core", "mavera"},
    "session": {"core", "lyra", "mavera", "session"},
    "root": {"root", "core", "lyra", "mavera", "session"},
    "testing": {"testing", "core", "lyra", "mavera", "session"},
    "contrib": {"contrib", "core", "lyra", "mavera", "session"},
    "cli": {"cli", "root", "core", "lyra", "mavera", "session", "testing"},
    "main": {"main", "cli"},
}
SESSION_MODULES = {"lyra_mavera._session", "lyra_mavera._view"}
MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 60
#: Function length is not held against the fake server and the command line.
FUNCTION_RULE_EXEMPT = ("testing", "cli")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "lyra_mavera":
        return "root"
    if module == "lyra_mavera.__main__":
        return "main"
    if module in SESSION_MODULES:
        return "session"
    if parts[1] in ("lyra", "mavera", "testing", "contrib", "cli"):
        return parts[1]
    return "core"


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every package module ``module`` imports, however and wherever it does."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            subs = [f"{base}.{alias.name}" for alias in node.names]
            # "from pkg import sub" imports the submodule; the package only for names
            # that are not submodules.
            names = subs + ([base] if any(sub not in known for sub in subs) else [])
        for name in names:
            if name in known and name != module:
                out.add(name)
    return out


GRAPH = {m: imports(m, p, modules()) for m, p in modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_the_layers_below_it(module: str) -> None:
    """Each module imports only what its layer may (see each package's docstring)."""
    mine = layer(module)
    wrong = sorted(t for t in GRAPH[module] if layer(t) not in ALLOWED[mine])
    assert not wrong, f"{module} ({mine}) may not import {wrong}"


def test_no_import_cycle() -> None:
    """No module imports itself back through others (package __init__s aside: importing
    a package name is importing its parts)."""
    known = modules()
    edges = {
        m: {t for t in targets if known[t].name != "__init__.py"} for m, targets in GRAPH.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_modules_and_functions_stay_small() -> None:
    """No module past ~400 lines; no function past 60 outside the fake server and CLI."""
    long_modules, long_functions = [], []
    for module, path in modules().items():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(module)
        if layer(module) in FUNCTION_RULE_EXEMPT:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module}.{node.name}")
    assert not long_modules and not long_functions, (long_modules, long_functions)


@pytest.mark.parametrize("package", ["lyra_mavera", "lyra", "mavera", "testing", "cli", "contrib"])
def test_each_package_says_what_it_may_import(package: str) -> None:
    """The docstring of every package states its import rule."""
    path = (
        PACKAGE / "__init__.py" if package == "lyra_mavera" else PACKAGE / package / "__init__.py"
    )
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "May import" in doc, path


def test_the_layer_table_knows_every_module() -> None:
    """A new top-level package must be given a layer (and rules) here."""
    assert {layer(m) for m in GRAPH} <= set(ALLOWED)
