"""The package layering that docs/ARCHITECTURE.md draws, checked on the source.

    terminal  <-  renderer, reasoner  <-  orchestrator  <-  hybrid_nc

Each arrow points at what a package may import. A module cycle, an upward import, a module that
grows past what a reader can hold, or a second reader of the config file fails here instead of
being found by the next newcomer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("terminal", "renderer", "reasoner", "orchestrator", "hybrid_nc")
# what each package may import from the others
ALLOWED = {
    "terminal": set(),
    "renderer": {"terminal"},
    "reasoner": {"terminal"},
    "orchestrator": {"terminal", "renderer", "reasoner"},
    "hybrid_nc": {"terminal", "renderer", "reasoner", "orchestrator"},
}
MAX_MODULE_LINES = 900
MAX_SESSION_LINES = 350


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules imported anywhere in the file (function-level imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_pkg else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for t in targets:
            # the longest project module that the target names
            parts = t.split(".")
            for i in range(len(parts), 0, -1):
                cand = ".".join(parts[:i])
                if cand in MODULES:
                    if cand != name:
                        found.add(cand)
                    break
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_packages_exist():
    assert len(MODULES) > 50, sorted(MODULES)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_upward_or_sideways_import(pkg):
    bad = []
    for name, deps in GRAPH.items():
        if name.split(".")[0] != pkg:
            continue
        for dep in deps:
            top = dep.split(".")[0]
            if top != pkg and top not in ALLOWED[pkg]:
                bad.append(f"{name} -> {dep}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_no_module_cycle():
    # Tarjan's strongly connected components; a package's __init__ re-exporting its own
    # submodules is not a cycle a reader trips on, so package -> own child edges are dropped
    graph = {n: {d for d in deps if not d.startswith(n + ".")} for n, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"module cycles: {cycles}"


def test_no_module_too_long():
    long = {n: n_lines for n, p in MODULES.items()
            if (n_lines := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_session_class_stays_the_loop():
    tree = ast.parse(MODULES["orchestrator.session"].read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Session")
    lines = cls.end_lineno - cls.lineno + 1
    assert lines <= MAX_SESSION_LINES, f"Session is {lines} lines"


def test_one_module_reads_the_config_file():
    readers = [n for n, p in MODULES.items() if "tomllib" in p.read_text(encoding="utf-8")]
    assert len(readers) == 1, readers
