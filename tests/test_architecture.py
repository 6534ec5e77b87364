"""The architecture's guard: datadrip's imports point down the layers and never go round in a circle.

The code is read, not run: every module under datadrip/ is parsed with ast, and every import of a
datadrip module counts wherever it stands (at the top, inside a function, under TYPE_CHECKING).
`from datadrip.x import y` is an import of datadrip.x.y when y is a module, else of datadrip.x.
"""

from __future__ import annotations

import ast
import shutil
from collections import deque
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "datadrip"

# Dependencies point down only (commands → services → platforms / db / secrets → core).
# The layers, top to bottom; a package is a folder or module directly under datadrip/
# ("__init__" is datadrip/__init__.py). A module may import its own layer and those below it.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("entry points", frozenset({"__main__", "cli"})),
    ("commands", frozenset({"commands"})),
    ("façades", frozenset({"status", "demo"})),
    ("services", frozenset({"workbook", "sync", "analytics", "reports", "insights", "scheduling"})),
    ("platforms, db, secrets", frozenset({"platforms", "db", "secrets", "sandbox"})),
    ("core", frozenset({"core", "__init__"})),
)
# Packages held tighter than their layer: each may import only the packages named here.
ONLY: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),  # the leaves: config, errors, enums, money, periods, validate, cron
    "__init__": frozenset(),  # the version
    "db": frozenset({"core", "db"}),  # the workbook's engine and models know no connector or service
    "secrets": frozenset({"core", "secrets"}),  # the secret store knows nothing of the workbook
    "sandbox": frozenset({"core", "sandbox"}),  # emulated APIs, reached over HTTP like the real ones
}

LAYER_OF = {package: rank for rank, (_, packages) in enumerate(LAYERS) for package in packages}


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at `root`, by dotted name ("datadrip.sync.run")."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """{module: {imported datadrip module: line of the first such import}}."""
    mods = modules(root)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in mods else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] != root.name:
                    continue
                resolved = known(target)
                if resolved and resolved != name:
                    edges.setdefault(resolved, node.lineno)
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def shown(root: Path, package: str) -> str:
    """A package as a path under datadrip/: "sync/", "status.py"."""
    return f"{package}/" if (root / package).is_dir() else f"{package}.py"


def where(root: Path, module: str, line: int) -> str:
    path = modules(root)[module]
    return f"{path.relative_to(root.parent)}:{line}"


def upward_imports(root: Path, graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import that points up a layer, or outside what ONLY allows; each package not in LAYERS."""
    problems = [f"{root.name}/{package}: in no layer (add it to LAYERS in tests/test_architecture.py)"
                for package in sorted({package_of(m) for m in graph} - LAYER_OF.keys())]
    for module, edges in sorted(graph.items()):
        source = package_of(module)
        for target, line in sorted(edges.items()):
            dest = package_of(target)
            if source == dest or source not in LAYER_OF or dest not in LAYER_OF:
                continue
            if source in ONLY and dest not in ONLY[source]:
                allowed = ", ".join(sorted(ONLY[source])) or "nothing of ours"
                why = f"{shown(root, source)} may import only {allowed}"
            elif LAYER_OF[dest] < LAYER_OF[source]:
                why = (f"up from {LAYERS[LAYER_OF[source]][0]} ({shown(root, source)}) "
                       f"to {LAYERS[LAYER_OF[dest]][0]} ({shown(root, dest)})")
            else:
                continue
            problems.append(f"{where(root, module, line)}: {module} imports {target}: {why}")
    return problems


def circles(root: Path, graph: dict[str, dict[str, int]]) -> list[str]:
    """One line per knot of modules that import each other, showing one way round it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    knots: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's strongly connected components, without recursion
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                knot = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    knot.append(member)
                    if member == node:
                        break
                if len(knot) > 1:
                    knots.append(sorted(knot))

    for module in sorted(graph):
        if module not in index:
            visit(module)

    problems = []
    for knot in sorted(knots):
        members, first = set(knot), knot[0]
        came_from: dict[str, str] = {}
        queue = deque([first])
        while queue:  # the shortest way from `first` back to itself, within the knot
            node = queue.popleft()
            if first in graph[node]:
                break
            for child in sorted(graph[node]):
                if child in members and child not in came_from and child != first:
                    came_from[child] = node
                    queue.append(child)
        path = [node]
        while path[-1] != first:
            path.append(came_from[path[-1]])
        path.reverse()
        path.append(first)
        steps = ", ".join(where(root, a, graph[a][b]) for a, b in zip(path, path[1:], strict=False))
        rest = sorted(members - set(path))
        more = f" (the same knot holds {', '.join(rest)})" if rest else ""
        problems.append(f"circle: {' → '.join(path)}{more} [{steps}]")
    return problems


def check_imports(root: Path) -> list[str]:
    """Everything wrong with the imports of the package at `root`, one readable line each."""
    graph = import_graph(root)
    return upward_imports(root, graph) + circles(root, graph)


def test_architecture_imports_point_down_without_circles() -> None:
    problems = check_imports(PACKAGE)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_architecture_graph_sees_every_kind_of_import() -> None:
    graph = import_graph(PACKAGE)
    assert "datadrip.core.errors" in graph["datadrip.secrets.store"]  # at the top
    assert "datadrip.secrets.store" in graph["datadrip.commands.secret"]  # inside a function
    assert "datadrip.core.config" in graph["datadrip.platforms.base"]  # under TYPE_CHECKING
    assert "datadrip.workbook.audit" in graph["datadrip.workbook.app_secrets"]  # from package import module
    assert "datadrip" in graph["datadrip.cli"]  # from datadrip import __version__


def copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "datadrip"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def plant(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_architecture_check_reports_a_planted_upward_import_and_circle(tmp_path: Path) -> None:
    root = copy_package(tmp_path)
    plant(root, "platforms/planted.py",
          '"""A connector that reaches up."""\n\n\ndef stored() -> None:\n'
          "    from datadrip.sync import store\n")
    plant(root, "analytics/ping.py",
          '"""One half of a type-only circle."""\n\nfrom typing import TYPE_CHECKING\n\n'
          "if TYPE_CHECKING:\n    from datadrip.analytics.pong import Pong\n")
    plant(root, "analytics/pong.py",
          '"""The other half."""\n\n\nclass Pong:\n    def ping(self) -> None:\n'
          "        from datadrip.analytics import ping\n")

    problems = check_imports(root)

    assert problems == [
        "datadrip/platforms/planted.py:5: datadrip.platforms.planted imports datadrip.sync.store: "
        "up from platforms, db, secrets (platforms/) to services (sync/)",
        "circle: datadrip.analytics.ping → datadrip.analytics.pong → datadrip.analytics.ping "
        "[datadrip/analytics/ping.py:6, datadrip/analytics/pong.py:6]",
    ]


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("core/planted.py", "import datadrip.db.models\n",
     "datadrip/core/planted.py:1: datadrip.core.planted imports datadrip.db.models: "
     "core/ may import only core"),
    ("db/planted.py", "from datadrip.secrets.store import redact\n",
     "datadrip/db/planted.py:1: datadrip.db.planted imports datadrip.secrets.store: "
     "db/ may import only core, db"),
    ("secrets/planted.py",
     "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
     "    from datadrip.workbook.session import Workbook\n",
     "datadrip/secrets/planted.py:4: datadrip.secrets.planted imports datadrip.workbook.session: "
     "secrets/ may import only core, secrets"),
    ("platforms/meta/planted.py", "from ...commands import report\n",
     "datadrip/platforms/meta/planted.py:1: datadrip.platforms.meta.planted imports "
     "datadrip.commands.report: up from platforms, db, secrets (platforms/) to commands (commands/)"),
    ("sync/planted.py", "from datadrip import status\n",
     "datadrip/sync/planted.py:1: datadrip.sync.planted imports datadrip.status: "
     "up from services (sync/) to façades (status.py)"),
    ("plugins/__init__.py", '"""A package nobody placed."""\n',
     "datadrip/plugins: in no layer (add it to LAYERS in tests/test_architecture.py)"),
])
def test_architecture_check_reports_each_kind_of_violation(tmp_path: Path, relative: str, text: str,
                                                            expected: str) -> None:
    root = copy_package(tmp_path)
    plant(root, relative, text)

    assert check_imports(root) == [expected]


def test_architecture_map_names_every_package_and_layer() -> None:
    """docs/architecture.md's table has a row for each package, its diagram a line for each layer."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {cell.strip() for line in text.splitlines() if line.startswith("| `")
            for cell in line.split("|")[1].split(",")}
    packages = {package_of(m) for m in modules(PACKAGE)} - {"__init__"}
    shown_as = {package: f"`{shown(PACKAGE, package)}`" for package in packages}
    assert sorted(p for p, cell in shown_as.items() if cell not in rows) == []
    diagram = text.split("```")[1]
    for name, members in LAYERS:
        line = next((line for line in diagram.splitlines() if line.rstrip().endswith(name)), "")
        assert line, f"no line for the layer {name!r} in the diagram"
        for package in members - {"__init__"}:
            assert shown(PACKAGE, package) in line.split(), (package, name)
