"""The layout shows the processes, and tests pin it: what runs in a confined helper imports
no grpc, asyncio or structlog; only transport/ imports grpc; the server's modules import each
other without cycles."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "service" / "fsgate_server"
GRPC_MODULES = ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google.rpc",
                "fsgate.v1")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules a file imports at run time (``if TYPE_CHECKING:`` blocks do not count)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.add(child.module)
                found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def test_the_helper_side_imports_no_grpc_asyncio_or_structlog() -> None:
    # Everything a fork server or a confined helper runs; started the way they are started.
    code = ("import sys; import fsgate_server.helper.main, fsgate_server.helper.forkserver, "
            "fsgate_server.helper.ops, fsgate_server.sandbox.confine; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('grpc', 'asyncio', 'structlog', 'google')); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", f"the helper side imports {out}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(
    ("fsgate_server.transport", "fsgate_server.cli", "fsgate_server.__main__"))))
def test_only_the_transport_package_imports_grpc(name: str) -> None:
    offenders = sorted(m for m in _imports(MODULES[name])
                       if m.startswith(GRPC_MODULES))
    assert offenders == [], f"{name} imports {offenders}: that belongs in transport/"


def test_the_server_modules_import_each_other_without_cycles() -> None:
    graph = {name: {m for m in _imports(path) if m in MODULES and m != name}
             for name, path in MODULES.items()}
    # A package's __init__ is imported by each of its modules; that edge is not a cycle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(name):], name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
