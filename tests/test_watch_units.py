"""The pure parts of WatchDir, without a server: glob selection (helper/watch_filter.py),
coalescing (helper/coalesce.py) and the server's bounded buffer (transport/watch_stream.py).
"""
from __future__ import annotations

import threading

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import Failure
from fsgate_server.helper.coalesce import WINDOW, Throttle
from fsgate_server.helper.messages import EventType, WatchBatch, WatchEvent
from fsgate_server.helper.watch_filter import MAX_GLOBS, Glob, Selection, compile_globs
from fsgate_server.policy import EffectivePolicy
from fsgate_server.transport.watch_stream import EventBuffer, Overflow


@pytest.mark.parametrize(("glob", "rel", "is_dir", "matches"), [
    ("*.py", "a.py", False, True),
    ("*.py", "src/deep/a.py", False, True),  # no slash: any depth
    ("*.py", "a.pyc", False, False),
    ("src/*.c", "src/a.c", False, True),  # a slash: anchored
    ("src/*.c", "lib/src/a.c", False, False),
    ("src/*.c", "src/sub/a.c", False, False),  # * stays in one component
    ("/build", "build/out.o", False, True),  # a directory covers what is below it
    ("/build", "sub/build", True, False),
    ("build", "sub/build/x", False, True),
    ("build/", "build", False, False),  # a trailing slash: directories only
    ("build/", "build", True, True),
    ("build/", "build/file", False, True),
    ("**/test", "test", True, True),
    ("**/test", "a/b/test", True, True),
    ("a/**/b", "a/b", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("src/**", "src/a/b.c", False, True),
    ("src/**", "src", True, False),
    ("?.txt", "a.txt", False, True),
    ("?.txt", "ab.txt", False, False),
    ("[ab].txt", "b.txt", False, True),
    ("[!ab].txt", "c.txt", False, True),
    ("[!ab].txt", "a.txt", False, False),
    (r"\*.txt", "*.txt", False, True),
    (r"\*.txt", "x.txt", False, False),
    ("a.b", "axb", False, False),  # regex characters are literal
])
def test_globs_are_gitignore_style(glob: str, rel: str, is_dir: bool, matches: bool) -> None:
    assert Glob(glob).matches(rel, is_dir) is matches


@pytest.mark.parametrize("bad", ["", "/", "[abc", "a\0b", "x" * 5000])
def test_a_bad_glob_is_invalid_pattern(bad: str) -> None:
    with pytest.raises(Failure) as err:
        compile_globs([bad], "include_globs")
    assert err.value.reason is Reason.INVALID_PATTERN


def test_too_many_globs_are_an_invalid_request() -> None:
    with pytest.raises(Failure) as err:
        compile_globs(["*"] * (MAX_GLOBS + 1), "exclude_globs")
    assert err.value.reason is Reason.INVALID_REQUEST


def test_selection_never_reports_a_denied_path_under_either_name() -> None:
    policy = EffectivePolicy(readable=("/ws", "/real"), writable=(),
                             denied=("/ws/w/secret", "/real/w/Private"))
    sel = Selection(policy, "/real/w", "/ws/w", include=[], exclude=["*.tmp"])
    assert sel.reported("a.txt", False)
    assert not sel.reported("secret", True)
    assert not sel.reported("secret/x", False)
    assert not sel.reported("PRIVATE/x", False)  # denied paths match case-insensitively
    assert not sel.watchable("private")
    assert not sel.reported("a.tmp", False)
    assert sel.watchable("dir.tmp/sub") is False  # an excluded directory is not watched


def test_includes_select_reports_but_do_not_prune_watching() -> None:
    policy = EffectivePolicy(readable=("/ws",), writable=(), denied=())
    sel = Selection(policy, "/ws", "/ws", include=["*.py"], exclude=[])
    assert sel.reported("src/a.py", False) and not sel.reported("src/a.c", False)
    assert sel.watchable("src")
    assert not sel.reported("", True)  # the watched directory itself: not with includes


def ev(kind: EventType, path: str, old: str = "") -> WatchEvent:
    return WatchEvent(kind, path, old)


def test_modifications_are_sent_first_then_once_per_window() -> None:
    t = Throttle()
    now = 100.0
    first = t.offer(ev(EventType.MODIFIED, "/f"), now)
    assert first == ev(EventType.MODIFIED, "/f")  # at once: no latency for the first
    for i in range(1, 100):
        assert t.offer(ev(EventType.MODIFIED, "/f"), now + i * WINDOW / 200) is None
    assert t.due(now + WINDOW / 2) == []
    assert t.next_due() == pytest.approx(now + WINDOW)
    assert t.due(now + WINDOW) == [ev(EventType.MODIFIED, "/f")]  # the trailing one
    assert t.next_due() is None
    assert t.offer(ev(EventType.MODIFIED, "/g"), now) is not None  # per file


def test_a_created_file_opens_the_window_and_a_delete_drops_what_was_held() -> None:
    t = Throttle()
    assert t.offer(ev(EventType.CREATED, "/f"), 1.0) is not None
    assert t.offer(ev(EventType.MODIFIED, "/f"), 1.001) is None  # its first write: held
    assert t.offer(ev(EventType.DELETED, "/f"), 1.002) is not None
    assert t.due(2.0) == []


def test_a_move_carries_what_was_held_to_the_new_path() -> None:
    t = Throttle()
    t.offer(ev(EventType.MODIFIED, "/a"), 1.0)
    assert t.offer(ev(EventType.MODIFIED, "/a"), 1.01) is None
    t.offer(ev(EventType.MOVED, "/b", "/a"), 1.02)
    assert t.due(2.0) == [ev(EventType.MODIFIED, "/b")]


def test_the_throttle_forgets_old_windows_whatever_is_created() -> None:
    t = Throttle()
    for i in range(100_000):
        t.offer(ev(EventType.CREATED, f"/f{i}"), i * 1.0)  # a second apart: all stale
    assert len(t._last) < 10_000


def test_the_buffer_drops_past_its_bound_and_marks_where() -> None:
    buf = EventBuffer(capacity=3)
    stop = threading.Event()
    buf.put(WatchBatch(tuple(ev(EventType.CREATED, f"/f{i}") for i in range(5))))
    buf.put(WatchBatch((), overflow=True))  # the kernel's, right after: one mark
    got = [buf.get(0, stop=stop) for _ in range(4)]
    assert got == [ev(EventType.CREATED, "/f0"), ev(EventType.CREATED, "/f1"),
                   ev(EventType.CREATED, "/f2"), Overflow(2)]
    buf.put(WatchBatch((ev(EventType.DELETED, "/f0"),)))  # room again
    assert buf.get(0, stop=stop) == ev(EventType.DELETED, "/f0")
    assert buf.get(0, stop=stop) is None


def test_the_buffer_is_bounded_by_bytes_too() -> None:
    buf = EventBuffer(capacity=1000, capacity_bytes=10_000)
    long = "/" + "x" * 4000
    buf.put(WatchBatch(tuple(ev(EventType.CREATED, long + str(i)) for i in range(10))))
    assert len(buf) == 2


def test_the_buffer_ends_with_the_failure_after_what_is_queued() -> None:
    buf = EventBuffer()
    stop = threading.Event()
    buf.put(WatchBatch((ev(EventType.CREATED, "/a"),)))
    buf.finish(Failure(Reason.TOO_LARGE, "too many"))
    assert buf.get(0, stop=stop) == ev(EventType.CREATED, "/a")
    with pytest.raises(Failure) as err:
        buf.get(0, stop=stop)
    assert err.value.reason is Reason.TOO_LARGE
