"""Search and Glob against ripgrep and a reference walk, on the same tree, in the same run.

The tree (10,000 files, ~100 MB of text; --quick: 1,000 files, ~10 MB) is generated once
and cached under ``$XDG_CACHE_HOME/fsgate-bench`` (or ``--search-tree DIR``), so a second
run, and every --quick run after the first, pays nothing for it. Each server under test
serves it read-only; ``rg`` runs on it directly, as a user would run it on their own
disk. Runs of each subject are interleaved and the figure is the median wall time of one
call, client included (the fsgate client here is the library, in this process).

``python -m bench.search [--quick]`` runs just this part.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import Server

LITERAL = "needle_literal_token"
REGEX = r"needle_\w+_tok[aeiou]n"
GLOB = "**/*.py"
TREE_VERSION = 1
TARGETS = {"search_literal": 1.5, "search_regex": 1.5, "glob_py": 2.0}
TITLES = {"search_literal": f"Search literal `{LITERAL}`",
          "search_regex": f"Search regex `{REGEX}`",
          "glob_py": f"Glob `{GLOB}`"}


@dataclass(frozen=True)
class TreePlan:
    files: int
    file_bytes: int
    runs: int


FULL = TreePlan(files=10_000, file_bytes=10_000, runs=7)
QUICK = TreePlan(files=1_000, file_bytes=10_000, runs=2)


def rg_binary() -> str | None:
    return shutil.which("rg") or shutil.which("rg", path=str(Path(sys.executable).parent))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fsgate-bench"


def make_tree(plan: TreePlan, where: Path | None = None) -> Path:
    """The generated tree for ``plan``, built once (deterministic; a completed tree has a
    ``.complete`` marker, so a run interrupted while building starts over)."""
    root = (where or cache_dir()) / f"search-v{TREE_VERSION}-{plan.files}x{plan.file_bytes}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    rnd = random.Random(20260101)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
             for _ in range(3000)] + ["def", "class", "return", "import", "self", "None"]
    pool = ["    " * rnd.randint(0, 3) + " ".join(rnd.choice(words)
                                              for _ in range(rnd.randint(3, 14)))
            for _ in range(20_000)]
    exts = (".py", ".md", ".txt", ".js", ".c")
    for i in range(plan.files):
        d = building / f"d{i // 1000:02d}" / f"s{(i // 50) % 20:02d}"
        if i % 50 == 0:
            d.mkdir(parents=True, exist_ok=True)
        lines, size = [], 0
        while size < plan.file_bytes:
            line = rnd.choice(pool)
            lines.append(line)
            size += len(line) + 1
        if i % 50 == 7:  # ~2% of the files hold the needle once
            lines[rnd.randrange(len(lines))] += f" {LITERAL}"
        (d / f"f{i:05d}{exts[i % len(exts)]}").write_text("\n".join(lines) + "\n")
    (building / ".gitignore").write_text("*.log\nbuild/\n")  # applied to every entry
    (building / ".complete").write_text("")
    building.rename(root)
    return root


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(call: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    n = call()
    return time.perf_counter() - started, n


def rg_count(rg: str, tree: Path, *args: str) -> int:
    done = subprocess.run([rg, "--no-config", "--no-require-git", "--line-number",
                           "--no-heading", *args, str(tree)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=False)
    return done.stdout.count(b"\n")


def reference_glob(tree: Path) -> int:
    """What a caller with the files at hand would do: walk, skip hidden names, match,
    lstat each match (Glob returns lstat info)."""
    found = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and fnmatch.fnmatchcase(name, "*.py"):
                os.lstat(os.path.join(dirpath, name))
                found += 1
    return found


def _fsgate_subject(client: Any, tree: Path) -> Callable[[str], tuple[float, int]]:
    """One call of ``what`` through the fsgate client: (seconds, results)."""
    def run(what: str) -> tuple[float, int]:
        if what == "glob_py":
            return _timed(lambda: len(client.glob(str(tree), GLOB, max_results=10_000).entries))
        fixed = what == "search_literal"
        pattern = LITERAL if fixed else REGEX
        return _timed(lambda: sum(1 for _ in client.search(str(tree), pattern,
                                                           fixed_strings=fixed,
                                                           max_matches=10_000)))
    return run


def measure(backends: list[str], quick: bool, run_dir: Path, tree_dir: Path | None = None,
            extra: list[str] | None = None) -> dict[str, Any]:
    """Start one server per backend on the tree, and measure; the report's ``search``
    section (figures in ms, ratios, targets, or why it was skipped)."""
    import fsgate

    plan = QUICK if quick else FULL
    rg = rg_binary()
    if rg is None:
        return {"skipped": "rg not found (pip install ripgrep: the dev extra has it)"}
    tree = make_tree(plan, tree_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    subjects: dict[str, Callable[[str], tuple[float, int]]] = {}
    servers, clients = [], []
    try:
        for name in backends:
            server = Server(name, run_dir, [f"{tree}:ro"], list(extra or []))
            servers.append(server)
            client = fsgate.Client(server.target)
            clients.append(client)
            subjects[name] = _fsgate_subject(client, tree)

        def reference(what: str) -> tuple[float, int]:
            if what == "glob_py":
                return _timed(lambda: reference_glob(tree))
            args = ("-F", LITERAL) if what == "search_literal" else (REGEX,)
            return _timed(lambda: rg_count(rg, tree, *args))
        subjects["reference"] = reference

        samples: dict[str, dict[str, list[float]]] = {s: {} for s in subjects}
        counts: dict[str, dict[str, int]] = {s: {} for s in subjects}
        for what in TARGETS:
            for subject in subjects.values():
                subject(what)  # warm: page cache, pool, connection
            for _ in range(plan.runs):
                for name, subject in subjects.items():
                    seconds, n = subject(what)
                    samples[name].setdefault(what, []).append(seconds)
                    counts[name][what] = n
    finally:
        for c in clients:
            c.close()
        for s in servers:
            s.stop()
    figures = {name: {what: _median_ms(v) for what, v in per.items()}
               for name, per in samples.items()}
    ratios = {name: {what: figures[name][what] / figures["reference"][what] for what in TARGETS}
              for name in backends}
    mismatched = {f"{name}.{what}": (counts[name][what], counts["reference"][what])
                  for name in backends for what in TARGETS
                  if counts[name][what] != counts["reference"][what]}
    return {"tree": {"path": str(tree), "files": plan.files,
                     "bytes": plan.files * plan.file_bytes}, "runs": plan.runs,
            "figures_ms": figures, "ratios": ratios, "counts": counts,
            "mismatched": mismatched,
            "targets": [{"target": f"{name} {TITLES[what]} / "
                                   f"{'rg' if what != 'glob_py' else 'reference walk'}",
                         "limit": f"≤ {limit:g}", "measured": ratios[name][what],
                         "met": ratios[name][what] <= limit}
                        for name in backends if name != "baseline"
                        for what, limit in TARGETS.items()]}


def markdown(section: dict[str, Any]) -> str:
    if "skipped" in section:
        return f"## Search and Glob\n\nskipped: {section['skipped']}\n"
    figs = section["figures_ms"]
    names = [n for n in figs if n != "reference"]
    tree = section["tree"]
    out = [f"## Search and Glob ({tree['files']:,} files, {tree['bytes'] / 1e6:.0f} MB; "
           f"median of {section['runs']} runs, ms)", "",
           "| figure | reference | " + " | ".join(f"{n} | {n} / reference" for n in names)
           + " |", "|---|---|" + "---|---|" * len(names)]
    for what, title in TITLES.items():
        ref = "rg" if what != "glob_py" else "walk"
        row = [title, f"{figs['reference'][what]:.1f} ({ref})"]
        for n in names:
            row += [f"{figs[n][what]:.1f}", f"{section['ratios'][n][what]:.2f}x"]
        out.append("| " + " | ".join(row) + " |")
    out += ["", "| target | limit | measured | met |", "|---|---|---|---|"]
    for t in section["targets"]:
        out.append(f"| {t['target']} | {t['limit']} | {t['measured']:.2f} | "
                   f"{'yes' if t['met'] else '**no**'} |")
    if section["mismatched"]:
        out += ["", f"**result counts differ from the reference:** {section['mismatched']}"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backends", default="baseline,landlock,bwrap")
    ap.add_argument("--search-tree", type=Path, help="where the generated tree is cached")
    args = ap.parse_args(argv)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"fsgate-bench-search-{os.getpid()}"
    section = measure([b for b in args.backends.split(",") if b], args.quick, run_dir,
                      args.search_tree)
    shutil.rmtree(run_dir, ignore_errors=True)
    print(markdown(section))
    print(json.dumps(section, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
