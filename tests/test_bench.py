"""The benchmark itself works: on a tiny workload it starts real servers and produces every
figure. Correctness only: no timing is asserted here (the targets live in its output)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, backend_skip_reason, server_env

sys.path.insert(0, str(REPO))
from bench import figures  # bench/ is a top-level package of the repo


def run_bench(out: Path, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-peer",
                           "--out", str(out), *args],
                          cwd=REPO, env=server_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    json_paths = [line.split(None, 1)[1] for line in done.stdout.splitlines()
                  if line.startswith("json:")]
    assert len(json_paths) == 1, done.stdout
    report: dict[str, object] = json.loads(Path(json_paths[0]).read_text())
    return report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    reason = backend_skip_reason("landlock")
    if reason:
        pytest.skip(reason)
    return run_bench(tmp_path_factory.mktemp("bench"), "--backends", "landlock")


def _measured(report: dict[str, object], key: str) -> bool:
    """CPU per call needs a writable cgroup v2; the report says when there is none."""
    skipped = report["skipped"]
    assert isinstance(skipped, dict)
    return not (key.endswith("cpu_ms") and "cpu per call" in skipped)


def test_quick_run_measures_every_figure_for_floor_baseline_and_landlock(
        report: dict[str, object]) -> None:
    results = report["results"]
    assert isinstance(results, dict)
    assert set(results) == {"floor", "baseline", "landlock"}
    for name, figs in results.items():
        for f in figures.figures():
            if not _measured(report, f.key):
                continue
            if name == "floor" and not figures.on_floor(f.key):
                continue  # the floor serves only the v1 RPCs
            value = figs.get(f.key)
            assert isinstance(value, float) and math.isfinite(value), (name, f.key, value)
            if f.key.endswith("growth_mib"):
                assert value >= 0, (name, f.key, value)
            else:
                assert value > 0, (name, f.key, value)


@pytest.mark.parametrize("table", ["ratios", "floor_ratios"])
def test_every_landlock_figure_has_a_ratio_to_the_baseline_and_the_floor(
        report: dict[str, object], table: str) -> None:
    ratios = report[table]
    assert isinstance(ratios, dict)
    for f in figures.figures():
        if f.key.endswith("growth_mib") or not _measured(report, f.key):
            continue  # a ratio over a near-zero base growth is left out on purpose
        if table == "floor_ratios" and not figures.on_floor(f.key):
            continue  # the floor serves only the v1 RPCs: no v1.1 figure to divide by
        r = ratios["landlock"][f.key]
        assert isinstance(r, float) and r > 0, (f.key, r)


def test_targets_are_reported_and_skips_say_why(report: dict[str, object]) -> None:
    targets = report["targets"]
    assert isinstance(targets, list) and targets
    measured = {t["target"]: t for t in targets}
    assert measured["landlock ReadFile 4 KiB p50 / floor (c=1)"]["measured"] > 0
    skipped = report["skipped"]
    assert isinstance(skipped, dict)
    assert skipped.get("codex") == "--no-peer"
    assert set(skipped) <= {"codex", "cpu per call"}
    loads = report["loadavg"]
    assert isinstance(loads, list) and len(loads) >= 3  # start, each run, end


def test_markdown_table_is_written_beside_the_json(report: dict[str, object]) -> None:
    md = sorted(Path(str(report["out"])).glob("bench-*.md"))
    assert md, "no markdown written"
    text = md[-1].read_text()
    assert "| figure |" in text and "landlock / baseline" in text
    assert "landlock / floor" in text and "baseline / floor" in text


def test_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-peer",
                           "--backends", "nosuch", "--out", str(tmp_path)],
                          cwd=REPO, env=server_env(), capture_output=True, text=True,
                          timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "unknown backend" in done.stderr
    assert not any(tmp_path.iterdir())
