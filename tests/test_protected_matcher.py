"""protected.matcher_in, the per-directory form of is_protected a walk uses, answers exactly
as is_protected does for every name in the directory."""
from __future__ import annotations

import pytest
from fsgate_server.protected import DEFAULT_PROTECTED, is_protected, matcher_in

GLOBS = [DEFAULT_PROTECTED, (".git/config",), ("secrets", "*.pem", "a/**/b"), ()]
ROOTS = [("/ws",), ("/ws", "/real/ws"), ("/ws/sub",), ("/other",)]
DIRS = ["/ws", "/ws/.git", "/ws/.GIT", "/ws/x/.git/hooks", "/ws/sub", "/ws/a/q/r",
        "/real/ws/.git", "/elsewhere"]
NAMES = ["config", "CONFIG", "hooks", "pre-commit", "secrets", "key.pem", "b", ".git",
         "plain.txt"]


@pytest.mark.parametrize("globs", GLOBS)
@pytest.mark.parametrize("roots", ROOTS)
def test_matcher_in_agrees_with_is_protected(globs: tuple[str, ...],
                                             roots: tuple[str, ...]) -> None:
    for directory in DIRS:
        matches = matcher_in(directory, roots, globs)
        for name in NAMES:
            path = f"{directory}/{name}"
            assert matches(name) == is_protected(path, roots, globs), (path, roots, globs)


def test_matcher_in_protects_something_at_all() -> None:  # the agreement is not vacuous
    assert matcher_in("/ws/.git", ("/ws",), DEFAULT_PROTECTED)("config")
    assert matcher_in("/ws/.GIT/hooks", ("/ws",), DEFAULT_PROTECTED)("x")
    assert not matcher_in("/ws/git", ("/ws",), DEFAULT_PROTECTED)("config")
