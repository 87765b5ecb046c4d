"""bench/search.py works: on the quick tree it measures every Search and Glob figure for a
sandboxed server and for its reference, and both find the same results. Correctness only:
no timing is asserted (the targets live in the benchmark's output)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from .conftest import REPO, backend_skip_reason

sys.path.insert(0, str(REPO))
from bench import search  # bench/ is a top-level package of the repo


@pytest.mark.skipif(search.rg_binary() is None, reason="rg not installed (dev extra: ripgrep)")
def test_quick_search_bench_measures_every_figure_and_agrees_with_rg(tmp_path: Path) -> None:
    reason = backend_skip_reason("landlock")
    if reason:
        pytest.skip(reason)
    section = search.measure(["landlock"], True, tmp_path / "run", tmp_path / "trees")
    assert section["mismatched"] == {}
    for name in ("landlock", "reference"):
        for what in search.TARGETS:
            value = section["figures_ms"][name][what]
            assert math.isfinite(value) and value > 0, (name, what)
    assert section["counts"]["landlock"]["search_literal"] > 0
    assert section["counts"]["landlock"]["glob_py"] == search.QUICK.files // 5
    assert "| target |" in search.markdown(section)
    # the tree is cached: a second build returns at once, the same directory
    assert search.make_tree(search.QUICK, tmp_path / "trees") == Path(section["tree"]["path"])
