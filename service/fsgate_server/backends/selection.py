"""Backend selection: probe what works on this host and start the chosen executor."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fsgate_server.backends import BackendUnavailable
from fsgate_server.backends.channel import Executor
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.policy import Root
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.env import helper_env

MIN_LANDLOCK_ABI = 1


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str



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


BWRAP_PROBE_TIMEOUT = 10.0  # seconds; a working bwrap needs a few milliseconds


def probe_bwrap() -> Probe:
    """Find bwrap on the preserved PATH and run it once with the executor's namespaces."""
    from fsgate_server.backends.bwrap.launch import find_bwrap
    from fsgate_server.backends.bwrap.plan import NAMESPACE_FLAGS

    bwrap = find_bwrap()
    if bwrap is None:
        return Probe("bwrap", False,
                     "bubblewrap is not installed (no bwrap on PATH "
                     f"{helper_env(os.environ)['PATH']}): apt-get install bubblewrap (or "
                     "dnf/apk add bubblewrap), or use --sandbox landlock")
    argv = [bwrap, *NAMESPACE_FLAGS, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
            "--", sys.executable, "-S", "-c", ""]
    try:
        done = subprocess.run(argv, env=helper_env(os.environ), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=BWRAP_PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Probe("bwrap", False, f"{bwrap} did not finish a trivial sandbox within "
                     f"{BWRAP_PROBE_TIMEOUT:g} s; use --sandbox landlock")
    except OSError as exc:
        return Probe("bwrap", False, f"cannot run {bwrap}: {exc}; reinstall bubblewrap "
                     "(apt-get install --reinstall bubblewrap) or use --sandbox landlock")
    if done.returncode == 0:
        return Probe("bwrap", True, f"{bwrap} (user, pid, net, ipc, uts, cgroup namespaces)")
    stderr = done.stderr.decode("utf-8", "replace").strip()
    return Probe("bwrap", False, _bwrap_failure(bwrap, done.returncode, stderr))


def _sysctl(name: str) -> str | None:
    try:
        with open("/proc/sys/" + name.replace(".", "/"), encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def _bwrap_failure(bwrap: str, status: int, stderr: str) -> str:
    """What is missing, and what to do, from a failed trial run and the host's sysctls."""
    said = f"{bwrap} failed (exit {status}): {stderr or 'no message'}"
    if _sysctl("user.max_user_namespaces") == "0":
        return (f"{said}; user namespaces are disabled (user.max_user_namespaces = 0): "
                "sysctl -w user.max_user_namespaces=15000, or use --sandbox landlock")
    if os.geteuid() != 0 and _sysctl("kernel.unprivileged_userns_clone") == "0":
        return (f"{said}; unprivileged user namespaces are disabled "
                "(kernel.unprivileged_userns_clone = 0): sysctl -w "
                "kernel.unprivileged_userns_clone=1, or use --sandbox landlock")
    if os.geteuid() != 0 and _sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return (f"{said}; AppArmor restricts unprivileged user namespaces: give bwrap an "
                "AppArmor profile that allows userns, or sysctl -w "
                "kernel.apparmor_restrict_unprivileged_userns=0, or use --sandbox landlock")
    if "proc" in stderr:
        return (f"{said}; a new /proc cannot be mounted here (a container with a masked "
                "/proc, e.g. Kubernetes without procMount: Unmasked): use --sandbox landlock")
    if "namespace" in stderr or "uid map" in stderr or "Operation not permitted" in stderr:
        return (f"{said}; user namespaces are not usable here (a container runtime's seccomp "
                "profile or a missing CAP_SYS_ADMIN may block them): allow unshare(2) for "
                "the server, or use --sandbox landlock")
    return f"{said}; use --sandbox landlock"


PROBES = {"bwrap": probe_bwrap, "landlock": probe_landlock}
# Strongest first: bwrap builds the namespace from nothing and applies Landlock inside.
PREFERENCE = ("bwrap", "landlock")


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


def start(name: str, settings: HelperSettings, *, pool_size: int, acquire_timeout: float,
          roots: Sequence[Root]) -> Executor:
    if name == "landlock":
        from fsgate_server.backends.pool import ForkServerExecutor, SupervisedForkServer

        return SupervisedForkServer(lambda: ForkServerExecutor(
            settings, size=pool_size, acquire_timeout=acquire_timeout))
    if name == "bwrap":
        from fsgate_server.backends.bwrap.backend import BwrapExecutor

        # Landlock inside the namespace is a second wall wherever the kernel has it.
        return BwrapExecutor(replace(settings, landlock=landlock.abi_version() > 0),
                             roots=roots, warm=max(1, pool_size // 2))
    raise BackendUnavailable(f"unknown backend {name!r}")
