"""The helper's environment: an allowlist, so nothing that could hold a secret gets through.

Everything not listed is dropped, which includes credentials (tokens, cloud keys) and the
variables that change what Python runs (PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONINSPECT,
LD_PRELOAD, ...).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ALLOWED", "ALLOWED_PREFIXES", "DEFAULT_PATH", "apply_env", "helper_env"]

ALLOWED = ("PATH", "TMPDIR", "TMP", "TEMP", "LANG", "LANGUAGE")
# Locale categories (LC_ALL, LC_CTYPE, ...): they only select translation and encoding.
ALLOWED_PREFIXES = ("LC_",)
# Where system tools (bwrap) live when the server itself was started without PATH.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def _allowed(name: str) -> bool:
    return name in ALLOWED or name.startswith(ALLOWED_PREFIXES)


def helper_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted subset of `environ`, values verbatim; PATH always present."""
    env = {name: value for name, value in environ.items() if _allowed(name)}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def apply_env(env: Mapping[str, str]) -> None:
    """Make the process environment exactly `env` (os.environ and the C environ alike)."""
    os.environ.clear()
    os.environ.update(env)
