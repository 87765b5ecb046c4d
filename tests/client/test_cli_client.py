"""The client subcommands (read, write, ls, stat) against the fake server."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import pathlib
import sys
import threading

import pytest
from fsgate._channel import RETRY_POLICY
from fsgate._cli_local import local_error
from fsgate._progress import PROGRESS_MIN_BYTES, wants_progress
from fsgate.cli import add_client_commands, main
from fsgate.reasons import STATUS_CODE, Reason
from fsgate.v1 import fsgate_pb2

from . import FakeFileSystem, file_info, status_with_reason

#: The documented exit code of each reason; every other reason exits 1.
EXIT_FOR_REASON = {
    Reason.INVALID_PATH: 2,
    Reason.CWD_REQUIRED: 2,
    Reason.INVALID_POLICY: 2,
    Reason.INVALID_REQUEST: 2,
    Reason.INVALID_PATTERN: 2,
    Reason.NOT_FOUND: 3,
    Reason.UNAUTHENTICATED: 4,
    Reason.OUTSIDE_POLICY: 4,
    Reason.SANDBOX_DENIED: 4,
    Reason.PROTECTED_PATH: 4,
    Reason.ALREADY_EXISTS: 5,
    Reason.VERSION_MISMATCH: 5,
}


# UNAVAILABLE's reasons are retried: these tests go through every retry, with tiny backoffs.
pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def fake(fake: FakeFileSystem, server: tuple[FakeFileSystem, str],
         monkeypatch: pytest.MonkeyPatch) -> FakeFileSystem:
    """The shared fake (see conftest), and the environment pointing the CLI at it."""
    monkeypatch.setenv("FSGATE_TARGET", server[1])
    monkeypatch.delenv("FSGATE_TOKEN_FILE", raising=False)
    return fake


def run(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> tuple[int, bytes, str]:
    code = main(list(argv))
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


# --- read -------------------------------------------------------------------------------------
def test_read_writes_the_file_to_stdout(fake: FakeFileSystem,
                                        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run(capsysbinary, "read", "/ws/a.txt") == (0, b"hello, world", "")


def test_read_to_an_output_file(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    out = tmp_path / "copy"
    assert run(capsysbinary, "read", "/ws/a.txt", "-o", str(out)) == (0, b"", "")
    assert out.read_bytes() == b"hello, world"


def test_read_of_a_missing_file_exits_3_and_creates_no_output(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = tmp_path / "copy"
    code, stdout, err = run(capsysbinary, "read", "/ws/missing", "-o", str(out))

    assert (code, stdout) == (3, b"")
    assert err == "fsgate: NOT_FOUND/NOT_FOUND: no such file: /ws/missing\n"
    assert not out.exists()


# --- write ------------------------------------------------------------------------------------
def test_write_reads_stdin_by_default(fake: FakeFileSystem, monkeypatch: pytest.MonkeyPatch,
                                      capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin")))

    code, out, err = run(capsysbinary, "write", "/ws/new")

    assert (code, out) == (0, b"")  # stdout is for content and JSON only
    assert err == "10 bytes written to /ws/new (version v10)\n"
    assert fake.files["/ws/new"] == b"from stdin"


def test_write_sends_a_source_file_with_the_flags(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"payload")

    code, out, _ = run(capsysbinary, "write", "/ws/d/new", str(src), "--create-new",
                       "--parents", "--if-version", "v7", "--mode", "600", "--json")

    assert code == 0
    header = fake.calls("WriteFile")[0].request[0].header
    assert header.mode == fsgate_pb2.WRITE_MODE_CREATE_NEW
    assert (header.create_parents, header.if_version, header.file_mode) == (True, "v7", 0o600)
    assert json.loads(out)["bytes_written"] == 7
    assert json.loads(out)["info"]["path"] == "/ws/d/new"


def test_write_of_a_missing_source_exits_3(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                           capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, err = run(capsysbinary, "write", "/ws/new", str(tmp_path / "nope"))

    assert (code, out) == (3, b"")
    assert err == f"fsgate: LOCAL/NOT_FOUND: {tmp_path / 'nope'}: No such file or directory\n"
    assert fake.calls("WriteFile") == []


def test_write_of_a_directory_as_source_is_a_local_error(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, err = run(capsysbinary, "write", "/ws/new", str(tmp_path))

    assert (code, out) == (1, b"")
    assert err == f"fsgate: LOCAL/IS_A_DIRECTORY: {tmp_path}: Is a directory\n"
    assert fake.calls("WriteFile") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_write_of_an_unreadable_source_exits_4(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    src = tmp_path / "secret"
    src.write_bytes(b"x")
    src.chmod(0)

    code, _, err = run(capsysbinary, "write", "/ws/new", str(src))

    assert code == 4
    assert err == f"fsgate: LOCAL/PERMISSION_DENIED: {src}: Permission denied\n"


def test_read_into_an_output_in_a_missing_directory_is_a_local_error(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = tmp_path / "no" / "such" / "copy"
    code, stdout, err = run(capsysbinary, "read", "/ws/a.txt", "-o", str(out))

    assert (code, stdout) == (3, b"")
    assert err == f"fsgate: LOCAL/NOT_FOUND: {out}: No such file or directory\n"


def test_read_into_a_directory_as_output_is_a_local_error(
    fake: FakeFileSystem, tmp_path: pathlib.Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, _, err = run(capsysbinary, "read", "/ws/a.txt", "-o", str(tmp_path))

    assert code == 1
    assert err == f"fsgate: LOCAL/IS_A_DIRECTORY: {tmp_path}: Is a directory\n"


@pytest.mark.parametrize(("error", "line", "exit_code"), [
    (errno.ENOENT, "LOCAL/NOT_FOUND: ./src: No such file or directory", 3),
    (errno.EACCES, "LOCAL/PERMISSION_DENIED: ./src: Permission denied", 4),
    (errno.EPERM, "LOCAL/PERMISSION_DENIED: ./src: Operation not permitted", 4),
    (errno.EROFS, "LOCAL/PERMISSION_DENIED: ./src: Read-only file system", 4),
    (errno.EEXIST, "LOCAL/ALREADY_EXISTS: ./src: File exists", 5),
    (errno.ENAMETOOLONG, "LOCAL/INVALID_PATH: ./src: File name too long", 2),
    (errno.ENOSPC, "LOCAL/NO_SPACE: ./src: No space left on device", 1),
    (errno.EIO, "LOCAL/EIO: ./src: Input/output error", 1),
])
def test_local_errors_print_like_server_errors(error: int, line: str, exit_code: int) -> None:
    exc = OSError(error, os.strerror(error), "./src")
    assert local_error(exc) == (f"fsgate: {line}", exit_code)


def test_a_failing_stdin_read_is_a_local_error(
    fake: FakeFileSystem, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: object) -> int:
            raise OSError(errno.EIO, "Input/output error")

    fake.commit_grace = 1.0  # the fake must see the cancel, not take it for the end
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Broken())))
    code, _, err = run(capsysbinary, "write", "/ws/a.txt")

    assert (code, err) == (1, "fsgate: LOCAL/EIO: Input/output error\n")
    assert fake.files["/ws/a.txt"] == b"hello, world"


# --- ls ---------------------------------------------------------------------------------------
@pytest.fixture
def listing(fake: FakeFileSystem) -> FakeFileSystem:
    fake.entries = [
        fsgate_pb2.DirEntry(name="bad\ufffd", raw_name=b"bad\xff", info=file_info("/ws/bad")),
        fsgate_pb2.DirEntry(name="dir", info=file_info(
            "/ws/dir", type=fsgate_pb2.FILE_TYPE_DIRECTORY)),
        fsgate_pb2.DirEntry(name="link", info=file_info(
            "/ws/link", type=fsgate_pb2.FILE_TYPE_SYMLINK, symlink_target="dir")),
        fsgate_pb2.DirEntry(name="plain.txt", info=file_info("/ws/plain.txt", 5)),
    ]
    return fake


def test_ls_prints_one_name_per_line(listing: FakeFileSystem,
                                     capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = run(capsysbinary, "ls", "/ws", "--depth", "2")

    assert code == 0
    assert out == b"bad\xff\ndir/\nlink -> dir\nplain.txt\n"
    assert listing.calls("ListDir")[0].request.depth == 2


def test_ls_json_prints_one_object_per_line(listing: FakeFileSystem,
                                            capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = run(capsysbinary, "ls", "/ws", "--json")

    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert code == 0
    assert [r["name"] for r in rows] == ["bad\ufffd", "dir", "link", "plain.txt"]
    assert rows[0]["raw_name_base64"] == "YmFk/w=="
    assert rows[1]["raw_name_base64"] is None
    assert rows[2]["info"]["type"] == "symlink"
    assert rows[2]["info"]["symlink_target"] == "dir"
    assert rows[3]["info"] == {
        "path": "/ws/plain.txt", "type": "regular", "size": 5, "mode": "0644",
        "modified_time": "2024-05-06T07:08:09.123456Z", "version": "v5",
        "symlink_target": None,
    }


# --- stat -------------------------------------------------------------------------------------
def test_stat_json(fake: FakeFileSystem, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = run(capsysbinary, "stat", "/ws/a.txt", "--json", "--follow")

    assert code == 0
    assert json.loads(out) == {
        "path": "/ws/a.txt", "type": "regular", "size": 12, "mode": "0644",
        "modified_time": "2024-05-06T07:08:09.123456Z", "version": "v12",
        "symlink_target": None,
    }
    assert fake.calls("Stat")[0].request.follow_symlinks is True


def test_stat_text(fake: FakeFileSystem, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, _ = run(capsysbinary, "stat", "/ws/a.txt")

    assert code == 0
    assert out.decode().splitlines() == [
        "path: /ws/a.txt", "type: regular", "size: 12", "mode: 0644",
        "modified_time: 2024-05-06T07:08:09.123456Z", "version: v12",
    ]


# --- errors and exit codes ----------------------------------------------------------------------
@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_each_reason_has_its_exit_code_and_message(
    fake: FakeFileSystem, capsysbinary: pytest.CaptureFixture[bytes], reason: Reason
) -> None:
    code = STATUS_CODE[reason]
    fake.fail_next = status_with_reason(code, "it failed", reason.value)
    fake.fail_count = RETRY_POLICY["maxAttempts"]  # UNAVAILABLE is retried: fail each try

    exit_code, out, err = run(capsysbinary, "stat", "/ws/a.txt")

    assert exit_code == EXIT_FOR_REASON.get(reason, 1)
    assert out == b""
    hint = " (pass --cwd DIR)" if reason is Reason.CWD_REQUIRED else ""  # the CLI's terms
    assert err == f"fsgate: {code.name}/{reason.value}: it failed{hint}\n"


def test_no_server_exits_1_with_the_bare_code(tmp_path: pathlib.Path,
                                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, _, err = run(capsysbinary, "stat", "/ws", "--target", f"unix:{tmp_path}/none.sock")

    assert code == 1
    assert err.startswith("fsgate: UNAVAILABLE: ")


def test_timeout_sets_the_deadline(fake: FakeFileSystem,
                                   capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    fake.stat_gate = threading.Event()
    code, _, err = run(capsysbinary, "stat", "/ws/a.txt", "--timeout", "0.2")

    assert code == 1
    assert err.startswith("fsgate: DEADLINE_EXCEEDED: ")


@pytest.mark.parametrize("argv", [
    [],
    ["ls", "/ws", "--depth", "0"],
    ["write", "/ws/x", "--mode", "9"],
    ["stat", "/ws", "--timeout", "-1"],
    ["read"],
])
def test_usage_errors_exit_2(fake: FakeFileSystem, capsysbinary: pytest.CaptureFixture[bytes],
                             argv: list[str]) -> None:
    assert run(capsysbinary, *argv)[0] == 2
    assert fake.captured == []


# --- connection options ---------------------------------------------------------------------------
def test_token_file_is_read_and_stripped(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                         capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  s3cret\n")

    assert run(capsysbinary, "stat", "/ws/a.txt", "--token-file", str(token_file))[0] == 0
    assert fake.captured[0].metadata["authorization"] == "Bearer s3cret"


def test_target_and_token_file_come_from_the_environment(
    server: tuple[FakeFileSystem, str], fake: FakeFileSystem, tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-env")
    monkeypatch.setenv("FSGATE_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("FSGATE_TARGET", server[1])

    assert run(capsysbinary, "stat", "/ws/a.txt")[0] == 0
    assert fake.captured[0].metadata["authorization"] == "Bearer from-env"


@pytest.mark.parametrize("content", [None, "", "   \n", "two words"])
def test_bad_token_file_exits_2(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                capsysbinary: pytest.CaptureFixture[bytes],
                                content: str | None) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)

    code, _, err = run(capsysbinary, "stat", "/ws/a.txt", "--token-file", str(token_file))

    assert code == 2
    assert err.startswith("fsgate: ")
    assert fake.captured == []


def test_cwd_is_sent_only_for_a_relative_path(fake: FakeFileSystem,
                                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert run(capsysbinary, "stat", "/ws/a.txt", "--cwd", "/does/not/exist")[0] == 0
    assert run(capsysbinary, "stat", "a.txt", "--cwd", "/ws")[0] == 0

    absolute, relative = (c.request for c in fake.calls("Stat"))
    assert not absolute.HasField("sandbox")
    assert relative.sandbox == fsgate_pb2.SandboxPolicy(cwd="/ws")


def test_relative_path_without_cwd_exits_2(fake: FakeFileSystem,
                                           capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, _, err = run(capsysbinary, "stat", "a.txt")

    assert code == 2
    assert err.startswith("fsgate: INVALID_ARGUMENT/CWD_REQUIRED: ")
    # The human is told which option to pass, not the wire field the server names.
    assert "needs --cwd DIR" in err
    assert "sandbox.cwd" not in err
    assert "'a.txt'" in err


def test_relative_write_is_confined_to_cwd(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                           capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x")

    assert run(capsysbinary, "write", "new.txt", str(src), "--cwd", "/ws")[0] == 0

    header = fake.calls("WriteFile")[0].request[0].header
    assert header.path == "new.txt"
    assert header.sandbox == fsgate_pb2.SandboxPolicy(writable_roots=["/ws"], cwd="/ws")
    assert fake.files["/ws/new.txt"] == b"x"


def test_commands_plug_into_another_parser() -> None:
    parser = argparse.ArgumentParser(prog="fsgate")
    subparsers = parser.add_subparsers(dest="command", required=True)
    subparsers.add_parser("serve")
    add_client_commands(subparsers)

    for argv in (["read", "/a"], ["write", "/a"], ["ls", "/a"], ["stat", "/a"]):
        args = parser.parse_args(argv)
        assert callable(args.func)
        assert args.path == "/a"
    assert parser.parse_args(["write", "/a"]).source == "-"



# --- progress bars ----------------------------------------------------------------------------
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flag", "stream", "total", "shown"),
    [
        (None, Terminal(), PROGRESS_MIN_BYTES, True),
        (None, Terminal(), PROGRESS_MIN_BYTES - 1, False),  # small: not worth a bar
        (None, Terminal(), None, False),  # unknown size (a pipe): no bar unless asked
        (None, io.StringIO(), 1 << 30, False),  # not a terminal: stderr stays clean
        (True, io.StringIO(), None, True),  # --progress
        (False, Terminal(), 1 << 30, False),  # --no-progress
    ],
)
def test_progress_is_shown_for_large_transfers_on_a_terminal_or_when_asked(
    flag: bool | None, stream: io.StringIO, total: int | None, shown: bool
) -> None:
    assert wants_progress(flag, stream, total) is shown


def test_read_progress_counts_up_to_the_file_size(fake: FakeFileSystem, tmp_path: pathlib.Path,
                                                  capsysbinary: pytest.CaptureFixture[bytes]
                                                  ) -> None:
    fake.files["/ws/big.bin"] = b"z" * 5000
    fake.read_chunk = 1000
    code, out, err = run(capsysbinary, "read", "/ws/big.bin", "--progress",
                         "-o", str(tmp_path / "copy"))

    assert (code, out) == (0, b"")  # the bar never reaches stdout
    assert "big.bin" in err and "100%" in err and "4.88k/4.88k" in err


def test_write_progress_from_a_file_and_from_a_pipe(
    fake: FakeFileSystem, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"y" * 3000)

    code, _, err = run(capsysbinary, "write", "/ws/new", str(src), "--progress")
    assert code == 0 and "100%" in err and "2.93k/2.93k" in err

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from a pipe")))
    code, _, err = run(capsysbinary, "write", "/ws/piped", "--progress")
    assert code == 0 and "%" not in err and "11.0B" in err  # no total: bytes so far
    assert fake.files["/ws/piped"] == b"from a pipe"


def test_no_progress_off_a_terminal_by_default(fake: FakeFileSystem,
                                              capsysbinary: pytest.CaptureFixture[bytes]
                                              ) -> None:
    fake.files["/ws/big.bin"] = b"z" * PROGRESS_MIN_BYTES
    fake.read_chunk = 1 << 20
    code, out, err = run(capsysbinary, "read", "/ws/big.bin")

    assert (code, len(out), err) == (0, PROGRESS_MIN_BYTES, "")
