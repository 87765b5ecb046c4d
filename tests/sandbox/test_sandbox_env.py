"""env: the helper's environment is an allowlist; nothing that could hold a secret passes."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

from fsgate_server.sandbox import env

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult


def test_helper_env_carries_only_allowlisted_runtime_vars() -> None:
    environ = {
        "PATH": "/usr/bin",
        "TMPDIR": "/tmp/x",
        "TMP": "/tmp/y",
        "TEMP": "/tmp/z",
        "LANG": "C.UTF-8",
        "LANGUAGE": "en",
        "LC_ALL": "C.UTF-8",
        "LC_CTYPE": "C.UTF-8",
        "HOME": "/root",
        "USER": "root",
        "FSGATE_AUTH_TOKEN_FILE": "/run/secrets/token",
        "AWS_SECRET_ACCESS_KEY": "hunter2",
        "GITHUB_TOKEN": "ghp_x",
        "LD_PRELOAD": "/tmp/evil.so",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "XLC_ALL": "not a locale",
    }
    assert env.helper_env(environ) == {
        "PATH": "/usr/bin",
        "TMPDIR": "/tmp/x",
        "TMP": "/tmp/y",
        "TEMP": "/tmp/z",
        "LANG": "C.UTF-8",
        "LANGUAGE": "en",
        "LC_ALL": "C.UTF-8",
        "LC_CTYPE": "C.UTF-8",
    }


def test_helper_env_preserves_path_for_system_bwrap_discovery_without_leaking_secrets() -> None:
    path = "/opt/custom/bin:/usr/local/bin:/usr/bin:/bin"
    result = env.helper_env({"PATH": path, "API_KEY": "s3cret", "PASSWORD": "s3cret"})
    assert result == {"PATH": path}
    assert "s3cret" not in repr(result)


def test_helper_env_uses_a_system_path_when_path_is_missing() -> None:
    assert env.helper_env({"SECRET": "x"}) == {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def test_helper_env_drops_variables_that_change_what_python_runs() -> None:
    python_vars = {
        name: "/tmp/evil"
        for name in (
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONINSPECT",
            "PYTHONUSERBASE",
            "PYTHONBREAKPOINT",
            "PYTHONWARNINGS",
        )
    }
    assert env.helper_env({"PATH": "/bin", **python_vars}) == {"PATH": "/bin"}


def test_helper_env_does_not_modify_its_input() -> None:
    environ = {"SECRET": "x"}
    env.helper_env(environ)
    assert environ == {"SECRET": "x"}


def test_apply_env_makes_the_environment_exactly_the_given_one(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        os.environ["LEAKY_SECRET"] = "x"
        env.apply_env({"PATH": "/bin", "LANG": "C"})
        getenv = ctypes.CDLL(None).getenv
        getenv.restype = ctypes.c_char_p
        return dict(os.environ), getenv(b"LEAKY_SECRET"), getenv(b"PATH")

    assert in_child(child).value == ({"PATH": "/bin", "LANG": "C"}, None, b"/bin")
