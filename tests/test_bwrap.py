"""The bwrap backend's command line: what the helper's namespace holds, and what it never does.

These build the command without running it (except the probe tests at the end); the
integration suite runs the real thing on every backend.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import fsgate_server  # noqa: F401
except ImportError:  # not installed: run from the source tree
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_ROOT / "service"), str(_ROOT / "client")]

from fsgate_server.backends import BackendUnavailable
from fsgate_server.backends import selection as backends
from fsgate_server.backends.bwrap.backend import BwrapExecutor
from fsgate_server.backends.bwrap.launch import Command, check_bwrap_location
from fsgate_server.backends.bwrap.plan import NAMESPACE_FLAGS
from fsgate_server.helper.messages import ReadArgs, Request, StatArgs, WriteArgs
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.policy import EffectivePolicy, Root
from fsgate_server.sandbox.rlimits import Limits

CHANNEL_FD = 99
SECRET = "s3cr3t-token-value"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """Two runtime roots, a served workspace with a subdirectory, a file and a denied
    directory, and a directory outside everything."""
    for d in ("rt/bin", "rt/lib", "ws/sub", "ws/denied", "outside"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "ws" / "file.txt").write_text("x")
    (tmp_path / "ws" / "secret.txt").write_text("no")
    (tmp_path / "outside" / "secret.txt").write_text("top secret")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "bwrap").write_text("")
    return tmp_path


def make_executor(base: Path, *, environ: dict[str, str] | None = None,
                  runtime: tuple[str, ...] | None = None,
                  leave_out: tuple[str, ...] = ()) -> BwrapExecutor:
    settings = HelperSettings(
        runtime_roots=runtime or (str(base / "rt/bin"), str(base / "rt/lib")),
        limits=Limits(), landlock=True)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "FSGATE_TOKEN": SECRET,
           "AWS_SECRET_ACCESS_KEY": SECRET, "PYTHONPATH": "/evil", "LD_PRELOAD": "/evil.so"}
    env.update(environ or {})
    return BwrapExecutor(settings, roots=[Root(str(base / "ws"), writable=True)],
                         bwrap=str(base / "bin" / "bwrap"), environ=env, startup_files=(),
                         import_path=(str(base / "rt/lib"),),
                         leave_out_runtime_roots=leave_out)


@pytest.fixture
def executor(layout: Path) -> Iterator[BwrapExecutor]:
    ex = make_executor(layout)
    yield ex
    ex.stop()


def request(base: Path, op: str = "stat", *, denied: tuple[str, ...] = (),
            readable: tuple[str, ...] | None = None,
            writable: tuple[str, ...] | None = None) -> Request:
    ws = str(base / "ws")
    policy = EffectivePolicy(readable=readable or (ws,),
                             writable=(ws,) if writable is None else writable, denied=denied)
    path = ws + "/file.txt"
    if op == "write":
        return WriteArgs(path, policy, max_bytes=1 << 20)
    if op == "read":
        return ReadArgs(path, policy, chunk_size=1 << 16, max_bytes=1 << 20)
    assert op == "stat", op
    return StatArgs(path, policy)


def build(executor: BwrapExecutor, req: Request) -> Command:
    return executor.command(req, CHANNEL_FD)


def options(argv: list[str]) -> list[str]:
    """bwrap's own options: everything before ``--``."""
    return argv[: argv.index("--")]


def mounts(cmd: Command) -> list[tuple[str, ...]]:
    """The mount operations in order, each as (option, *operands)."""
    arity = {"--ro-bind-fd": 2, "--bind-fd": 2, "--ro-bind": 2, "--bind": 2, "--tmpfs": 1,
             "--proc": 1, "--dev": 1, "--symlink": 2, "--remount-ro": 1}
    opts, out, i = options(cmd.argv), [], 0
    while i < len(opts):
        n = arity.get(opts[i])
        if n is None:
            i += 1
            continue
        out.append(tuple(opts[i : i + n + 1]))
        i += n + 1
    return out


def fd_target(fd: str) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def by_target(cmd: Command) -> list[str]:
    """bwrap's options with every bound descriptor replaced by what it refers to."""
    opts = options(cmd.argv)
    return [fd_target(a) if i and opts[i - 1] in ("--ro-bind-fd", "--bind-fd") else a
            for i, a in enumerate(opts)]


def test_namespace_starts_from_an_empty_tmpfs_root(executor: BwrapExecutor, layout: Path
                                                   ) -> None:
    cmd = build(executor, request(layout))
    try:
        assert mounts(cmd)[0] == ("--tmpfs", "/")
    finally:
        cmd.close()


def test_namespaces_session_and_parent_death_are_always_requested(
        executor: BwrapExecutor, layout: Path) -> None:
    cmd = build(executor, request(layout))
    try:
        opts = options(cmd.argv)
        for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
                     "--clearenv"):
            assert flag in opts
        assert "--share-net" not in opts
        assert opts[opts.index("--cap-drop") + 1] == "ALL"
        assert tuple(opts[1 : 1 + len(NAMESPACE_FLAGS)]) == NAMESPACE_FLAGS
        assert opts[opts.index("--chdir") + 1] == "/"
        assert ("--proc", "/proc") in mounts(cmd) and ("--dev", "/dev") in mounts(cmd)
    finally:
        cmd.close()


def test_every_runtime_root_is_bound_read_only_by_a_pinned_descriptor(
        executor: BwrapExecutor, layout: Path) -> None:
    cmd = build(executor, request(layout))
    try:
        ro = {m[2]: m[1] for m in mounts(cmd) if m[0] == "--ro-bind-fd"}
        for root in ("rt/bin", "rt/lib"):
            dest = str(layout / root)
            assert dest in ro
            assert fd_target(ro[dest]) == dest
            assert int(ro[dest]) in cmd.pass_fds
        assert not any(m[0] == "--bind-fd" and "rt" in m[2] for m in mounts(cmd))
    finally:
        cmd.close()


def test_helper_command_runs_the_exec_entry_point_on_the_inherited_channel_fd(
        executor: BwrapExecutor, layout: Path) -> None:
    cmd = build(executor, request(layout))
    try:
        tail = cmd.argv[cmd.argv.index("--") + 1 :]
        assert tail[0] == sys.executable
        assert tail[tail.index("-m") + 1] == "fsgate_server.helper.main"
        assert tail[tail.index("--fd") + 1] == str(CHANNEL_FD)
        assert CHANNEL_FD in cmd.pass_fds
    finally:
        cmd.close()


def test_fork_server_runs_in_exactly_the_helper_namespace(executor: BwrapExecutor,
                                                          layout: Path) -> None:
    # One fork server per namespace key serves requests: its namespace must be the one a
    # helper exec'd for the same request would get, option for option.
    for op in ("read", "write"):
        req = request(layout, op, denied=(str(layout / "ws/denied"),))
        helper, server = build(executor, req), executor.forkserver_command(req, CHANNEL_FD)
        try:
            assert by_target(server) == by_target(helper)
            tail = server.argv[server.argv.index("--") + 1 :]
            assert tail[0] == sys.executable
            assert tail[tail.index("-m") + 1] == "fsgate_server.helper.forkserver"
            assert tail[tail.index("--control-fd") + 1] == str(CHANNEL_FD)
            assert tail[tail.index("--parent-pid") + 1] == "1"  # bwrap's init, inside
            assert CHANNEL_FD in server.pass_fds
        finally:
            helper.close()
            server.close()


def test_read_request_gets_the_writable_set_read_only(executor: BwrapExecutor, layout: Path
                                                      ) -> None:
    cmd = build(executor, request(layout, "read"))
    try:
        ws = str(layout / "ws")
        assert not any(m[0] == "--bind-fd" for m in mounts(cmd))
        binds = [m for m in mounts(cmd) if m[2:] == (ws,)]
        assert [m[0] for m in binds] == ["--ro-bind-fd"]
        assert fd_target(binds[0][1]) == ws
    finally:
        cmd.close()


def test_write_request_gets_the_writable_set_read_write(executor: BwrapExecutor, layout: Path
                                                        ) -> None:
    cmd = build(executor, request(layout, "write"))
    try:
        ws = str(layout / "ws")
        rw = [m for m in mounts(cmd) if m[0] == "--bind-fd"]
        assert [m[2] for m in rw] == [ws]
        assert fd_target(rw[0][1]) == ws
    finally:
        cmd.close()


def test_writable_subdirectory_is_bound_after_its_read_only_parent(
        executor: BwrapExecutor, layout: Path) -> None:
    ws, sub = str(layout / "ws"), str(layout / "ws" / "sub")
    cmd = build(executor, request(layout, "write", readable=(ws,), writable=(sub,)))
    try:
        order = [(m[0], m[2]) for m in mounts(cmd) if m[0] in ("--ro-bind-fd", "--bind-fd")]
        assert order.index(("--ro-bind-fd", ws)) < order.index(("--bind-fd", sub))
    finally:
        cmd.close()


def test_denied_directory_is_masked_by_a_read_only_tmpfs_and_a_denied_file_by_dev_null(
        executor: BwrapExecutor, layout: Path) -> None:
    denied_dir, denied_file = str(layout / "ws/denied"), str(layout / "ws/secret.txt")
    missing = str(layout / "ws/not-there")
    cmd = build(executor, request(layout, denied=(denied_dir, denied_file, missing)))
    try:
        m = mounts(cmd)
        assert ("--tmpfs", denied_dir) in m
        assert ("--ro-bind", "/dev/null", denied_file) in m
        assert ("--remount-ro", denied_dir) in m
        assert m.index(("--remount-ro", denied_dir)) > m.index(("--tmpfs", denied_dir))
        assert m.index(("--tmpfs", denied_dir)) > m.index(
            next(x for x in m if x[0] == "--ro-bind-fd" and x[2] == str(layout / "ws")))
        assert not any(missing in x for x in m)
    finally:
        cmd.close()


def test_readable_root_inside_a_runtime_root_and_runtime_root_inside_a_served_root_both_bind(
        layout: Path) -> None:
    # A runtime root below the workspace (a source checkout served as a root), and a
    # request readable root below a runtime root: parents are always bound first.
    (layout / "ws/checkout").mkdir()
    (layout / "rt/lib/site/pkg").mkdir(parents=True)
    rt_in_ws, rt = str(layout / "ws/checkout"), str(layout / "rt/lib")
    ex = BwrapExecutor(
        HelperSettings(runtime_roots=(rt, rt_in_ws), limits=Limits()),
        roots=[Root(str(layout / "ws"), True), Root(str(layout / "rt/lib/site"), False)],
        bwrap="/usr/bin/bwrap", environ={}, startup_files=(), import_path=())
    readable = (str(layout / "rt/lib/site/pkg"), str(layout / "ws"))
    cmd = ex.command(StatArgs(readable[0], EffectivePolicy(readable, (), ())), 5)
    try:
        dests = [m[2] for m in mounts(cmd) if m[0] == "--ro-bind-fd"]
        assert dests.index(rt) < dests.index(readable[0])
        assert dests.index(str(layout / "ws")) < dests.index(rt_in_ws)
    finally:
        cmd.close()
        ex.stop()


def test_symlink_swapped_in_for_a_readable_root_is_reproduced_not_followed(
        executor: BwrapExecutor, layout: Path) -> None:
    # Attack: make /ws/link -> /outside, then ask for readable_roots=[/ws/link]. Binding
    # what the name resolves to would mount /outside under a name the policy allows.
    link = layout / "ws/link"
    link.symlink_to(layout / "outside")
    cmd = build(executor, request(layout, readable=(str(link),), writable=()))
    try:
        m = mounts(cmd)
        assert ("--symlink", str(layout / "outside"), str(link)) in m
        bound = [fd_target(x[1]) for x in m if x[0] in ("--ro-bind-fd", "--bind-fd")]
        assert str(layout / "outside") not in bound
    finally:
        cmd.close()


def test_symlink_inside_a_bound_root_is_left_to_the_bind(executor: BwrapExecutor,
                                                         layout: Path) -> None:
    link = layout / "ws/link"
    link.symlink_to("sub")
    ws = str(layout / "ws")
    cmd = build(executor, request(layout, "write", readable=(ws,), writable=(str(link),)))
    try:
        assert not any(m[0] == "--symlink" for m in mounts(cmd))
        assert not any(m[0] == "--bind-fd" for m in mounts(cmd))
    finally:
        cmd.close()


def test_environment_is_cleared_and_only_allowlisted_variables_are_set(
        executor: BwrapExecutor, layout: Path) -> None:
    cmd = build(executor, request(layout))
    try:
        opts = options(cmd.argv)
        assert SECRET not in " ".join(cmd.argv)
        names = [opts[i + 1] for i, a in enumerate(opts) if a == "--setenv"]
        assert sorted(names) == ["LANG", "PATH", "PYTHONPATH"]
        assert opts.index("--clearenv") < opts.index("--setenv")
        pythonpath = opts[opts.index("PYTHONPATH") + 1]
        assert pythonpath == str(layout / "rt/lib")  # ours, never the server's PYTHONPATH
    finally:
        cmd.close()


def test_request_descriptors_are_closed_after_the_spawn(executor: BwrapExecutor,
                                                        layout: Path) -> None:
    cmd = build(executor, request(layout, "write"))
    owned = list(cmd.owned)
    assert owned
    cmd.close()
    for fd in owned:
        with pytest.raises(OSError):
            os.fstat(fd)


def test_bwrap_inside_a_served_root_is_refused(layout: Path) -> None:
    with pytest.raises(BackendUnavailable, match="inside the served root"):
        check_bwrap_location(str(layout / "ws/bwrap"), [Root(str(layout / "ws"), True)])
    with pytest.raises(BackendUnavailable, match="inside the served root"):
        BwrapExecutor(HelperSettings(runtime_roots=(), limits=Limits()),
                      roots=[Root(str(layout / "bin"), False)],
                      bwrap=str(layout / "bin/bwrap"), environ={}, startup_files=(),
                      import_path=())


def test_bwrap_reached_through_a_symlink_into_a_served_root_is_refused(layout: Path) -> None:
    (layout / "alias").symlink_to(layout / "ws")
    with pytest.raises(BackendUnavailable, match="inside the served root"):
        check_bwrap_location(str(layout / "alias/bwrap"), [Root(str(layout / "ws"), True)])


def test_bwrap_outside_every_root_is_accepted(layout: Path) -> None:
    check_bwrap_location("/usr/bin/bwrap", [Root(str(layout / "ws"), True)])


def test_leave_out_runtime_roots_test_seam_leaves_only_that_root_out(layout: Path) -> None:
    dropped = str(layout / "rt/bin")
    ex = make_executor(layout, leave_out=(dropped,))
    cmd = ex.command(request(layout), CHANNEL_FD)
    try:
        dests = [m[2] for m in mounts(cmd) if m[0] == "--ro-bind-fd"]
        assert dropped not in dests
        assert str(layout / "rt/lib") in dests
    finally:
        cmd.close()
        ex.stop()


def test_no_environment_variable_leaves_a_runtime_root_out(layout: Path) -> None:
    # The fault is injected by the tests' own launcher (tests/integration/
    # leave_out_runtime_root.py), never read from the environment by the product.
    dropped = str(layout / "rt/bin")
    ex = make_executor(layout, environ={"FSGATE_TEST_DROP_RUNTIME_ROOT": dropped})
    cmd = ex.command(request(layout), CHANNEL_FD)
    try:
        assert dropped in [m[2] for m in mounts(cmd) if m[0] == "--ro-bind-fd"]
    finally:
        cmd.close()
        ex.stop()


def test_stopped_executor_refuses_new_helpers(executor: BwrapExecutor, layout: Path) -> None:
    from fsgate_server.errors import Failure

    executor.stop()
    with pytest.raises(Failure) as err:
        executor.start(request(layout), None)
    assert err.value.reason.value == "SHUTTING_DOWN"


def fake_bwrap(base: Path, body: str) -> str:
    script = base / "fake-bwrap"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_bwrap_that_fails_to_start_gives_helper_failed_at_once_with_its_stderr_logged(
        layout: Path) -> None:
    from fsgate_server.backends.helper_client import HelperClient
    from fsgate_server.errors import Failure
    from structlog.testing import capture_logs

    ex = BwrapExecutor(HelperSettings(runtime_roots=(), limits=Limits()),
                       roots=[Root(str(layout / "ws"), True)],
                       bwrap=fake_bwrap(layout, "echo 'bwrap: cannot set up the sandbox' >&2; "
                                                "exit 1"),
                       environ={}, startup_files=(), import_path=())
    began = time.monotonic()
    with capture_logs() as logs, pytest.raises(Failure) as err:
        HelperClient.over(ex, began + 60).stat(request(layout))  # type: ignore[arg-type]  # a stat request
    ex.stop()
    assert time.monotonic() - began < 10  # EOF on the channel, not the 60 s deadline
    assert err.value.reason.value == "HELPER_FAILED"
    failed = [e for e in logs if e["event"] == "helper_failed"]
    assert failed and "cannot set up the sandbox" in failed[0]["stderr"]


def test_bwrap_that_hangs_is_killed_at_the_deadline(layout: Path) -> None:
    from fsgate_server.backends.helper_client import HelperClient
    from fsgate_server.errors import Failure

    ex = BwrapExecutor(HelperSettings(runtime_roots=(), limits=Limits()),
                       roots=[Root(str(layout / "ws"), True)],
                       bwrap=fake_bwrap(layout, "exec sleep 60"), environ={},
                       startup_files=(), import_path=())
    began = time.monotonic()
    with pytest.raises(Failure) as err:  # the call's close kills and reaps the process
        HelperClient.over(ex, began + 0.5).stat(request(layout))  # type: ignore[arg-type]  # a stat request
    ex.stop()
    assert err.value.reason.value == "DEADLINE_EXCEEDED"
    assert time.monotonic() - began < 10


def test_probe_without_bwrap_on_path_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    probe = backends.probe_bwrap()
    assert not probe.ok
    assert "apt-get install bubblewrap" in probe.detail
    assert "--sandbox landlock" in probe.detail


def test_probe_with_a_failing_bwrap_reports_its_message(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    probe = backends.probe_bwrap()
    assert not probe.ok
    assert "No permissions to creating new namespace" in probe.detail
    assert "namespaces" in probe.detail


def test_auto_prefers_bwrap_and_falls_back_to_landlock(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    ok = backends.Probe("landlock", True, "fine")
    monkeypatch.setitem(backends.PROBES, "landlock", lambda: ok)
    monkeypatch.setitem(backends.PROBES, "bwrap",
                        lambda: backends.Probe("bwrap", True, "fine"))
    assert backends.choose("auto") == "bwrap"
    monkeypatch.setitem(backends.PROBES, "bwrap",
                        lambda: backends.Probe("bwrap", False, "not installed"))
    assert backends.choose("auto") == "landlock"
    with pytest.raises(BackendUnavailable, match="bwrap: not installed"):
        backends.choose("bwrap")


def test_probe_runs_bwrap_with_the_executor_namespaces_here() -> None:
    probe = backends.probe_bwrap()
    if not probe.ok:
        pytest.skip(f"bwrap unavailable here: {probe.detail}")
    assert "namespaces" in probe.detail


def test_a_key_evicted_or_replaced_mid_request_keeps_its_helper_alive(tmp_path: Path) -> None:
    # Helpers come from one fork server per namespace key and die with it (pid namespace,
    # parent-death signal): a fork server that is evicted from the LRU, or replaced because
    # a bind source changed, must outlive the requests its helpers are serving.
    if not backends.probe_bwrap().ok:
        pytest.skip("bwrap unavailable here")
    from contextlib import closing, contextmanager

    from fsgate_server.backends.bwrap.backend import WARM_KEYS
    from fsgate_server.backends.channel import HelperCall
    from fsgate_server.backends.helper_client import HelperClient
    from fsgate_server.runtime_roots import runtime_roots
    from fsgate_server.sandbox import landlock

    ws = tmp_path / "ws"
    for d in range(WARM_KEYS + 1):
        (ws / f"d{d}").mkdir(parents=True)
    ex = BwrapExecutor(HelperSettings(runtime_roots=runtime_roots(), limits=Limits(),
                                      landlock=landlock.abi_version() > 0),
                       roots=[Root(str(ws), True)], warm=1)
    try:
        target = ws / "d0" / "out.txt"
        write = WriteArgs(str(target), EffectivePolicy((str(ws),), (str(ws / "d0"),), ()),
                          max_bytes=1 << 20)
        calls: list[HelperCall] = []

        @contextmanager
        def session(req: Request) -> Iterator[HelperCall]:
            with closing(ex.start(req, time.monotonic() + 60)) as call:
                calls.append(call)
                yield call

        def content() -> Iterator[bytes]:
            # The write's helper said READY: it is mid-request while all this happens.
            (call,) = calls
            # The helper's pid is ours (not its namespace's), for the logs.
            status = Path(f"/proc/{call.pid}/status").read_text()
            nspid = next(line for line in status.splitlines() if line.startswith("NSpid:"))
            assert nspid.split()[1] == str(call.pid) and len(nspid.split()) == 3
            (ws / "d0" / "new").mkdir()  # nothing changes for the key: same bind sources
            os.rename(ws / "d0", ws / "d0-moved")  # a bind source of the write key changed
            (ws / "d0").mkdir()
            for d in range(1, WARM_KEYS + 1):  # and the write key is evicted
                where = str(ws / f"d{d}")
                info = HelperClient.over(ex, time.monotonic() + 60).stat(
                    StatArgs(where, EffectivePolicy((where,), (), ())))
                assert info.path == where
            time.sleep(0.5)
            yield b"still here"

        done = HelperClient(session).write(write, content(), lambda: True)
        assert done.bytes_written == 10
        assert (ws / "d0-moved" / "out.txt").read_bytes() == b"still here"
    finally:
        ex.stop()


def test_a_mount_below_a_bind_source_changes_the_namespace_signature(
        executor: BwrapExecutor, layout: Path) -> None:
    import subprocess

    req = request(layout)
    before = executor._signature(req)
    assert executor._signature(req) == before  # nothing changed
    sub = layout / "ws" / "sub"
    done = subprocess.run(["mount", "-t", "tmpfs", "fsgate-test", str(sub)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        mounted = executor._signature(req)
        assert mounted != before  # the ws bind would not hold the tmpfs: a new namespace
    finally:
        subprocess.run(["umount", str(sub)], check=True)
    assert executor._signature(req) == before  # the host's view again
