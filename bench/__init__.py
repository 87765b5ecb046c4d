"""fsgate's benchmark harness: ``python -m bench`` (see ``python -m bench --help``).

It starts real servers (``fsgate serve`` on unix sockets, plus an unsandboxed baseline
that exists only here), drives them from a separate client process, and writes a markdown
table and JSON under ``bench/results/``.
"""
