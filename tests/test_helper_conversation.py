"""The typed helper conversation without gRPC: HelperClient against a real helper (the
landlock backend's fork server, and the benchmark's in-process helper running the same
helper code), and against a helper that misbehaves on purpose."""
from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server.backends import selection
from fsgate_server.backends.channel import Executor, Helper, HelperCall, begin
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.errors import Failure
from fsgate_server.helper import protocol
from fsgate_server.helper.messages import (
    FileType,
    ListArgs,
    ReadArgs,
    Request,
    StatArgs,
    SweepArgs,
    WriteArgs,
)
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import version_of
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.helper.temps import TEMP_PREFIX
from fsgate_server.policy import EffectivePolicy, Root, effective_policy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox.rlimits import Limits

from .conftest import REPO, backend_skip_reason

sys.path.insert(0, str(REPO))
from bench.inprocess import InProcessExecutor  # bench/ is a top-level package of the repo

DEADLINE = 30.0


@pytest.fixture(scope="module", params=["landlock", "inprocess"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "inprocess":
        yield InProcessExecutor()
        return
    reason = backend_skip_reason("landlock")
    if reason:
        pytest.skip(reason)
    settings = HelperSettings(runtime_roots=runtime_roots(),
                              limits=Limits(address_space_bytes=4 << 30))
    ex = selection.start("landlock", settings, pool_size=2, acquire_timeout=DEADLINE, roots=())
    yield ex
    ex.stop()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def policy(ws: Path) -> EffectivePolicy:
    return effective_policy((Root(str(ws), writable=True),), None)


def client(executor: Executor) -> HelperClient:
    return HelperClient.over(executor, time.monotonic() + DEADLINE)


def alive() -> bool:
    return True


# --- against a real helper ------------------------------------------------------------------

def test_stat_reports_the_files_facts(executor: Executor, ws: Path) -> None:
    f = ws / "f.txt"
    f.write_bytes(b"hello")
    f.chmod(0o640)
    (ws / "link").symlink_to("f.txt")
    info = client(executor).stat(StatArgs(str(f), policy(ws)))
    st = os.stat(f)
    assert (info.path, info.type, info.size, info.mode) == (str(f), FileType.REGULAR, 5, 0o640)
    assert info.mtime_ns == st.st_mtime_ns and info.version == version_of(st)
    link = client(executor).stat(StatArgs(str(ws / "link"), policy(ws)))
    assert link.type is FileType.SYMLINK and link.symlink_target == "f.txt"
    followed = client(executor).stat(StatArgs(str(ws / "link"), policy(ws),
                                              follow_symlinks=True))
    assert followed.type is FileType.REGULAR and followed.version == info.version


def test_a_helpers_refusal_is_its_failure(executor: Executor, ws: Path) -> None:
    with pytest.raises(Failure) as err:
        client(executor).stat(StatArgs(str(ws / "missing"), policy(ws)))
    assert err.value.reason is Reason.NOT_FOUND and err.value.path == str(ws / "missing")


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (1000, 0), (7, 300_000)])
def test_read_returns_the_facts_then_the_range(executor: Executor, ws: Path, offset: int,
                                               length: int) -> None:
    content = os.urandom(600 << 10)  # large enough for the splice path
    (ws / "big").write_bytes(content)
    args = ReadArgs(str(ws / "big"), policy(ws), offset=offset, length=length,
                    chunk_size=64 << 10, max_bytes=1 << 20)
    with client(executor).read(args) as (info, chunks):
        got = list(chunks)
    assert info.size == len(content) and info.type is FileType.REGULAR
    assert all(len(c) <= 64 << 10 for c in got)
    assert b"".join(got) == content[offset:offset + length if length else None]


def test_a_read_left_unfinished_ends_its_helper(executor: Executor, ws: Path) -> None:
    (ws / "big").write_bytes(b"x" * (1 << 20))
    args = ReadArgs(str(ws / "big"), policy(ws), chunk_size=4 << 10, max_bytes=1 << 20)
    with client(executor).read(args) as (_info, chunks):
        assert len(next(chunks)) == 4 << 10
    assert client(executor).stat(StatArgs(str(ws / "big"), policy(ws))).size == 1 << 20


def test_list_pages_through_names_that_are_not_utf8(executor: Executor, ws: Path) -> None:
    names = [b"a", b"b\xff", "\u00e9".encode(), b"d"]
    for raw in names:
        (ws / os.fsdecode(raw)).write_bytes(raw)
    (ws / "sub").mkdir()
    (ws / "sub" / "inner").write_bytes(b"")
    seen: list[str] = []
    after: str | None = None
    while True:
        page = client(executor).list(ListArgs(str(ws), policy(ws), depth=2, page_size=2,
                                              max_entries=100, after=after))
        assert len(page.entries) <= 2
        for e in page.entries:
            assert e.info.path == f"{ws}/{e.name}"
        seen += [e.name for e in page.entries]
        if page.last is None:
            break
        after = page.last
    expected = sorted([*names, b"sub", b"sub/inner"])
    assert [os.fsencode(n) for n in seen] == expected


def test_write_names_the_content_and_reports_it(executor: Executor, ws: Path) -> None:
    target = ws / "deep" / "out.bin"
    chunks = [os.urandom(300 << 10), b"", b"tail"]
    done = client(executor).write(
        WriteArgs(str(target), policy(ws), create_parents=True, file_mode=0o600,
                  max_bytes=1 << 20), iter(chunks), alive)
    assert target.read_bytes() == b"".join(chunks)
    assert done.bytes_written == sum(map(len, chunks))
    st = os.stat(target)
    assert done.info.version == version_of(st) and stat.S_IMODE(st.st_mode) == 0o600
    with pytest.raises(Failure) as err:
        client(executor).write(WriteArgs(str(target), policy(ws), create_new=True,
                                         max_bytes=10), iter([b"x"]), alive)
    assert err.value.reason is Reason.ALREADY_EXISTS


def leftovers(ws: Path) -> list[str]:
    return sorted(n for n in os.listdir(ws) if n.startswith(TEMP_PREFIX))


@pytest.mark.parametrize("dies_at", [1, 2])  # after the last chunk / once prepared
def test_a_write_whose_call_died_leaves_nothing(executor: Executor, ws: Path,
                                                dies_at: int) -> None:
    (ws / "keep").write_bytes(b"before")
    asked: list[int] = []

    def still_alive() -> bool:
        asked.append(1)
        return len(asked) < dies_at

    for name in ("keep", "new"):
        asked.clear()
        with pytest.raises(Failure) as err:
            client(executor).write(WriteArgs(str(ws / name), policy(ws), max_bytes=1 << 20),
                                   iter([b"after"]), still_alive)
        assert err.value.reason is Reason.DEADLINE_EXCEEDED and len(asked) == dies_at
    assert (ws / "keep").read_bytes() == b"before"
    assert not (ws / "new").exists() and leftovers(ws) == []


def test_a_still_alive_that_raises_says_why(executor: Executor, ws: Path) -> None:
    def shutting_down() -> bool:
        raise Failure(Reason.SHUTTING_DOWN, "the server shut down", str(ws / "f"))

    with pytest.raises(Failure) as err:
        client(executor).write(WriteArgs(str(ws / "f"), policy(ws), max_bytes=10),
                               iter([b"x"]), shutting_down)
    assert err.value.reason is Reason.SHUTTING_DOWN and not (ws / "f").exists()


def test_a_write_whose_content_fails_midway_leaves_nothing(executor: Executor,
                                                           ws: Path) -> None:
    def content() -> Iterator[bytes]:
        yield b"x" * 1000
        raise Failure(Reason.TOO_LARGE, "too much", str(ws / "f"))

    with pytest.raises(Failure) as err:
        client(executor).write(WriteArgs(str(ws / "f"), policy(ws), max_bytes=1 << 20),
                               content(), alive)
    assert err.value.reason is Reason.TOO_LARGE
    assert os.listdir(ws) == []


def test_the_helper_enforces_max_bytes(executor: Executor, ws: Path) -> None:
    with pytest.raises(Failure) as err:
        client(executor).write(WriteArgs(str(ws / "f"), policy(ws), max_bytes=4),
                               iter([b"12", b"345"]), alive)
    assert err.value.reason is Reason.TOO_LARGE and os.listdir(ws) == []


def test_sweep_reports_what_it_scanned(executor: Executor, ws: Path) -> None:
    (ws / "a").mkdir()
    (ws / "a" / f"{TEMP_PREFIX}0123456789abcdef").write_bytes(b"not ours: no mark")
    roots = (str(ws),)
    done = client(executor).sweep(SweepArgs("/", EffectivePolicy(roots, roots, ()),
                                            max_entries=100))
    assert done.scanned == 2 and done.removed == 0
    assert (ws / "a" / f"{TEMP_PREFIX}0123456789abcdef").exists()


# --- against a helper that misbehaves ---------------------------------------------------------

def fake_helper(answer: Callable[[socket.socket], None]) -> HelperClient:
    """A client whose helper is a thread: it reads the REQUEST, then runs answer."""

    def session(req: Request) -> closing[HelperCall]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def run() -> None:
            with theirs:
                protocol.recv(theirs)
                answer(theirs)

        threading.Thread(target=run, daemon=True).start()
        return closing(begin(Helper(os.getpid(), ours, None), req, time.monotonic() + 10))

    return HelperClient(session)


def frames(*sent: tuple[Kind, bytes]) -> Callable[[socket.socket], None]:
    def answer(sock: socket.socket) -> None:
        for kind, payload in sent:
            protocol.send(sock, kind, payload)

    return answer


GOOD_FACTS = (b'{"path":"/ws/f","type":1,"size":1,"mode":420,"mtime_ns":0,'
              b'"version":"v","symlink_target":""}')
MISBEHAVIOURS = {
    "malformed result": frames((Kind.RESULT, b'{"path":1}')),
    "not JSON": frames((Kind.RESULT, b"\xff{")),
    "negative size": frames((Kind.RESULT, GOOD_FACTS.replace(b'"size":1', b'"size":-1'))),
    "unknown type": frames((Kind.RESULT, GOOD_FACTS.replace(b'"type":1', b'"type":9'))),
    "malformed error": frames((Kind.ERROR, b'{"reason":"NOT_FOUND"}')),
    "unknown reason": frames((Kind.ERROR, b'{"reason":"NOPE","message":"m"}')),
    "error not JSON": frames((Kind.ERROR, b"[")),
    "out of turn": frames((Kind.DATA, b"x")),
    "hangs up": frames(),
}


@pytest.mark.parametrize("name", sorted(MISBEHAVIOURS))
def test_a_misbehaving_helper_is_helper_failed_never_a_crash(name: str) -> None:
    args = StatArgs("/ws/f", EffectivePolicy(("/ws",), (), ()))
    with pytest.raises(Failure) as err:
        fake_helper(MISBEHAVIOURS[name]).stat(args)
    assert err.value.reason is Reason.HELPER_FAILED and err.value.path == "/ws/f"


def test_a_read_whose_helper_sends_a_control_frame_midstream_fails() -> None:
    args = ReadArgs("/ws/f", EffectivePolicy(("/ws",), (), ()), chunk_size=4, max_bytes=9)
    helper = fake_helper(frames((Kind.RESULT, GOOD_FACTS), (Kind.DATA, b"ab"),
                                (Kind.RESULT, GOOD_FACTS)))
    with pytest.raises(Failure) as err, helper.read(args) as (_info, chunks):
        assert next(chunks) == b"ab"
        next(chunks)
    assert err.value.reason is Reason.HELPER_FAILED


def test_a_write_is_not_committed_when_the_helper_skips_a_step() -> None:
    # READY, then RESULT where the prepared READY belongs: the client never says COMMIT.
    got: list[Kind] = []
    hung_up = threading.Event()

    def answer(sock: socket.socket) -> None:
        protocol.send(sock, Kind.READY)
        try:
            while True:
                kind = protocol.recv(sock)[0]
                got.append(kind)
                if kind is Kind.END:
                    protocol.send(sock, Kind.RESULT,
                                  b'{"info":' + GOOD_FACTS + b',"bytes_written":1}')
        except (protocol.ProtocolError, OSError):
            hung_up.set()

    args = WriteArgs("/ws/f", EffectivePolicy(("/ws",), ("/ws",), ()), max_bytes=9)
    with pytest.raises(Failure) as err:
        fake_helper(answer).write(args, iter([b"x"]), alive)
    assert err.value.reason is Reason.HELPER_FAILED
    assert hung_up.wait(10) and got == [Kind.DATA, Kind.END]
