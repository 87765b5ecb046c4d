"""What a helper is asked and what it answers with: the request, the error it reports,
and the facts (FileInfo as a dict) it sends back about a file."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any

try:  # hashlib's own blake2b, without the OpenSSL start-up hashlib costs an exec'd helper
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

from fsgate_server.helper import protocol
from fsgate_server.policy import EffectivePolicy


@dataclass(frozen=True)
class Request:
    op: str
    path: str
    policy: EffectivePolicy
    args: dict[str, Any]

    @classmethod
    def from_json(cls, obj: Any) -> Request:
        try:
            policy = EffectivePolicy(
                readable=tuple(obj["readable"]),
                writable=tuple(obj["writable"]),
                denied=tuple(obj["denied"]),
                protected=tuple(obj.get("protected", ())),
                protection_roots=tuple(obj.get("protection_roots", ())),
            )
            return cls(op=str(obj["op"]), path=str(obj["path"]), policy=policy,
                       args=dict(obj.get("args", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise protocol.ProtocolError(f"bad request: {exc!r}") from exc

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "readable": list(self.policy.readable),
                "writable": list(self.policy.writable), "denied": list(self.policy.denied),
                "protected": list(self.policy.protected),
                "protection_roots": list(self.policy.protection_roots), "args": self.args}


# --- file facts ---------------------------------------------------------------------------

def version_of(st: os.stat_result) -> str:
    """Changes whenever content or metadata changes: ctime moves on every such change."""
    key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_mode}"
    return blake2b(key.encode(), digest_size=12).hexdigest()


def file_type(mode: int) -> int:
    if stat.S_ISREG(mode):
        return 1
    if stat.S_ISDIR(mode):
        return 2
    if stat.S_ISLNK(mode):
        return 3
    return 4


def info_of(path: str, st: os.stat_result, symlink_target: str = "") -> dict[str, Any]:
    return {"path": path, "type": file_type(st.st_mode), "size": st.st_size,
            "mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns,
            "version": version_of(st), "symlink_target": symlink_target}


