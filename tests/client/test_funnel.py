"""The clients' funnel: one prepare step per RPC (fsgate._base), one place that makes
channels (fsgate._channel), one write outcome (fsgate._write); Client and AsyncClient only
do the I/O, so the same arguments give both the same request, deadline and metadata."""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Callable
from typing import Any

import fsgate
import pytest
from fsgate import AsyncClient, Client, Policy, Timeouts, WriteMode

CLIENT_DIR = pathlib.Path(fsgate.__file__).parent


def _calls(module: str) -> set[str]:
    """The attribute and function names ``module`` calls."""
    names = set()
    for node in ast.walk(ast.parse((CLIENT_DIR / module).read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def _names(module: str) -> set[str]:
    tree = ast.parse((CLIENT_DIR / module).read_text())
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


MODULES = sorted(p.name for p in CLIENT_DIR.glob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_only_the_channel_module_makes_channels_and_stubs(module: str) -> None:
    made = _calls(module) & {"insecure_channel", "secure_channel", "FileSystemServiceStub"}
    assert module == "_channel.py" or made == set(), f"{module} makes {made}"


@pytest.mark.parametrize("module", MODULES)
def test_only_the_write_module_decides_a_writes_outcome(module: str) -> None:
    # FutureCancelledError is where "data-source error vs RPC error" is decided.
    assert module == "_write.py" or "FutureCancelledError" not in _names(module)


@pytest.mark.parametrize("module", ["_client.py", "_async_client.py"])
def test_the_clients_build_no_request_messages(module: str) -> None:
    built = {n for n in _calls(module) if n.endswith(("Request", "Header"))}
    assert built == set(), f"{module} builds {built}: that is _base's prepare step"


POLICY = Policy(readable_roots=["/ws"], writable_roots=["/ws/out"], cwd="/ws")


def _both() -> tuple[Client, AsyncClient]:
    timeouts = Timeouts(call=3, transfer=30)
    return (Client("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts),
            AsyncClient("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts))


def test_both_clients_prepare_every_rpc_the_same_way() -> None:
    sync, aio = _both()
    try:
        for client in (sync, aio):
            assert isinstance(client, fsgate._base._ClientBase)
        preps: list[Callable[[Any], Any]] = [
            lambda c: c._prepare_read("out/a", offset=1, length=2, chunk_size=4096,
                                      policy=None, timeout=None),
            lambda c: c._prepare_write("out/a", mode=WriteMode.CREATE_NEW,
                                       create_parents=True, if_version="v1",
                                       file_mode=0o600, chunk_size=10, policy=None,
                                       timeout=7),
            lambda c: c._prepare_list("/ws", depth=2, page_size=5, page_token="x",
                                      policy=Policy(), timeout=None),
            lambda c: c._prepare_stat("/ws/a", follow_symlinks=True, policy=None,
                                      timeout=1.5),
        ]
        for prepare in preps:
            assert prepare(sync) == prepare(aio)
        read = preps[0](sync)
        assert (read.path, read.timeout) == ("out/a", 30)
        assert read.metadata == (("authorization", "Bearer t0k"),)
        assert read.request.sandbox.cwd == "/ws"
        assert preps[1](sync).timeout == 7
        assert preps[2](sync).timeout == 3
    finally:
        sync.close()
