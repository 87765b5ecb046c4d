"""``python -m bench.baseline_server`` — the benchmark's unsandboxed baseline server.

Takes the same options as ``fsgate serve`` and runs the same server assembly
(``fsgate_server.transport.server.start``) with bench/inprocess.py's executor injected. This entry
point lives in bench/ on purpose: the product has no unsandboxed mode.
"""
from __future__ import annotations

import argparse
import sys

from fsgate_server import config as config_mod
from fsgate_server.operability import logs
from fsgate_server.transport import server

from .inprocess import InProcessExecutor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.baseline_server")
    config_mod.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.load(args)
        config_mod.validate(cfg)
        logs.configure(cfg.log_format, cfg.log_level)
        running = server.start(cfg, executor=InProcessExecutor())
    except config_mod.ConfigError as exc:
        print(f"bench.baseline_server: {exc}", file=sys.stderr)
        return 2
    server.serve_forever(running, cfg.shutdown_grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
