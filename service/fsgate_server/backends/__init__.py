"""Starting and talking to helpers, in the server process: the channel to one helper
(channel.py), backend selection and probes (selection.py), the landlock fork-server pool
(pool.py, launcher.py), the bwrap backend (bwrap/), and the start-up sweep (sweep.py)."""
from __future__ import annotations

__all__ = ["BackendUnavailable"]


class BackendUnavailable(RuntimeError):
    """No requested backend works here; the message says what is missing and what to do."""
