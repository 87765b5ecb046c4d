"""``fsgate mcp`` against the reference MCP filesystem server, over stdio, same session.

One scripted session -- read_text_file, list_directory, edit_file, search_files (when the
tool is there), directory_tree -- repeated against ``fsgate mcp --root WS --sandbox B``
(for each backend) and ``node @modelcontextprotocol/server-filesystem WS`` (from
tests/mcp/node, installed by scripts/test.sh), alternating servers each round so that
noise hits all of them. Figures: p50 per tool call in ms, and ``mcp.<tool>.over_reference``
(fsgate p50 / reference p50; issue 16's target: at most 1.5). The reference server has no
sandbox at all: every fsgate call also forks a confined helper.
"""
from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REFERENCE = (REPO / "tests" / "mcp" / "node" / "node_modules" / "@modelcontextprotocol" /
             "server-filesystem" / "dist" / "index.js")
TOOLS = ("read_text_file", "list_directory", "edit_file", "search_files", "directory_tree")
TARGET = 1.5
BACKENDS = ("landlock", "bwrap")  # fsgate serve's sandboxes (not the bench's other servers)
MARKERS = ("state = left ", "state = right")


def _workspace(ws: Path, names: list[str]) -> None:
    shutil.rmtree(ws, ignore_errors=True)
    for d in range(5):
        (ws / f"pkg{d}" / "sub").mkdir(parents=True)
        for f in range(8):
            (ws / f"pkg{d}" / f"mod{f}.py").write_text(f"# module {d}.{f}\n" * 40)
        (ws / f"pkg{d}" / "sub" / "data.txt").write_text("x\n" * 100)
    for name in names:  # each server edits its own copy, back and forth
        (ws / f"notes-{name}.txt").write_text("".join(f"line {i}\n" for i in range(200))
                                              + MARKERS[0] + "\n")


def _calls(ws: Path, flip: int, name: str) -> list[tuple[str, dict[str, Any]]]:
    old, new = MARKERS[flip % 2], MARKERS[(flip + 1) % 2]
    return [("read_text_file", {"path": f"{ws}/notes-{name}.txt"}),
            ("list_directory", {"path": f"{ws}/pkg0"}),
            ("edit_file", {"path": f"{ws}/notes-{name}.txt",
                           "edits": [{"oldText": old, "newText": new}]}),
            ("search_files", {"path": str(ws), "pattern": "**/*.txt"}),
            ("directory_tree", {"path": str(ws)})]


async def _session(subjects: dict[str, Any], ws: Path, rounds: int,
                   log: Callable[[str], None]) -> dict[str, dict[str, list[float]]]:
    from mcp import Client, StdioServerParameters

    times: dict[str, dict[str, list[float]]] = {name: {t: [] for t in TOOLS}
                                               for name in subjects}
    async with AsyncExitStack() as stack:
        clients = {}
        for name, (command, args) in subjects.items():
            params = StdioServerParameters(command=command, args=args)
            clients[name] = await stack.enter_async_context(Client(params))
            listed = {t.name for t in (await clients[name].list_tools()).tools}
            missing = set(TOOLS) - listed
            if missing:
                log(f"mcp: {name} lacks {sorted(missing)}: not measured there")
        have = {name: {t.name for t in (await c.list_tools()).tools}
                for name, c in clients.items()}
        for flip in range(rounds + 3):  # the first 3 rounds warm up
            for name, client in clients.items():
                for tool, args in _calls(ws, flip, name):
                    if tool not in have[name]:
                        continue
                    start = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    elapsed = (time.perf_counter() - start) * 1000
                    if getattr(result, "is_error", False):
                        raise RuntimeError(f"mcp bench: {name} {tool} failed: {result}")
                    if flip >= 3:
                        times[name][tool].append(elapsed)
    return times


def measure(rounds: int, work: Path, backends: tuple[str, ...],
            log: Callable[[str], None]) -> dict[str, Any]:
    """The figures (or ``{"skipped": why}``)."""
    if shutil.which("node") is None or not REFERENCE.exists():
        return {"skipped": "node or tests/mcp/node missing (scripts/test.sh runs npm ci)"}
    ws = (work / "mcp-ws").resolve()
    fsgate = [sys.executable, "-c", "import sys; from fsgate._main import main; "
              "sys.exit(main())", "mcp", "--root", str(ws)]
    subjects: dict[str, Any] = {"reference": ("node", [str(REFERENCE), str(ws)])}
    for backend in backends:
        subjects[backend] = (fsgate[0], [*fsgate[1:], "--sandbox", backend])
    _workspace(ws, list(subjects))
    log(f"mcp: {rounds} rounds of {len(TOOLS)} tool calls against {', '.join(subjects)}")
    try:
        times = asyncio.run(_session(subjects, ws, rounds, log))
    except Exception as exc:  # one failed measurement must not lose the whole report
        log(f"mcp: failed: {exc!r}")
        return {"skipped": f"failed: {exc!r}"}
    out: dict[str, Any] = {"rounds": rounds, "p50_ms": {}, "over_reference": {}}
    for name, per_tool in times.items():
        out["p50_ms"][name] = {t: statistics.median(v) for t, v in per_tool.items() if v}
    ref = out["p50_ms"]["reference"]
    for name in backends:
        out["over_reference"][name] = {t: p50 / ref[t] for t, p50 in
                                       out["p50_ms"][name].items() if ref.get(t)}
    shutil.rmtree(ws, ignore_errors=True)
    return out


def markdown(figures: dict[str, Any]) -> str:
    if "skipped" in figures:
        return f"\n## fsgate mcp vs the reference MCP filesystem server\n\nskipped: " \
               f"{figures['skipped']}\n"
    names = list(figures["p50_ms"])
    rows = ["", "## fsgate mcp vs the reference MCP filesystem server (stdio, p50 per call)",
            "", f"{figures['rounds']} rounds; ratio = fsgate / reference, target ≤ {TARGET}", "",
            "| tool | " + " | ".join(f"{n} ms" for n in names) + " | " +
            " | ".join(f"{n} ratio" for n in names[1:]) + " |",
            "|---" * (2 * len(names)) + "|"]
    for tool in TOOLS:
        ms = [figures["p50_ms"][n].get(tool) for n in names]
        ratios = [figures["over_reference"][n].get(tool) for n in names[1:]]
        rows.append(f"| {tool} | " + " | ".join("-" if v is None else f"{v:.2f}" for v in ms)
                    + " | " + " | ".join("-" if r is None else
                                         f"{r:.2f}x {'✓' if r <= TARGET else '✗'}"
                                         for r in ratios) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # python -m bench.mcp [ROUNDS]: this measurement alone
    import tempfile

    def _log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="fsgate-bench-mcp-") as tmp:
        result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 30, Path(tmp),
                         BACKENDS, _log)
    print(markdown(result))
