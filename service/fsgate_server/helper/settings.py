"""What a helper is confined to: the settings shared by every helper, and how one request's
effective policy becomes the kernel-facing Confinement."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from fsgate_server.helper.messages import Request
from fsgate_server.sandbox.confine import Confinement, confine
from fsgate_server.sandbox.rlimits import Limits


@dataclass(frozen=True)
class HelperSettings:
    """Same for every helper of one server."""

    runtime_roots: tuple[str, ...]
    limits: Limits
    landlock: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"runtime_roots": list(self.runtime_roots), "limits": asdict(self.limits),
                "landlock": self.landlock}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HelperSettings:
        return cls(runtime_roots=tuple(obj["runtime_roots"]), limits=Limits(**obj["limits"]),
                   landlock=bool(obj["landlock"]))


def confinement_for(req: Request, settings: HelperSettings, keep_fds: tuple[int, ...]
                    ) -> Confinement:
    """Least privilege: only a request that ``writes`` gets the writable set as writable,
    and only with the Landlock rights its operation needs (``rights``)."""
    writable = req.policy.writable if req.writes else ()
    readable = tuple(p for p in req.policy.readable if p not in writable)
    return Confinement(read_exec=settings.runtime_roots, read=readable, write=writable,
                       limits=settings.limits, keep_fds=keep_fds, landlock=settings.landlock,
                       write_rights=req.rights, allow_syscalls=req.syscalls)


def confiner(settings: HelperSettings, keep_fds: tuple[int, ...]) -> Callable[[Request], None]:
    def confine_request(req: Request) -> None:
        confine(confinement_for(req, settings, keep_fds))

    return confine_request


def confiner_from_json(obj: dict[str, Any], keep_fds: tuple[int, ...]
                       ) -> Callable[[Request], None]:
    return confiner(HelperSettings.from_json(obj), keep_fds)
