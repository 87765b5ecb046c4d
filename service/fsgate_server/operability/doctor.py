"""``fsgate doctor``: what sandboxing works on this host, and does a helper really run.

For every backend: the probe's verdict (and what to do when it fails), then, when the
probe passes, a real executor started on a temporary root, one Stat carried out by a
helper through it, and the executor stopped. Also the Landlock ABI and the computed
runtime roots. Exit status 0 only when at least one backend serves that Stat.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from fsgate_server.backends import BackendUnavailable
from fsgate_server.backends import selection as backends
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.config import Config
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import StatArgs
from fsgate_server.policy import EffectivePolicy, Root
from fsgate_server.runtime_roots import runtime_files, runtime_roots
from fsgate_server.sandbox import landlock

__all__ = ["BackendReport", "Report", "check", "main", "render"]

HELPER_TIMEOUT = 10.0  # seconds for the trial Stat, helper start included


@dataclass
class BackendReport:
    name: str
    available: bool  # the probe passed
    detail: str  # the probe's verdict: what works, or what is missing and what to do
    helper_ok: bool = False  # a helper started and served a Stat
    helper_ms: float | None = None  # the first Stat, backend start-up included, in ms
    helper_error: str = ""

    @property
    def works(self) -> bool:
        return self.available and self.helper_ok


@dataclass
class Report:
    landlock_abi: int
    runtime_roots: list[str]
    runtime_files: list[str]
    backends: list[BackendReport] = field(default_factory=list)
    auto: str | None = None  # what --sandbox auto would pick

    @property
    def ok(self) -> bool:
        return any(b.works for b in self.backends)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for entry, backend in zip(out["backends"], self.backends, strict=True):
            entry["works"] = backend.works
        out["ok"] = self.ok
        return out


def _trial_stat(name: str) -> tuple[bool, float | None, str]:
    """Start the backend for real on a temporary root and have one helper Stat it."""
    from fsgate_server.transport.server import (
        helper_settings,  # the server module pulls in grpc; only here
    )

    with tempfile.TemporaryDirectory(prefix="fsgate-doctor-") as tmp:
        config = Config(roots=(Root(tmp, writable=True),))
        try:
            executor = backends.start(name, helper_settings(config), pool_size=1,
                                      acquire_timeout=HELPER_TIMEOUT, roots=config.roots)
        except (BackendUnavailable, OSError, ValueError) as exc:
            return False, None, f"could not start the backend: {exc}"
        try:
            policy = EffectivePolicy(readable=(tmp,), writable=(tmp,), denied=())
            began = time.monotonic()
            try:
                info = HelperClient.over(executor, began + HELPER_TIMEOUT).stat(
                    StatArgs(tmp, policy))
            except Failure as exc:
                return False, None, f"{exc.reason.value}: {exc.message} (details in the log)"
            elapsed = (time.monotonic() - began) * 1000
            if info.path != tmp:
                return False, None, f"unexpected helper answer {info!r}"
            return True, round(elapsed, 1), ""
        finally:
            executor.stop()


def check() -> Report:
    abi = landlock.abi_version()
    report = Report(landlock_abi=abi, runtime_roots=list(runtime_roots()),
                    runtime_files=list(runtime_files()))
    for probe in backends.probe_all():
        entry = BackendReport(probe.name, probe.ok, probe.detail)
        if probe.ok:
            entry.helper_ok, entry.helper_ms, entry.helper_error = _trial_stat(probe.name)
        report.backends.append(entry)
    report.auto = next((b.name for b in report.backends if b.works), None)
    return report


def render(report: Report) -> str:
    lines = [f"Landlock ABI: {report.landlock_abi or 'not available'}", "Backends:"]
    for b in report.backends:
        if not b.available:
            lines.append(f"  {b.name:9} unavailable: {b.detail}")
        elif b.helper_ok:
            lines.append(f"  {b.name:9} works: {b.detail}; a helper served a first Stat in "
                         f"{b.helper_ms} ms")
        else:
            lines.append(f"  {b.name:9} probe passed ({b.detail}) but the helper failed: "
                         f"{b.helper_error}")
    lines.append(f"--sandbox auto picks: {report.auto or 'nothing (the server will not start)'}")
    lines.append("Runtime roots (read-only in every helper):")
    lines += [f"  {p}" for p in report.runtime_roots]
    lines.append("Runtime files:")
    lines += [f"  {p}" for p in report.runtime_files] or ["  (none)"]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """``fsgate doctor [--json] [--log-level LEVEL]`` (the parser lives in cli.py)."""
    from fsgate_server.operability import logs

    logs.configure("json" if args.json else "auto", args.log_level)  # stderr, never stdout
    report = check()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1

