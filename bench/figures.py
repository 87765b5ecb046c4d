"""The figures the benchmark reports, their ratios (to the floor, a bare gRPC server, and to
the unsandboxed baseline), the issue's targets, and the markdown."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .namespace import FIGURES as NAMESPACE_FIGURES
from .transfer import FIGURE_ROWS, TARGET_ROWS

SMALL_OPS = ("read4k", "write4k", "list100", "stat")
OP_TITLES = {"read4k": "ReadFile 4 KiB", "write4k": "WriteFile 4 KiB",
             "list100": "ListDir 100 entries", "stat": "Stat"}
HIGH_LOAD_OPS = ("read4k", "stat")  # also measured at the plan's high concurrency (c=32)
BASES = ("floor", "baseline")  # what every other figure is divided by


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    unit: str
    better: str  # "lower" or "higher"


#: Figures of the four v1 RPCs, the only ones the floor server (bench/floor_server.py) has:
#: every other figure is measured on the fsgate servers alone.
FLOOR_PREFIXES = ("read4k.", "write4k.", "list100.", "stat.", "read_big.", "write_big.",
                  "rss_read.", "rss_write.", "list_all.")


def on_floor(key: str) -> bool:
    """Whether the floor server measures this figure (its v1 RPCs do)."""
    return key.startswith(FLOOR_PREFIXES)


def figures() -> list[Figure]:
    out = []
    for op in SMALL_OPS:
        t = OP_TITLES[op]
        out += [Figure(f"{op}.p50_ms", f"{t} p50, c=1", "ms", "lower"),
                Figure(f"{op}.p99_ms", f"{t} p99, c=1", "ms", "lower"),
                Figure(f"{op}.c8_per_s", f"{t} throughput, c=8", "calls/s", "higher"),
                Figure(f"{op}.c8_cpu_ms", f"{t} server-tree CPU per call, c=8", "ms",
                       "lower")]
        if op in HIGH_LOAD_OPS:
            out += [Figure(f"{op}.c8_server_process_cpu_ms",
                           f"{t} gRPC server process CPU per call, c=8", "ms", "lower"),
                    Figure(f"{op}.c32_per_s", f"{t} throughput, c=32", "calls/s", "higher"),
                    Figure(f"{op}.c32_cpu_ms", f"{t} server-tree CPU per call, c=32", "ms",
                           "lower")]
    out += [
        Figure("read_big.mb_per_s", "ReadFile big file", "MB/s", "higher"),
        Figure("write_big.mb_per_s", "WriteFile big file", "MB/s", "higher"),
        Figure("rss_read.peak_mib", "peak RSS, server tree, reading huge file", "MiB", "lower"),
        Figure("rss_read.growth_mib", "RSS growth, reading huge file", "MiB", "lower"),
        Figure("rss_write.peak_mib", "peak RSS, server tree, writing huge file", "MiB", "lower"),
        Figure("rss_write.growth_mib", "RSS growth, writing huge file", "MiB", "lower"),
        Figure("list_all.seconds", "ListDir paging through all entries", "s", "lower"),
        *EDIT_FIGURES,
        *(Figure(*row) for row in FIGURE_ROWS),
        Figure("watch.p50_ms", "WatchDir file created -> event p50", "ms", "lower"),
        Figure("watch.p99_ms", "WatchDir file created -> event p99", "ms", "lower"),
        Figure("watch.events_per_s", "WatchDir events, one watcher", "events/s", "higher"),
    ]
    return out + [Figure(*row) for row in NAMESPACE_FIGURES]


EDIT_FIGURES = (  # bench/edit.py
    Figure("edit4k.p50_ms", "EditFile 4 KiB p50, c=1", "ms", "lower"),
    Figure("edit4k.write4k_p50_ms", "WriteFile 4 KiB p50, interleaved with it", "ms", "lower"),
    Figure("edit4k.over_write4k", "EditFile / WriteFile 4 KiB p50, same loop", "x", "lower"),
    Figure("tail1g.p50_ms", "ReadFile tail_lines=10 of a 1 GiB (sparse) file p50", "ms",
           "lower"),
)


# Codex's exec-server figures that have an fsgate counterpart: fsgate key -> peer key.
PEER_KEYS = {"read4k.p50_ms": "read4k_sandboxed_p50_ms",
             "read4k.p99_ms": "read4k_sandboxed_p99_ms",
             "write4k.p50_ms": "write4k_sandboxed_p50_ms",
             "write4k.p99_ms": "write4k_sandboxed_p99_ms",
             "list100.p50_ms": "list100_sandboxed_p50_ms",
             "list100.p99_ms": "list100_sandboxed_p99_ms"}


def percentile(xs: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (as the peer script computes it)."""
    s = sorted(xs)
    k = (len(s) - 1) * p / 100
    f = int(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0 or not math.isfinite(value):
        return None
    return value / base


MIN_RSS_BASE_MIB = 1.0  # a growth ratio over less than this is noise, not a figure


def ratios(results: dict[str, dict[str, float]], base: str = "baseline"
           ) -> dict[str, dict[str, float | None]]:
    """Every figure of every backend divided by the same figure of ``base``."""
    out: dict[str, dict[str, float | None]] = {}
    if base not in results:
        return out
    for name, figs in results.items():
        row: dict[str, float | None] = {}
        for key, value in figs.items():
            b = results[base].get(key)
            if key.endswith("growth_mib") and (b is None or b < MIN_RSS_BASE_MIB):
                row[key] = None
            else:
                row[key] = ratio(value, b)
        out[name] = row
    return out


def peer_ratios(results: dict[str, dict[str, float]], peer: dict[str, Any] | None
                ) -> dict[str, dict[str, float | None]]:
    """Codex's sandboxed latency divided by each backend's (how many times faster fsgate is)."""
    out: dict[str, dict[str, float | None]] = {}
    if not peer:
        return out
    for name, figs in results.items():
        out[name] = {key: ratio(peer.get(pkey), figs.get(key)) for key, pkey in PEER_KEYS.items()
                     if key in figs}
    return out


@dataclass(frozen=True)
class Target:
    text: str
    backend: str
    key: str
    limit: float
    # "floor", "baseline", "peer", "value" (the figure itself, e.g. already a ratio), or
    # "floor_stat" (over the floor's Stat p50: the floor serves no v1.1 operation)
    against: str
    at_most: bool


TARGETS = (  # issue 15, all against the floor (a bare gRPC server) or Codex
    Target("landlock ReadFile 4 KiB p50 / floor (c=1)", "landlock", "read4k.p50_ms", 2.0,
           "floor", True),
    Target("landlock Stat p50 / floor (c=1)", "landlock", "stat.p50_ms", 2.5, "floor", True),
    Target("landlock ListDir 100 p50 / floor (c=1)", "landlock", "list100.p50_ms", 2.5,
           "floor", True),
    Target("landlock WriteFile 4 KiB p50 / floor (c=1)", "landlock", "write4k.p50_ms", 2.5,
           "floor", True),
    Target("landlock ReadFile 4 KiB calls/s / floor (c=8)", "landlock", "read4k.c8_per_s",
           0.5, "floor", False),
    Target("Codex sandboxed readFile p50 / landlock ReadFile p50", "landlock", "read4k.p50_ms",
           15.0, "peer", False),
    *(Target(f"{b} EditFile 4 KiB p50 / WriteFile 4 KiB p50 (issue 13)", b,
             "edit4k.over_write4k", 1.3, "value", True) for b in ("landlock", "bwrap")),
    *(Target(f"{b} tail_lines=10 of a 1 GiB sparse file p50, ms (issue 13)", b,
             "tail1g.p50_ms", 5.0, "value", True) for b in ("landlock", "bwrap")),
    *(Target(*row) for row in TARGET_ROWS),
    *(Target(f"{b} {what} p50 / floor Stat p50 (issue 12)", b, key, 2.5, "floor_stat", True)
      for b in ("landlock", "bwrap")
      for key, what in (("mkdir.p50_ms", "MakeDir"), ("remove.p50_ms", "Remove one file"))),
    Target("bwrap ReadFile 4 KiB p50 / floor (c=1)", "bwrap", "read4k.p50_ms", 2.5, "floor",
           True),
    Target("landlock ReadFile big file MB/s / floor", "landlock", "read_big.mb_per_s", 0.90,
           "floor", False),
    Target("landlock WriteFile big file MB/s / floor", "landlock", "write_big.mb_per_s", 0.90,
           "floor", False),
)
RSS_TARGET_MIB = 64.0
WATCH_P50_TARGET_MS = 5.0  # issue 14


def check_targets(results: dict[str, dict[str, float]], rat: dict[str, dict[str, float | None]],
                  prat: dict[str, dict[str, float | None]],
                  base_rat: dict[str, dict[str, float | None]] | None = None
                  ) -> list[dict[str, Any]]:
    """Each target against its reference: ``rat`` (ratios to the floor), ``base_rat`` (to
    the baseline), ``prat`` (the peer's), or the figure itself ("value")."""
    out = []
    for t in TARGETS:
        table: dict[str, Any] = {"floor": rat, "baseline": base_rat or {},
                                 "peer": prat}.get(t.against, results)
        got = table.get(t.backend, {}).get(t.key)
        if t.against == "floor_stat":
            got = ratio(got, results.get("floor", {}).get("stat.p50_ms"))
        ok = None if got is None else (got <= t.limit if t.at_most else got >= t.limit)
        out.append({"target": t.text, "limit": f"{'≤' if t.at_most else '≥'} {t.limit:g}",
                    "measured": got, "met": ok})
    for backend in ("landlock", "bwrap"):
        for key, what in (("rss_read.growth_mib", "read"), ("rss_write.growth_mib", "write")):
            got = results.get(backend, {}).get(key)
            out.append({"target": f"{backend} peak RSS growth, huge-file {what} (MiB)",
                        "limit": f"≤ {RSS_TARGET_MIB:g}", "measured": got,
                        "met": None if got is None else got <= RSS_TARGET_MIB})
        got = results.get(backend, {}).get("watch.p50_ms")
        out.append({"target": f"{backend} WatchDir event latency p50 (ms)",
                    "limit": f"≤ {WATCH_P50_TARGET_MS:g}", "measured": got,
                    "met": None if got is None else got <= WATCH_P50_TARGET_MS})
    return out


# --- markdown -----------------------------------------------------------------------------

def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"


def _rank(name: str) -> int:
    """floor 0, baseline 1, sandboxes 2: a figure is divided by the bases before it."""
    return BASES.index(name) if name in BASES else len(BASES)


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def markdown(report: dict[str, Any]) -> str:
    results: dict[str, dict[str, float]] = report["results"]
    by_base = {"floor": report.get("floor_ratios") or {}, "baseline": report["ratios"]}
    prat = report["peer_ratios"]
    peer = report.get("peer") or {}
    names = [n for n in ("floor", "baseline", "landlock", "bwrap") if n in results]
    bases = [b for b in BASES if b in results]
    head = ["figure", "unit", "better"]
    for n in names:
        head += [n, *(f"{n} / {b}" for b in bases if BASES.index(b) < _rank(n))]
    if peer:
        head += ["codex", *(f"codex / {b}" for b in bases)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in figures():
        row = [f.title, f.unit, f.better]
        for n in names:
            row.append(_num(results[n].get(f.key)))
            row += [_x(by_base[b].get(n, {}).get(f.key)) for b in bases
                    if BASES.index(b) < _rank(n)]
        if peer:
            pv = peer.get(PEER_KEYS.get(f.key, ""))
            row += [_num(pv), *(_x(ratio(pv, results.get(b, {}).get(f.key))) for b in bases)]
        lines.append("| " + " | ".join(row) + " |")
    out = ["## Figures (medians over runs; ratios to the floor, a bare gRPC server, and to "
           "the unsandboxed baseline)", "",
           "floor → baseline is fsgate's own plumbing; baseline → landlock/bwrap the sandbox.",
           "", *lines, ""]
    if prat:
        out += ["## Against Codex's exec-server (Codex sandboxed / fsgate; higher: fsgate "
                "faster)", "", "| figure | " + " | ".join(prat) + " |",
                "|---|" + "---|" * len(prat)]
        for key in PEER_KEYS:
            out.append(f"| {key} | " + " | ".join(_x(prat[n].get(key)) for n in prat) + " |")
        out.append("")
    out += ["## Targets (issue 15)", "", "| target | limit | measured | met |",
            "|---|---|---|---|"]
    for t in report["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        out.append(f"| {t['target']} | {t['limit']} | {_num(t['measured'])} | {met} |")
    loads = report.get("loadavg") or []
    if loads:
        out += ["", "Load average (1 min) at start, after each run and at the end: "
                + ", ".join(f"{la[0]:.2f}" for la in loads)]
    skipped = report.get("skipped") or {}
    if skipped:
        out += ["", "## Skipped", ""]
        out += [f"- {name}: {why}" for name, why in skipped.items()]
    return "\n".join(out) + "\n"
