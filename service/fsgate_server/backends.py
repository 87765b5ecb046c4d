"""Backend selection: probe what works on this host and start the chosen executor."""
from __future__ import annotations

from dataclasses import dataclass

from .confinement import HelperSettings
from .executor import Executor
from .sandbox import landlock

MIN_LANDLOCK_ABI = 1


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str


class BackendUnavailable(RuntimeError):
    """No requested backend works here; the message says what is missing and what to do."""


def probe_landlock() -> Probe:
    abi = landlock.abi_version()
    if abi == 0:
        return Probe("landlock", False,
                     "Landlock is not available: the kernel lacks CONFIG_SECURITY_LANDLOCK or "
                     "'landlock' is missing from the lsm= boot parameter (Linux >= 5.13 "
                     "needed); use --sandbox bwrap or enable Landlock")
    if abi < MIN_LANDLOCK_ABI:
        return Probe("landlock", False, f"Landlock ABI {abi} is older than {MIN_LANDLOCK_ABI}")
    return Probe("landlock", True, f"Landlock ABI {abi}")


PROBES = {"landlock": probe_landlock}
PREFERENCE = ("landlock",)


def probe_all() -> list[Probe]:
    return [PROBES[name]() for name in PREFERENCE]


def choose(requested: str) -> str:
    """The backend to use for --sandbox requested, or BackendUnavailable saying why not."""
    names = PREFERENCE if requested == "auto" else (requested,)
    reasons = []
    for name in names:
        if name not in PROBES:
            reasons.append(f"{name}: not supported by this build")
            continue
        probe = PROBES[name]()
        if probe.ok:
            return name
        reasons.append(f"{name}: {probe.detail}")
    raise BackendUnavailable("no sandbox backend works on this host: " + "; ".join(reasons))


def start(name: str, settings: HelperSettings, *, pool_size: int,
          acquire_timeout: float) -> Executor:
    if name == "landlock":
        from .pool import ForkServerExecutor

        return ForkServerExecutor(settings, size=pool_size, acquire_timeout=acquire_timeout)
    raise BackendUnavailable(f"unknown backend {name!r}")
