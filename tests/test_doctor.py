"""``fsgate doctor``: which backends work here, why not, and whether a helper really runs."""
from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import fsgate_server  # noqa: F401
except ImportError:  # not installed: run from the source tree
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_ROOT / "service"), str(_ROOT / "client")]

from fsgate_server.backends import selection as backends
from fsgate_server.operability import doctor
from fsgate_server.sandbox import landlock

from .conftest import server_env


def run_doctor(*args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", "doctor", *args],
                          env=server_env(env), capture_output=True, text=True, timeout=120)


def test_doctor_json_reports_every_backend_and_exits_zero_when_one_serves_a_stat() -> None:
    done = run_doctor("--json")
    report = json.loads(done.stdout)  # stdout is the JSON alone; logs go to stderr
    assert report["landlock_abi"] == landlock.abi_version()
    assert [b["name"] for b in report["backends"]] == list(backends.PREFERENCE)
    for b in report["backends"]:
        assert b["detail"]
        assert b["works"] == (b["available"] and b["helper_ok"])
        if b["works"]:
            assert b["helper_ms"] > 0 and not b["helper_error"]
    assert report["runtime_roots"] and all(p.startswith("/") for p in report["runtime_roots"])
    assert sys.executable.rsplit("/", 1)[0] in report["runtime_roots"]
    assert report["ok"] == any(b["works"] for b in report["backends"])
    assert done.returncode == (0 if report["ok"] else 1), done.stderr
    if report["ok"]:
        assert report["auto"] == next(b["name"] for b in report["backends"] if b["works"])


def test_doctor_says_what_is_missing_when_bwrap_is_not_on_path(tmp_path: Path) -> None:
    done = run_doctor("--json", env={"PATH": str(tmp_path)})
    report = json.loads(done.stdout)
    bwrap = next(b for b in report["backends"] if b["name"] == "bwrap")
    assert not bwrap["available"] and not bwrap["works"]
    assert "apt-get install bubblewrap" in bwrap["detail"]


def test_doctor_text_output_names_the_auto_choice_and_the_runtime_roots() -> None:
    done = run_doctor()
    assert "Landlock ABI" in done.stdout
    assert "--sandbox auto picks" in done.stdout
    assert "Runtime roots" in done.stdout


def test_doctor_exits_nonzero_when_no_backend_works(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from fsgate_server.operability import logs

    monkeypatch.setattr(logs, "configure", lambda *_args: None)  # keep pytest's logging
    for name in backends.PREFERENCE:
        monkeypatch.setitem(backends.PROBES, name,
                            functools.partial(backends.Probe, name, False, f"{name} is missing"))
    code = doctor.main(argparse.Namespace(json=True, log_level="error"))
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert not report["ok"] and report["auto"] is None
    assert {b["detail"] for b in report["backends"]} == {f"{n} is missing"
                                                         for n in backends.PREFERENCE}


def test_doctor_never_prints_a_fork_server_traceback() -> None:
    # The trial executors are stopped while their fork servers may still be answering.
    for _ in range(5):
        done = run_doctor("--json")
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
