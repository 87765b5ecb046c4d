"""Variants of issue 10 items 11-14: non-UTF-8 names and targets everywhere, pages bounded
and exact, depth and fd bounds, and 4,000-byte paths (request, policy entries, cwd) in
every error. Real servers of each backend."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy, WriteMode

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

# --- item 11 variants: non-UTF-8 names and targets at depth ------------------------------

RAW_DIR = b"d\xff\xfe"
RAW_FILE = b"f\x80\xc3(" + b"\xed\xa0\x80"  # invalid continuation + an encoded surrogate
RAW_TARGET = b"../t\xe9\xff/\xc0\xaf"


def _raw_tree(ws: Path) -> set[bytes]:
    """A tree whose names and link targets are not UTF-8 at every level; its relative
    paths as raw bytes."""
    base = os.fsencode(ws)
    rels = set()
    cur = b""
    for level in range(3):
        cur = (cur + b"/" if cur else b"") + RAW_DIR + str(level).encode()
        os.mkdir(base + b"/" + cur)
        rels.add(cur)
        os.symlink(RAW_TARGET, base + b"/" + cur + b"/" + b"l\xff")
        rels.add(cur + b"/l\xff")
        with open(base + b"/" + cur + b"/" + RAW_FILE, "wb") as f:
            f.write(b"x" * level)
        rels.add(cur + b"/" + RAW_FILE)
        with open(base + b"/" + cur + b"/plain.txt", "wb") as f:
            f.write(b"p")
        rels.add(cur + b"/plain.txt")
    return rels


def _raw(e: fsgate.DirEntry) -> bytes:
    return e.raw_name if e.raw_name is not None else e.name.encode()


def test_deep_listing_of_non_utf8_names_and_targets_gives_exact_bytes(client: Client,
                                                                      ws: Path) -> None:
    rels = _raw_tree(ws)
    entries = list(client.list_dir(str(ws), depth=4))
    assert [_raw(e) for e in entries] == sorted(rels)
    for e in entries:
        if e.info.type is fsgate.FileType.SYMLINK:
            assert e.info.raw_symlink_target == RAW_TARGET
            assert "\ufffd" in (e.info.symlink_target or "")
        elif _raw(e).endswith(RAW_FILE):
            assert e.info.size == _raw(e).count(RAW_DIR)-1


def test_non_utf8_tree_pages_one_entry_at_a_time_exactly(client: Client, ws: Path) -> None:
    """Page tokens carry raw names: a page boundary on a non-UTF-8 name neither repeats
    nor skips."""
    rels = _raw_tree(ws)
    got: list[bytes] = []
    token = ""
    pages = 0
    while True:
        page, token = client.list_dir_page(str(ws), depth=4, page_size=1, page_token=token)
        got += [_raw(e) for e in page]
        pages += 1
        if not token:
            break
    assert got == sorted(rels)
    assert pages >= len(rels)


def test_a_path_below_a_non_utf8_parent_cannot_be_spelled_and_reveals_nothing(
        client: Client, ws: Path) -> None:
    """A request path is UTF-8: a client cannot name a file under a non-UTF-8 directory
    (only list it). Its lossy spelling is simply another (missing) name."""
    _raw_tree(ws)
    lossy = str(ws / (RAW_DIR + b"0").decode("utf-8", "replace") / "plain.txt")
    with pytest.raises(fsgate.NotFound) as err:
        client.stat(lossy)
    assert err.value.reason == "NOT_FOUND"
    surrogate = str(ws) + "/" + os.fsdecode(RAW_DIR + b"0") + "/plain.txt"
    with pytest.raises((fsgate.InvalidPath, UnicodeEncodeError)):
        client.stat(surrogate)


# --- item 12 variants: pages -------------------------------------------------------------

def _mixed_tree(ws: Path) -> list[bytes]:
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    rels: list[bytes] = []
    try:
        for top in range(3):
            d = f"{top}-" + "\u00e9" * 120  # 244 bytes
            os.mkdir(d, dir_fd=fd)
            rels.append(d.encode())
            sub = os.open(d, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            try:
                for i in range(40):
                    name = (f"{i:03d}" + ("\u20ac" * 80 if i % 3 else "a")).encode()
                    if i % 7 == 0:
                        name = b"\xff" + name[:200]
                    os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=sub))
                    rels.append(d.encode() + b"/" + name)
            finally:
                os.close(sub)
    finally:
        os.close(fd)
    return sorted(rels)


def _all_pages(c: Client, path: str, depth: int, page_size: int,
               between: Callable[[int], None] | None = None) -> list[bytes]:
    got: list[bytes] = []
    token = ""
    n = 0
    while True:
        page, token = c.list_dir_page(path, depth=depth, page_size=page_size, page_token=token)
        got += [_raw(e) for e in page]
        n += 1
        if not token:
            return got
        if between is not None:
            between(n)


@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_mixed_huge_names_at_depth_page_exactly_like_one_listing(
        client: Client, ws: Path, page_size: int) -> None:
    rels = _mixed_tree(ws)
    assert [_raw(e) for e in client.list_dir(str(ws), depth=2)] == rels
    assert _all_pages(client, str(ws), 2, page_size) == rels


def test_directory_changing_between_pages_never_repeats_nor_skips_unchanged_entries(
        client: Client, ws: Path) -> None:
    for i in range(0, 60, 2):
        (ws / f"e{i:03d}").write_text("x")
    stable = {f"e{i:03d}".encode() for i in range(0, 60, 2)}
    removable = {b"e010", b"e040"}

    def churn(n: int) -> None:  # entries appear and vanish before and after the cursor
        (ws / f"e{(n * 7) % 60:03d}x").write_text("new")
        (ws / f"a-new-{n}").write_text("before every cursor")
        for r in removable:
            (ws / r.decode()).unlink(missing_ok=True)

    got = _all_pages(client, str(ws), 1, 3, churn)
    assert got == sorted(got) and len(got) == len(set(got))  # strictly increasing
    assert stable - removable <= set(got)


def test_forged_cursor_to_a_non_utf8_name_stays_inside_the_listing(
        client: Client, ws: Path) -> None:
    """A token from one listing cannot be replayed against another path or depth."""
    rels = _raw_tree(ws)
    _, token = client.list_dir_page(str(ws), depth=4, page_size=2)
    assert token and len(rels) > 2
    for path, depth in ((str(ws), 3), (str(ws.parent), 4)):
        with pytest.raises(fsgate.InvalidRequest) as err:
            client.list_dir_page(path, depth=depth, page_size=2, page_token=token)
        assert err.value.reason == "INVALID_REQUEST"


# --- item 13 variants: depth and descriptor bounds ---------------------------------------

def test_wide_tree_exactly_at_the_depth_cap_and_a_deeper_one(tmp_path: Path,
                                                             backend: str) -> None:
    root = tmp_path / "root"
    deep = root
    expected = 0
    for level in range(20):  # deeper than the cap of 12
        deep = deep / f"l{level:02d}"
        deep.mkdir(parents=True)
        if level < 12:
            expected += 1
        for w in range(30):  # wide: siblings with content at every level
            side = deep.parent / f"s{level:02d}-{w:02d}"
            side.mkdir()
            (side / "f").write_text("x")
            if level < 12:
                expected += 1 + (level < 11)
    run = tmp_path / "run"
    run.mkdir()
    server = start_server(run, [str(root)], backend, "--max-list-depth", "12")
    try:
        with Client(server.target) as c:
            entries = list(c.list_dir(str(root), depth=12))
            assert len(entries) == expected
            assert max(e.name.count("/") for e in entries) == 11
            for page_size in (1000, 13):
                names = _all_pages(c, str(root), 12, page_size)
                assert names == [_raw(e) for e in entries]
            with pytest.raises(fsgate.InvalidRequest) as err:
                list(c.list_dir(str(root), depth=13))
            assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.reason == "INVALID_REQUEST"
    finally:
        server.stop()


# --- item 14 variants: 4,000-byte paths in every error -----------------------------------

def _deep_dir(ws: Path, total: int = 3700) -> Path:
    """A real directory whose path is about ``total`` bytes (components of 250)."""
    path = ws
    while len(str(path).encode()) < total - 251:
        path = path / ("\u00e9" * 125)
    path.mkdir(parents=True)
    return path


def _fits(exc: fsgate.FsgateError) -> None:
    assert len(exc.message.encode()) <= 1024, len(exc.message.encode())
    assert all(len(v.encode()) <= 512 for v in exc.metadata.values())


def _expect(call: Callable[[], object], cls: type[fsgate.FsgateError], reason: str) -> None:
    with pytest.raises(cls) as err:
        r = call()
        if not isinstance(r, (bytes, fsgate.FileInfo)):
            list(r)  # type: ignore[call-overload]  # a stream: ReadFile or a listing
    assert err.value.reason == reason, repr(err.value)
    _fits(err.value)


def test_every_helper_error_about_a_4000_byte_path_fits_the_metadata_limit(
        client: Client, served: ServerProcess, ws: Path) -> None:
    deep = _deep_dir(ws)
    (deep / "f").write_text("x")
    (deep / "d").mkdir()
    (deep / "out").symlink_to(served.root.parent / "outside" / "secret.txt")
    (deep / "loop").symlink_to("loop")
    os.mkfifo(deep / "p")
    assert len(str(deep / "out").encode()) > 3600
    before = snapshot(ws)
    c = client
    _expect(lambda: c.read_file(str(deep / "out")), fsgate.SandboxDenied, "SANDBOX_DENIED")
    _expect(lambda: c.stat(str(deep / "out"), follow_symlinks=True), fsgate.SandboxDenied,
            "SANDBOX_DENIED")
    _expect(lambda: c.list_dir(str(deep / "out")), fsgate.SandboxDenied, "SANDBOX_DENIED")
    _expect(lambda: c.write_file(str(deep / "out"), b"x"), fsgate.SandboxDenied,
            "SANDBOX_DENIED")
    _expect(lambda: c.read_file(str(deep / "loop")), fsgate.SymlinkLoop, "SYMLINK_LOOP")
    _expect(lambda: c.write_file(str(deep / "loop"), b"x"), fsgate.SymlinkLoop, "SYMLINK_LOOP")
    _expect(lambda: c.read_file(str(deep / "d")), fsgate.IsADirectory, "IS_A_DIRECTORY")
    _expect(lambda: c.write_file(str(deep / "d"), b"x"), fsgate.IsADirectory, "IS_A_DIRECTORY")
    _expect(lambda: c.list_dir(str(deep / "f")), fsgate.NotADirectory, "NOT_A_DIRECTORY")
    _expect(lambda: c.stat(str(deep / "f" / "x")), fsgate.NotADirectory, "NOT_A_DIRECTORY")
    _expect(lambda: c.read_file(str(deep / "p")), fsgate.NotRegularFile, "NOT_REGULAR_FILE")
    _expect(lambda: c.write_file(str(deep / "f"), b"x", mode=WriteMode.CREATE_NEW),
            fsgate.AlreadyExists, "ALREADY_EXISTS")
    _expect(lambda: c.write_file(str(deep / "f"), b"x", if_version="nope"),
            fsgate.VersionMismatch, "VERSION_MISMATCH")
    _expect(lambda: c.write_file(str(deep / "f"), b"x" * 100, file_mode=0o4755),
            fsgate.InvalidRequest, "INVALID_REQUEST")
    _expect(lambda: c.read_file(str(deep / "f"), chunk_size=1), fsgate.InvalidRequest,
            "INVALID_REQUEST")
    _expect(lambda: c.list_dir_page(str(deep), page_token="forged"), fsgate.InvalidRequest,
            "INVALID_REQUEST")
    assert snapshot(ws) == before


def test_4000_byte_policy_entries_and_cwd_fit_every_error(served: ServerProcess,
                                                          ws: Path) -> None:
    deep = _deep_dir(ws, 3900)
    (deep / "f").write_text("x")
    long_cwd = str(deep)
    # 1,000 readable roots of ~4,000 bytes each (one of them real), then denied ones
    many = [long_cwd + f"/r{i:04d}" for i in range(999)] + [long_cwd]
    policies = {
        "readable": Policy(readable_roots=many),
        "denied": Policy(readable_roots=[str(ws)],
                         denied_paths=[long_cwd + f"/x{i:04d}" for i in range(1000)]),
        "cwd": Policy(readable_roots=["."], cwd=long_cwd),
    }
    for name, policy in policies.items():
        with Client(served.target, policy=policy) as c:
            rel = "missing" if name == "cwd" else long_cwd + "/missing"
            # Each call runs at once, inside this iteration: binding rel late is intended.
            for call in (lambda: c.stat(rel), lambda: c.read_file(rel),  # noqa: B023
                         lambda: list(c.list_dir(rel))):  # noqa: B023
                with pytest.raises(fsgate.NotFound) as err:
                    call()
                assert err.value.reason == "NOT_FOUND", name
                _fits(err.value)
            with pytest.raises(fsgate.OutsidePolicy) as err2:  # nothing writable
                c.write_file(rel, b"x")
            assert err2.value.reason == "OUTSIDE_POLICY"
            _fits(err2.value)
    # a relative path that is too long only once joined onto the 4,000-byte cwd
    with Client(served.target, policy=policies["cwd"]) as c:
        with pytest.raises(fsgate.InvalidPath) as err3:
            c.stat("z" * 250 + "/" + "y" * 250)
        assert err3.value.reason == "INVALID_PATH"
        _fits(err3.value)
    # an invalid 1,000th entry: the error names the field, not 4 MB of entries
    bad = Policy(readable_roots=[*many[:999], "bad\x00entry"])
    with Client(served.target, policy=bad) as c, pytest.raises(fsgate.InvalidPolicy) as err4:
        c.stat(str(deep / "f"))
    assert err4.value.reason == "INVALID_POLICY"
    _fits(err4.value)
