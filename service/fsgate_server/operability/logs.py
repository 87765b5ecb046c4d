"""structlog set-up: JSON lines in containers, readable console output on a TTY.

The console renderer colours its output only when the log stream is a terminal: the same
``--log-format console`` redirected to a file or a pipe gets plain text, no escape codes.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Values that must never reach a log line, whoever passes them by mistake: credentials and
# file contents. Call sites never log them; this processor is the second line of defence.
REDACTED_KEYS = frozenset({"authorization", "token", "tokens", "bearer", "password",
                           "secret", "data", "content", "payload", "metadata"})


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    for key in event.keys() & REDACTED_KEYS:
        event[key] = "[redacted]"
    return event


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def configure(fmt: str = "auto", level: str = "info") -> None:
    stream = sys.stderr
    tty = _is_tty(stream)
    if fmt == "auto":
        fmt = "console" if tty else "json"
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=tty) if fmt == "console"
        else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[  # every one runs for every request's log line: no contextvars (unused)
            redact_secrets,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        # configure() is called once, before anything logs (tests capture logs without it)
        cache_logger_on_first_use=True,
    )
