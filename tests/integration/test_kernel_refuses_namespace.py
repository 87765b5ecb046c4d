"""The kernel is the wall for MakeDir and Remove too, not the helper's own checks: a helper
whose user-space policy is deliberately widened (a lying policy: everything readable and
writable) is confined exactly as a real request's helper is (helper/settings.py
confinement_for: the writable set only for a request that writes, with only its
operation's Landlock rights), and still cannot remove or create outside its writable set;
a read request's helper cannot remove or create anything even inside it, nor can MakeDir's
helper remove or Remove's helper create. Each helper runs in a forked child."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import (
    FileFacts,
    MakeDirArgs,
    RemoveArgs,
    RemoveDone,
    Request,
    StatArgs,
)
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.rlimits import Limits

from ..helpers import snapshot
from .confined_child import confined_client

pytestmark = pytest.mark.skipif(landlock.abi_version() == 0, reason="Landlock unavailable")

EVERYTHING = EffectivePolicy(readable=("/",), writable=("/",), denied=())
SETTINGS = HelperSettings(runtime_roots=runtime_roots(), limits=Limits(
    address_space_bytes=4 << 30))


def run_confined(req: MakeDirArgs | RemoveArgs, confined_as: Request
                 ) -> FileFacts | RemoveDone | Failure:
    """Fork a child confined as ``confined_as``'s helper would be, run ``req`` in it (its
    policy may lie), and return what it answered."""
    try:
        with confined_client(confinement_for(confined_as, SETTINGS, ()), req) as client:
            if isinstance(req, MakeDirArgs):
                return client.make_dir(req)
            return client.remove(req)
    except Failure as exc:
        return exc


def refused(answer: FileFacts | RemoveDone | Failure) -> str:
    assert isinstance(answer, Failure), answer
    return answer.reason.value


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for name in ("ws", "ro", "outside"):
        (tmp_path / name / "dir").mkdir(parents=True)
        (tmp_path / name / "file").write_text("keep")
        (tmp_path / name / "dir" / "inner").write_text("keep")
    (tmp_path / "ws" / "empty").mkdir()
    return tmp_path


def real_policy(layout: Path) -> EffectivePolicy:
    """What a real request gets: ws writable, ro readable, outside nothing."""
    return EffectivePolicy(readable=(str(layout / "ro"), str(layout / "ws")),
                           writable=(str(layout / "ws"),), denied=())


def remove(path: Path, *, recursive: bool = False, policy: EffectivePolicy = EVERYTHING
           ) -> RemoveArgs:
    return RemoveArgs(str(path), policy, recursive=recursive, max_entries=1000)


def make_dir(path: Path, policy: EffectivePolicy = EVERYTHING) -> MakeDirArgs:
    return MakeDirArgs(str(path), policy, parents=True)


@pytest.mark.parametrize("where", ["ro", "outside"])
def test_kernel_refuses_remove_outside_the_writable_set_even_when_checks_are_bypassed(
        layout: Path, where: str) -> None:
    before = snapshot(layout)
    as_remove = remove(layout / "ws" / "file", policy=real_policy(layout))
    for target, recursive in ((layout / where / "file", False),
                              (layout / where / "dir", True),
                              (layout / where / "dir" / "inner", False)):
        answer = run_confined(remove(target, recursive=recursive), as_remove)
        assert refused(answer) == "SANDBOX_DENIED", target
    assert snapshot(layout) == before


@pytest.mark.parametrize("where", ["ro", "outside"])
def test_kernel_refuses_make_dir_outside_the_writable_set_even_when_checks_are_bypassed(
        layout: Path, where: str) -> None:
    before = snapshot(layout)
    as_make_dir = make_dir(layout / "ws" / "new", real_policy(layout))
    for target in (layout / where / "new", layout / where / "dir" / "a" / "b"):
        assert refused(run_confined(make_dir(target), as_make_dir)) == "SANDBOX_DENIED"
    assert snapshot(layout) == before


def test_a_read_requests_helper_cannot_remove_or_create_inside_the_writable_set(
        layout: Path) -> None:
    before = snapshot(layout)
    as_stat = StatArgs(str(layout / "ws" / "file"), real_policy(layout))
    for req in (remove(layout / "ws" / "file"), remove(layout / "ws" / "dir", recursive=True),
                remove(layout / "ws" / "empty"), make_dir(layout / "ws" / "new")):
        assert refused(run_confined(req, as_stat)) == "SANDBOX_DENIED", req.path
    assert snapshot(layout) == before


def test_make_dirs_helper_cannot_remove_and_removes_helper_cannot_create(
        layout: Path) -> None:
    before = snapshot(layout)
    as_make_dir = make_dir(layout / "ws" / "new", real_policy(layout))
    as_remove = remove(layout / "ws" / "file", policy=real_policy(layout))
    for req in (remove(layout / "ws" / "file"), remove(layout / "ws" / "empty")):
        assert refused(run_confined(req, as_make_dir)) == "SANDBOX_DENIED", req.path
    assert refused(run_confined(make_dir(layout / "ws" / "new"), as_remove)) == \
        "SANDBOX_DENIED"
    assert snapshot(layout) == before


def test_same_requests_succeed_when_the_kernel_allows_them(layout: Path) -> None:
    """Control: the refusals above come from the confinement, not from a broken helper."""
    policy = real_policy(layout)
    for req in (remove(layout / "ws" / "file", policy=policy),
                remove(layout / "ws" / "dir", recursive=True, policy=policy),
                remove(layout / "ws" / "empty", policy=policy)):
        answer = run_confined(req, req)
        assert isinstance(answer, RemoveDone), answer
    made = run_confined(make_dir(layout / "ws" / "a" / "b", policy),
                        make_dir(layout / "ws" / "x", policy))
    assert isinstance(made, FileFacts) and (layout / "ws" / "a" / "b").is_dir()
    assert sorted(os.listdir(layout / "ws")) == ["a"]
    # and with the lying policy, inside the writable set, confined as themselves
    wide = run_confined(remove(layout / "ws" / "a", recursive=True),
                        remove(layout / "ws" / "a", policy=policy))
    assert isinstance(wide, RemoveDone) and wide.removed == 2
