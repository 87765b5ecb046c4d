"""Start-up sweep: remove temporaries that a crashed helper or server left in the writable
roots. It runs in a helper like any request (confined to the writable roots), in the
background, so start-up does not wait on a large workspace."""
from __future__ import annotations

import threading
import time

import structlog

from fsgate_server.backends.channel import Executor
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.config import Config
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import SweepArgs
from fsgate_server.policy import EffectivePolicy

log = structlog.get_logger("fsgate.sweep")


def sweep(executor: Executor, config: Config) -> None:
    writable = tuple(sorted(r.path for r in config.roots if r.writable))
    if not writable:
        return
    args = SweepArgs("/", EffectivePolicy(readable=writable, writable=writable, denied=()),
                     max_entries=config.max_list_entries, max_depth=64)
    try:
        done = HelperClient.over(executor, time.monotonic() + config.helper_timeout).sweep(args)
    except Failure as exc:
        log.warning("sweep_failed", reason=exc.reason.value, message=exc.message)
        return
    log.info("sweep_done", removed=done.removed, scanned=done.scanned)


def start_background_sweep(executor: Executor, config: Config) -> threading.Thread:
    thread = threading.Thread(target=sweep, args=(executor, config), name="fsgate-sweep",
                              daemon=True)
    thread.start()
    return thread
