"""The kernel is the wall for Search and Glob too: a Search or Glob helper is confined
read-only (no Landlock write right at all), and with its user-space policy check
deliberately widened (a lying policy) it still cannot read outside its readable set."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import GlobArgs, Request, SearchArgs
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.confine import confine
from fsgate_server.sandbox.rlimits import Limits

from .confined_child import confined_client

pytestmark = pytest.mark.skipif(landlock.abi_version() == 0, reason="Landlock unavailable")

SETTINGS = HelperSettings(runtime_roots=runtime_roots(), limits=Limits(address_space_bytes=4 << 30))


def search_args(path: Path, policy: EffectivePolicy) -> SearchArgs:
    return SearchArgs(str(path), policy, pattern="secret|inside", include_hidden=True,
                      include_ignored=True, max_matches=100, max_entries=1000,
                      max_file_bytes=1 << 20)


def confined_answer(req: Request, confined_as: Request) -> object:
    """Run ``req`` in a child confined as a server would confine ``confined_as``; its
    answer (matches as (path, line) pairs, or glob names), or its Failure."""
    try:
        with confined_client(confinement_for(confined_as, SETTINGS, ()), req) as client:
            if isinstance(req, GlobArgs):
                return [e.name for e in client.glob(req).entries]
            assert isinstance(req, SearchArgs)
            with client.search(req) as batches:
                return [(m.path, m.line) for b in batches for m in b.matches]
    except Failure as exc:
        return exc


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for d in ("ws", "outside"):
        (tmp_path / d).mkdir()
    (tmp_path / "outside" / "secret").write_text("top secret\n")
    (tmp_path / "ws" / "f").write_text("inside\n")
    return tmp_path


def test_search_and_glob_run_with_no_write_right_at_all() -> None:
    for cls in (SearchArgs, GlobArgs):
        assert cls.writes is False and cls.rights == frozenset()


def test_a_confined_search_helper_cannot_write_even_to_a_writable_root(layout: Path) -> None:
    ws = layout / "ws"
    policy = EffectivePolicy(readable=(str(ws),), writable=(str(ws),), denied=())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            confine(confinement_for(search_args(ws, policy), SETTINGS, (w,)))
            try:
                os.close(os.open(ws / "new", os.O_CREAT | os.O_WRONLY, 0o644))
            except OSError as exc:
                code = exc.errno or 0
            os.write(w, code.to_bytes(2, "big"))
        finally:
            os._exit(0)
    os.close(w)
    got = int.from_bytes(os.read(r, 2), "big")
    os.close(r)
    os.waitpid(pid, 0)
    assert got == errno.EACCES and not (ws / "new").exists()


def test_kernel_refuses_search_outside_even_when_the_helper_check_is_bypassed(
        layout: Path) -> None:
    honest = EffectivePolicy(readable=(str(layout / "ws"),), writable=(), denied=())
    lying = EffectivePolicy(readable=("/",), writable=(), denied=())
    for target in (layout / "outside", layout / "outside" / "secret", layout):
        answer = confined_answer(search_args(target, lying), search_args(target, honest))
        assert isinstance(answer, Failure) and answer.reason is Reason.SANDBOX_DENIED, answer
    glob = GlobArgs(str(layout), lying, patterns=("**",), include_hidden=True,
                    max_results=100, max_entries=1000)
    answer = confined_answer(glob, search_args(layout, honest))
    assert isinstance(answer, Failure) and answer.reason is Reason.SANDBOX_DENIED


def test_inside_its_readable_set_the_confined_helper_searches(layout: Path) -> None:
    honest = EffectivePolicy(readable=(str(layout / "ws"),), writable=(), denied=())
    req = search_args(layout / "ws", honest)
    assert confined_answer(req, req) == [(str(layout / "ws" / "f"), "inside")]
