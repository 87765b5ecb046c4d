"""An error about a ~4,000-byte path still reaches the caller as that error: message and
ErrorInfo shorten the path, so the whole status fits a client's default 8 KiB metadata
limit instead of turning into RESOURCE_EXHAUSTED "Stream removed" (SPEC §3)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client

from ..conftest import ServerProcess

RPCS: dict[str, Callable[[Client, str], object]] = {
    "Stat": lambda c, p: c.stat(p),
    "ReadFile": lambda c, p: c.read_file(p),
    "ListDir": lambda c, p: list(c.list_dir(p)),
    "WriteFile": lambda c, p: c.write_file(p, b"x"),
}


def long_path(base: Path, name: str, total: int = 4000) -> str:
    """An absolute path of about ``total`` UTF-8 bytes under ``base``, every component
    within NAME_MAX (255 bytes): a valid path, not an INVALID_PATH one."""
    path = str(base)
    while len(path.encode()) < total - 255:
        path += "/" + name
    rest = total - len(path.encode()) - 1
    path += "/" + "z" * rest
    assert len(path.encode()) <= 4096 and max(len(c.encode()) for c in path.split("/")) <= 255
    return path


NAMES = {"ascii": "d" * 250, "non-ascii": "\u00e9" * 120}  # 240 bytes, percent-encoded 3x


@pytest.mark.parametrize("rpc", RPCS)
@pytest.mark.parametrize("name", NAMES)
def test_missing_4000_byte_path_is_not_found_on_every_rpc(
        served: ServerProcess, ws: Path, rpc: str, name: str) -> None:
    path = long_path(ws, NAMES[name])
    with Client(served.target) as c, pytest.raises(fsgate.NotFound) as err:
        RPCS[rpc](c, path)
    assert err.value.code is grpc.StatusCode.NOT_FOUND
    assert err.value.reason == "NOT_FOUND"
    _assert_shortened(err.value, path)
    assert not any(ws.iterdir())  # nothing was created on the way


@pytest.mark.parametrize("rpc", RPCS)
@pytest.mark.parametrize("name", NAMES)
def test_4000_byte_path_outside_the_roots_is_outside_policy_on_every_rpc(
        served: ServerProcess, rpc: str, name: str) -> None:
    path = long_path(served.root.parent / "outside", NAMES[name])
    with Client(served.target) as c, pytest.raises(fsgate.OutsidePolicy) as err:
        RPCS[rpc](c, path)
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "OUTSIDE_POLICY"
    _assert_shortened(err.value, path)


def _assert_shortened(exc: fsgate.FsgateError, path: str) -> None:
    reported = exc.metadata.get("path", "")
    assert 0 < len(reported.encode()) <= 512
    head, sep, tail = reported.partition("\u2026")
    assert sep and path.startswith(head) and path.endswith(tail)  # head and tail survive
    assert len(str(exc).encode()) <= 1024


@pytest.mark.parametrize("rpc", RPCS)
def test_over_long_path_is_invalid_path_on_every_rpc(served: ServerProcess, ws: Path,
                                                     rpc: str) -> None:
    path = str(ws) + ("/" + "\u00e9" * 120) * 40  # ~9,600 bytes: over PATH_MAX
    with Client(served.target) as c, pytest.raises(fsgate.InvalidPath) as err:
        RPCS[rpc](c, path)
    assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.reason == "INVALID_PATH"
    assert len(str(err.value).encode()) <= 1024
    assert len(err.value.metadata.get("path", "").encode()) <= 512
