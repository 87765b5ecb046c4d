"""rlimits: limits bite as errors the helper can report, not as silent deaths."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsgate_server.sandbox import rlimits
from fsgate_server.sandbox.rlimits import Limits

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult


def test_limits_have_documented_defaults() -> None:
    assert Limits() == Limits(
        cpu_seconds=30, address_space_bytes=1 << 30, file_size_bytes=1 << 30, open_files=64
    )


@pytest.mark.parametrize("field", ["cpu_seconds", "address_space_bytes", "open_files"])
def test_limits_reject_non_positive_values(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_rlimit_fsize_fails_a_large_write_with_efbig_instead_of_sigxfsz(
    in_child: Runner, tmp_path: Path, address_space: int
) -> None:
    def child(_fd: int) -> object:
        rlimits.apply(Limits(file_size_bytes=4096, address_space_bytes=address_space))
        fd = os.open(tmp_path / "big", os.O_WRONLY | os.O_CREAT, 0o600)
        written = os.write(fd, b"x" * 8192)  # short write up to the limit
        try:
            os.write(fd, b"x")
        except OSError as exc:
            return written, exc.errno
        return written, None

    result = in_child(child)
    assert (result.outcome, result.value) == ("returned", (4096, errno.EFBIG))
    assert (tmp_path / "big").stat().st_size == 4096


def test_rlimit_nofile_refuses_descriptors_past_the_limit(
    in_child: Runner, address_space: int
) -> None:
    def child(_fd: int) -> object:
        rlimits.apply(Limits(open_files=16, address_space_bytes=address_space))
        opened = []
        try:
            while True:
                opened.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as exc:
            return max(opened) < 16, exc.errno

    assert in_child(child).value == (True, errno.EMFILE)


def test_rlimit_address_space_turns_a_huge_allocation_into_memory_error(
    in_child: Runner, address_space: int
) -> None:
    def child(_fd: int) -> object:
        rlimits.apply(Limits(address_space_bytes=address_space))
        try:
            bytearray(address_space)
        except MemoryError:
            return "MemoryError"
        return "allocated"

    assert in_child(child).value == "MemoryError"


def test_rlimit_apply_sets_soft_and_hard_and_never_raises_the_hard_limit(
    in_child: Runner, address_space: int
) -> None:
    def child(_fd: int) -> object:
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
        rlimits.apply(Limits(cpu_seconds=7, open_files=1000, address_space_bytes=address_space))
        return resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CPU)

    assert in_child(child).value == ((32, 32), (7, 7))


def test_rlimit_apply_refuses_an_address_space_below_the_current_size(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        try:
            rlimits.apply(Limits(address_space_bytes=4096))
        except ValueError:
            return resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
        return "applied"

    assert in_child(child).value is True


def test_default_limits_leave_room_for_a_fresh_interpreter_that_imported_grpc() -> None:
    pytest.importorskip("grpc")
    # A fresh process, as an exec'd helper is: CPython + grpc + protobuf, then the limits.
    script = textwrap.dedent(
        """
        import grpc, google.protobuf, sys
        sys.path[:0] = sys.argv[1:]
        from fsgate_server.sandbox import rlimits
        rlimits.apply(rlimits.Limits())
        import decimal, json.tool
        block = bytearray(256 << 20)
        print("ok", len(block))
        """
    )
    paths = [p for p in sys.path if p.endswith(("/service", "/client"))]
    done = subprocess.run(
        [sys.executable, "-c", script, *paths], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == f"ok {256 << 20}", done.stderr
