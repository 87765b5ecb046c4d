"""The blocking Client against an in-process fake server, and the package surface."""

from __future__ import annotations

import ast
import datetime
import io
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import fsgate
import grpc
import pytest
from fsgate import Client, FileType, Policy, Timeouts, WriteMode
from fsgate._channel import RETRY_POLICY
from fsgate._write import WriteData
from fsgate.reasons import STATUS_CODE
from fsgate.v1 import fsgate_pb2

from . import MTIME, FakeFileSystem, file_info, serve, status_with_reason

CLIENT_DIR = pathlib.Path(fsgate.__file__).parent

# UNAVAILABLE's reasons are retried: these tests go through every retry, with tiny backoffs.
pytestmark = pytest.mark.usefixtures("fast_retries")


# One server and one client per module (closing a just-connected channel costs ~0.2 s);
# the fake is reset before every test.
@pytest.fixture(scope="module")
def shared_client(server: tuple[FakeFileSystem, str]) -> Iterator[Client]:
    with Client(server[1], timeouts=Timeouts(connect=5, call=10, transfer=10)) as client:
        yield client


@pytest.fixture
def client(shared_client: Client, fake: FakeFileSystem) -> Client:
    return shared_client


# --- the package surface -------------------------------------------------------------------
def test_public_surface_is_pinned() -> None:
    assert sorted(fsgate.__all__) == sorted([
        "AlreadyExists", "AsyncClient", "Busy", "Client", "CwdRequired", "DeadlineExceeded",
        "DirEntry",
        "FailedPrecondition", "FileInfo", "FileType", "FsgateError", "HelperFailed",
        "InvalidArgument", "InvalidPath", "InvalidPolicy", "InvalidRequest", "IsADirectory",
        "NoSpace", "NotADirectory", "NotFound", "NotRegularFile", "OutsidePolicy",
        "PermissionDenied", "Policy", "ProtectedPath", "Reason", "ResourceExhausted",
        "SandboxDenied", "SandboxUnavailable", "ShuttingDown", "SymlinkLoop", "Timeouts",
        "TooLarge", "Unauthenticated", "Unavailable", "VersionMismatch", "WriteMode",
        "WriteResult", "__version__",
        # v1.1
        "AmbiguousMatch", "EditMismatch", "InvalidPattern", "NoMatch", "NotEmpty", "NotText",
        "RemoveResult", "ServerInfo", "ServerLimits", "ServerRoot",
        "CopyResult", "MoveResult",
        "Edit", "EditResult",
        # v1.1 Search and Glob
        "AsyncSearchResult", "GlobResult", "GlobSort", "Match", "SearchResult", "SearchSummary",
        "AsyncWatch", "FileEvent", "FileEventType", "Watch", "WatchOverflow",
    ])
    assert all(hasattr(fsgate, name) for name in fsgate.__all__)
    assert fsgate.__version__ == "0.1.0"


def test_client_package_imports_without_the_server_package() -> None:
    code = "import sys; sys.modules['fsgate_server'] = None; import fsgate, fsgate.cli"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def _server_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] == "fsgate_server"]
    return found


def test_no_client_module_mentions_the_server_package() -> None:
    # The one exception: the console script (fsgate/_main.py) hands serve, doctor and
    # health to fsgate_server -- imported inside main(), never at module level.
    entry = CLIENT_DIR / "_main.py"
    offenders = [f"{source}: {name}" for source in CLIENT_DIR.rglob("*.py") if source != entry
                 for name in _server_imports(ast.parse(source.read_text()))]
    assert offenders == []
    tree = ast.parse(entry.read_text())
    top_level = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    assert _server_imports(ast.Module(body=top_level, type_ignores=[])) == []
    functions = {n.name: _server_imports(n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {name for name, found in functions.items() if found} == {"main"}


# --- Policy and Timeouts -------------------------------------------------------------------
def test_remote_sandbox_context_drops_unused_cwd() -> None:
    policy = Policy(readable_roots=["/ws"], writable_roots=["/ws/out"], denied_paths=["/ws/x"],
                    cwd="/does/not/exist/here")

    msg = policy.to_proto("/ws/a.txt")

    assert msg.cwd == ""
    assert list(msg.readable_roots) == ["/ws"]
    assert list(msg.writable_roots) == ["/ws/out"]
    assert list(msg.denied_paths) == ["/ws/x"]


def test_policy_sends_cwd_for_a_relative_path() -> None:
    assert Policy(cwd="/ws").to_proto("a.txt").cwd == "/ws"


@pytest.mark.parametrize("field", ["readable_roots", "writable_roots", "denied_paths"])
def test_policy_sends_cwd_for_a_relative_entry(field: str) -> None:
    policy = Policy(**{field: ["sub"]}, cwd="/ws")
    assert policy.to_proto("/ws/a.txt").cwd == "/ws"


def test_policy_takes_path_likes_verbatim_never_resolved() -> None:
    policy = Policy(readable_roots=[pathlib.PurePosixPath("rel/../dir")],
                    cwd=pathlib.PurePosixPath("/remote/cwd"))

    assert policy.readable_roots == ("rel/../dir",)
    assert policy.cwd == "/remote/cwd"
    assert policy.to_proto(pathlib.PurePosixPath("x")).cwd == "/remote/cwd"


def test_policy_refuses_a_single_path_as_a_list_of_roots() -> None:
    with pytest.raises(TypeError, match="sequence of paths"):
        Policy(readable_roots="/ws")


def test_policy_refuses_bytes_paths() -> None:
    with pytest.raises(TypeError):
        Policy(readable_roots=[b"/ws"])  # type: ignore[list-item]  # the misuse under test


def test_policy_is_frozen_and_hashable() -> None:
    policy = Policy(readable_roots=["/ws"])
    with pytest.raises(AttributeError):
        policy.cwd = "/x"  # type: ignore[misc]  # frozen: the misuse under test
    assert policy == Policy(readable_roots=("/ws",))
    assert hash(policy) == hash(Policy(readable_roots=("/ws",)))


def test_timeouts_have_documented_defaults() -> None:
    assert Timeouts() == Timeouts(connect=5.0, call=30.0, transfer=300.0)


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_timeouts_must_be_positive_and_finite(value: float) -> None:
    with pytest.raises(ValueError):
        Timeouts(call=value)


def test_timeouts_cannot_be_none() -> None:
    with pytest.raises(TypeError):
        Timeouts(transfer=None)  # type: ignore[arg-type]  # the misuse under test


# --- what the client sends ------------------------------------------------------------------
def test_bearer_token_is_sent_on_every_call(fake: FakeFileSystem, target: str) -> None:
    with Client(target, token="s3cret-token") as client:
        client.stat("/ws/a.txt")
        client.read_file("/ws/a.txt")
        client.write_file("/ws/b", b"x")
        list(client.list_dir("/ws"))

    assert [c.metadata.get("authorization") for c in fake.captured] == [
        "Bearer s3cret-token"] * 4


def test_no_token_sends_no_authorization(fake: FakeFileSystem, client: Client) -> None:
    client.stat("/ws/a.txt")
    assert "authorization" not in fake.captured[0].metadata


@pytest.mark.parametrize("token", ["", "has space", "line\nbreak", "tab\t", "ünicode"])
def test_token_must_be_printable_ascii(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        Client("127.0.0.1:1", token=token)


def test_repr_never_shows_the_token() -> None:
    with Client("127.0.0.1:1", token="s3cret") as client:
        assert "s3cret" not in repr(client)


def test_no_policy_sends_no_sandbox(fake: FakeFileSystem, client: Client) -> None:
    client.stat("/ws/a.txt")
    assert not fake.captured[0].request.HasField("sandbox")


def test_client_sends_cwd_only_when_the_request_needs_it(fake: FakeFileSystem,
                                                          target: str) -> None:
    policy = Policy(readable_roots=["/ws"], cwd="/does/not/exist/here")
    with Client(target, policy=policy) as client:
        client.stat("/ws/a.txt")
        with pytest.raises(fsgate.NotFound):
            client.stat("a.txt")

    absolute, relative = (c.request for c in fake.captured)
    assert absolute.HasField("sandbox") and absolute.sandbox.cwd == ""
    assert list(absolute.sandbox.readable_roots) == ["/ws"]
    assert relative.sandbox.cwd == "/does/not/exist/here"


def test_cwd_rule_applies_to_every_rpc(fake: FakeFileSystem, target: str) -> None:
    policy = Policy(writable_roots=["/ws"], cwd="/ws")
    with Client(target, policy=policy) as client:
        client.read_file("/ws/a.txt")
        client.write_file("/ws/b", b"x")
        list(client.list_dir("/ws"))
        client.read_file("a.txt")
        client.write_file("b", b"y")
        list(client.list_dir("."))

    def cwd(request: object) -> str:
        if isinstance(request, list):  # WriteFile: the stream; the header carries it
            return str(request[0].header.sandbox.cwd)
        return str(request.sandbox.cwd)  # type: ignore[attr-defined]  # any request message

    assert [cwd(c.request) for c in fake.captured] == ["", "", "", "/ws", "/ws", "/ws"]


def test_relative_path_without_policy_cwd_is_sent_as_is(fake: FakeFileSystem,
                                                         client: Client) -> None:
    with pytest.raises(fsgate.CwdRequired) as info:
        client.stat("a.txt")

    request = fake.captured[0].request
    assert request.path == "a.txt"
    assert not request.HasField("sandbox")  # the local os.getcwd() is never sent
    assert info.value.reason is fsgate.Reason.CWD_REQUIRED
    assert isinstance(info.value.__cause__, grpc.RpcError)


def test_per_call_policy_overrides_the_clients(fake: FakeFileSystem, target: str) -> None:
    with Client(target, policy=Policy(readable_roots=["/ws"])) as client:
        client.stat("/ws/a.txt", policy=Policy(readable_roots=["/ws/a.txt"]))

    assert list(fake.captured[0].request.sandbox.readable_roots) == ["/ws/a.txt"]


def test_path_likes_are_sent_verbatim(fake: FakeFileSystem, client: Client) -> None:
    class RemotePath:
        def __fspath__(self) -> str:
            return "/ws/./sub/../a.txt"

    with pytest.raises(fsgate.NotFound):  # the fake does not normalize; the server would
        client.stat(RemotePath())
    assert fake.captured[0].request.path == "/ws/./sub/../a.txt"


# --- ReadFile -------------------------------------------------------------------------------
def test_read_file_returns_the_content(client: Client) -> None:
    assert client.read_file("/ws/a.txt") == b"hello, world"


def test_read_file_passes_range_and_chunk_size(fake: FakeFileSystem, client: Client) -> None:
    assert client.read_file("/ws/a.txt", offset=7, length=3, chunk_size=4096) == b"wor"

    request = fake.captured[0].request
    assert (request.offset, request.length, request.chunk_size) == (7, 3, 4096)


def test_open_read_gives_file_info_then_chunks(client: Client) -> None:
    info, chunks = client.open_read("/ws/a.txt")

    assert info == fsgate.FileInfo(path="/ws/a.txt", type=FileType.REGULAR, size=12,
                                   mode=0o644, modified_time=MTIME, version="v12",
                                   symlink_target=None)
    assert info.modified_time.tzinfo == datetime.UTC
    assert list(chunks) == [b"hell", b"o, w", b"orld"]


def test_iter_file_streams_chunk_by_chunk(fake: FakeFileSystem, client: Client) -> None:
    fake.read_gate = threading.Event()
    chunks = client.iter_file("/ws/a.txt")

    # The server holds back everything after the first chunk until we have it.
    first = next(chunks)
    fake.read_gate.set()
    rest = list(chunks)

    assert first == b"hell"
    assert rest == [b"o, w", b"orld"]
    assert not fake.read_gate_timed_out


def test_closing_iter_file_early_cancels_the_call(fake: FakeFileSystem,
                                                  client: Client) -> None:
    fake.read_gate = threading.Event()  # the server blocks after the first chunk
    chunks = client.iter_file("/ws/a.txt")
    assert next(chunks) == b"hell"

    chunks.close()  # type: ignore[attr-defined]  # typed Iterator, is a generator

    assert fake.read_ended.wait(timeout=10), "the server never saw the cancellation"
    fake.read_gate.set()
    assert client.read_file("/ws/a.txt") == b"hello, world"  # the channel is fine


def test_read_to_copies_into_a_file_object(client: Client) -> None:
    dest = io.BytesIO()
    assert client.read_to("/ws/a.txt", dest) == 12
    assert dest.getvalue() == b"hello, world"


def test_read_error_raises_at_first_next(client: Client) -> None:
    chunks = client.iter_file("/ws/missing")
    with pytest.raises(fsgate.NotFound) as info:
        next(chunks)

    assert info.value.path == "/ws/missing"
    assert info.value.filename == "/ws/missing"


def test_open_read_raises_before_returning(client: Client) -> None:
    with pytest.raises(FileNotFoundError):
        client.open_read("/ws/missing")


# --- WriteFile ------------------------------------------------------------------------------
def _sent(fake: FakeFileSystem) -> tuple[fsgate_pb2.WriteFileRequest.Header, list[bytes]]:
    messages = fake.calls("WriteFile")[-1].request
    assert messages[0].WhichOneof("payload") == "header"
    assert all(m.WhichOneof("payload") == "data" for m in messages[1:])
    return messages[0].header, [m.data for m in messages[1:]]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"0123456789", id="bytes"),
        pytest.param(bytearray(b"0123456789"), id="bytearray"),
        pytest.param(memoryview(b"0123456789"), id="memoryview"),
        pytest.param(io.BytesIO(b"0123456789"), id="file"),
        pytest.param([b"012", b"", b"3456789"], id="list"),
        pytest.param((c for c in [b"0123456", b"789"]), id="generator"),
    ],
)
def test_write_file_sends_header_then_chunks(fake: FakeFileSystem, client: Client,
                                             data: WriteData) -> None:
    result = client.write_file("/ws/new", data, chunk_size=4)

    header, chunks = _sent(fake)
    assert header.path == "/ws/new"
    assert b"".join(chunks) == b"0123456789"
    assert all(0 < len(c) <= 4 for c in chunks)
    assert result == fsgate.WriteResult(info=fsgate.FileInfo(
        path="/ws/new", type=FileType.REGULAR, size=10, mode=0o644, modified_time=MTIME,
        version="v10"), bytes_written=10)
    assert fake.files["/ws/new"] == b"0123456789"


def test_write_file_reads_a_file_object_chunk_by_chunk(fake: FakeFileSystem,
                                                       client: Client) -> None:
    reads: list[int] = []

    class Source(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    client.write_file("/ws/new", Source(b"x" * 10), chunk_size=4)

    assert reads and all(size == 4 for size in reads)


def test_write_file_header_carries_the_options(fake: FakeFileSystem, client: Client) -> None:
    client.write_file("/ws/new", b"", mode=WriteMode.CREATE_NEW, create_parents=True,
                      if_version="v3", file_mode=0o600)

    header, chunks = _sent(fake)
    assert header.mode == fsgate_pb2.WRITE_MODE_CREATE_NEW
    assert header.create_parents is True
    assert header.if_version == "v3"
    assert header.file_mode == 0o600
    assert chunks == []


def test_write_file_defaults_to_replace(fake: FakeFileSystem, client: Client) -> None:
    client.write_file("/ws/new", b"x")
    header, _ = _sent(fake)
    assert header.mode == fsgate_pb2.WRITE_MODE_REPLACE
    assert not header.HasField("sandbox")


def test_write_file_refuses_str(client: Client) -> None:
    with pytest.raises(TypeError, match="not str"):
        client.write_file("/ws/new", "text")  # type: ignore[arg-type]  # the misuse under test


def test_write_file_refuses_a_text_file(client: Client) -> None:
    with pytest.raises(TypeError, match="binary mode"):
        client.write_file("/ws/new", io.StringIO("text"))  # type: ignore[arg-type]  # misuse


def test_a_failing_data_source_cancels_the_write_and_raises_its_error(
    fake: FakeFileSystem, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    fake.commit_grace = 1.0
    def source() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire") as info:
        client.write_file("/ws/a.txt", source(), chunk_size=4)

    assert not isinstance(info.value, fsgate.FsgateError)
    assert fake.files["/ws/a.txt"] == b"hello, world"  # never committed
    assert [r for r in caplog.records if r.name.startswith("grpc")] == []


def test_write_file_rejects_an_oversized_chunk_size(client: Client) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        client.write_file("/ws/new", b"x", chunk_size=8 * 1024 * 1024)


def test_write_error_maps_to_the_tree(fake: FakeFileSystem, client: Client) -> None:
    fake.fail_next = status_with_reason(grpc.StatusCode.ABORTED, "stale", "VERSION_MISMATCH",
                                        metadata={"path": "/ws/a.txt"})
    with pytest.raises(fsgate.VersionMismatch) as info:
        client.write_file("/ws/a.txt", b"new", if_version="old")

    assert info.value.code is grpc.StatusCode.ABORTED
    assert info.value.path == "/ws/a.txt"


# --- ListDir --------------------------------------------------------------------------------
def _entry(name: str, raw: bytes = b"") -> fsgate_pb2.DirEntry:
    return fsgate_pb2.DirEntry(name=name, raw_name=raw, info=file_info(f"/ws/{name}"))


def test_list_dir_follows_page_tokens(fake: FakeFileSystem, client: Client) -> None:
    fake.entries = [_entry(n) for n in "abcde"]

    entries = list(client.list_dir("/ws", depth=2, page_size=2))

    assert [e.name for e in entries] == ["a", "b", "c", "d", "e"]
    requests = [c.request for c in fake.calls("ListDir")]
    assert [r.page_token for r in requests] == ["", "2", "4"]
    assert {(r.depth, r.page_size) for r in requests} == {(2, 2)}


def test_list_dir_page_returns_one_page_and_the_next_token(fake: FakeFileSystem,
                                                           client: Client) -> None:
    fake.entries = [_entry(n) for n in "abc"]

    first, token = client.list_dir_page("/ws", page_size=2)
    last, end = client.list_dir_page("/ws", page_size=2, page_token=token)

    assert ([e.name for e in first], token) == (["a", "b"], "2")
    assert ([e.name for e in last], end) == (["c"], "")


def test_dir_entry_raw_name_is_none_unless_set(fake: FakeFileSystem, client: Client) -> None:
    fake.entries = [_entry("plain"), _entry("bad\ufffd", raw=b"bad\xff")]

    plain, bad = client.list_dir("/ws")

    assert plain.raw_name is None
    assert bad.raw_name == b"bad\xff"
    assert plain.info.path == "/ws/plain"


def test_list_dir_stops_on_a_cycling_page_token() -> None:
    class Cycling(FakeFileSystem):
        def ListDir(self, request: fsgate_pb2.ListDirRequest,
                    context: grpc.ServicerContext) -> fsgate_pb2.ListDirResponse:
            token = "b" if request.page_token == "a" else "a"
            return fsgate_pb2.ListDirResponse(entries=[_entry("x")], next_page_token=token)

    with (
        serve(Cycling()) as target,
        Client(target) as client,
        pytest.raises(fsgate.FsgateError, match="repeated a page token"),
    ):
        list(client.list_dir("/ws"))


# --- Stat, deadlines, connection --------------------------------------------------------------
def test_stat_returns_file_info_and_passes_follow(fake: FakeFileSystem, client: Client) -> None:
    info = client.stat("/ws", follow_symlinks=True)

    assert info.type is FileType.DIRECTORY
    assert fake.captured[0].request.follow_symlinks is True


def test_client_deadline_raises_deadline_exceeded(fake: FakeFileSystem,
                                                  client: Client) -> None:
    fake.stat_gate = threading.Event()
    with pytest.raises(fsgate.DeadlineExceeded) as info:
        client.stat("/ws/a.txt", timeout=0.2)

    assert isinstance(info.value, TimeoutError)
    assert info.value.reason is None
    assert info.value.path == "/ws/a.txt"


def test_no_server_raises_unavailable_after_the_retries_not_the_deadline(
    tmp_path: pathlib.Path,
) -> None:
    started = time.monotonic()
    with (
        Client(f"unix:{tmp_path}/nobody.sock") as client,
        pytest.raises(fsgate.Unavailable) as info,
    ):
        client.stat("/ws/a.txt", timeout=30)

    # Every retry, never the 30 s deadline: the real policy's backoffs add up to at most
    # 1.5 s (pinned in test_retries.py); here they are fast_retries' milliseconds.
    assert time.monotonic() - started < 10

    assert isinstance(info.value, ConnectionError)
    assert info.value.code is grpc.StatusCode.UNAVAILABLE
    assert info.value.reason is None


def test_a_hanging_connect_fails_after_the_connect_timeout() -> None:
    # A socket that listens but never accepts: the kernel completes the TCP handshake,
    # the HTTP/2 one never finishes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with (
            Client(f"127.0.0.1:{port}", timeouts=Timeouts(connect=0.5)) as client,
            pytest.raises(fsgate.Unavailable),
        ):
            client.stat("/ws/a.txt", timeout=30)


def test_a_closed_client_refuses_calls(target: str) -> None:
    client = Client(target)
    client.close()
    client.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        client.stat("/ws/a.txt")


@pytest.mark.parametrize("reason", list(fsgate.Reason), ids=str)
def test_server_errors_arrive_as_the_mapped_class(fake: FakeFileSystem, client: Client,
                                                  reason: fsgate.Reason) -> None:
    fake.fail_next = status_with_reason(STATUS_CODE[reason], "nope", reason.value,
                                        metadata={"path": "/ws/a.txt"})
    fake.fail_count = RETRY_POLICY["maxAttempts"]  # UNAVAILABLE is retried: fail each try
    with pytest.raises(fsgate.FsgateError) as info:
        client.stat("/ws/a.txt")

    assert info.value.reason is reason
    assert info.value.code is STATUS_CODE[reason]
    assert info.value.message == "nope"
    # Each class is named after its reason: IS_A_DIRECTORY -> IsADirectory.
    assert type(info.value).__name__ == "".join(w.title() for w in reason.value.split("_"))
