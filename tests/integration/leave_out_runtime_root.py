"""Test-only launcher: ``python leave_out_runtime_root.py ROOT serve ...`` runs ``fsgate``
with the bwrap backend leaving the runtime root ROOT out of every helper's namespace.

The fault is injected here, through the executor's ``leave_out_runtime_roots`` seam, so
the product reads no test-only setting. test_runtime_roots_needed.py uses it to prove
that a helper whose namespace lacks a runtime root fails fast with HELPER_FAILED.
"""
from __future__ import annotations

import sys
from typing import Any

if __name__ == "__main__":
    del sys.path[0]  # this directory: nothing of the tests is imported into the server
    from fsgate_server import cli
    from fsgate_server.backends.bwrap import backend

    left_out = sys.argv[1]

    class _LeavingOut(backend.BwrapExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, leave_out_runtime_roots=(left_out,), **kwargs)

    backend.BwrapExecutor = _LeavingOut  # type: ignore[misc]  # what selection.start builds
    sys.exit(cli.main(sys.argv[2:]))
