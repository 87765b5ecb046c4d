"""Server configuration: one frozen value object, one table of options.

Every option has one name across the command line (``--max-read-bytes``), the environment
(``FSGATE_MAX_READ_BYTES``) and a TOML ``--config`` file (``max_read_bytes = ...``).
Precedence: flag > environment > file > default.
"""
from __future__ import annotations

import argparse
import math
import os
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from fsgate_server.policy import Root
from fsgate_server.protected import DEFAULT_PROTECTED
from fsgate_server.protected import validate as validate_globs

GiB = 1 << 30


@dataclass(frozen=True)
class Config:
    roots: tuple[Root, ...] = ()
    """Served roots; PATH[:rw|:ro], read-write without a suffix."""
    listen: tuple[str, ...] = ("127.0.0.1:50051",)
    """Addresses: HOST:PORT or unix:PATH."""
    sandbox: str = "auto"
    """Helper sandbox backend: auto, landlock or bwrap."""
    protected_paths: tuple[str, ...] = DEFAULT_PROTECTED
    """Globs below each server root that stay readable but are never writable
    (case-insensitive), whatever a request narrows to; giving --protected-path replaces
    the default."""
    max_read_bytes: int = 16 * GiB
    """Largest ReadFile range, in bytes (the stream itself is bounded in memory)."""
    max_write_bytes: int = 16 * GiB
    """Largest WriteFile content, in bytes; also the helper's RLIMIT_FSIZE."""
    max_list_depth: int = 16
    """Deepest ListDir depth a request may ask for."""
    max_list_entries: int = 1_000_000
    """Most entries one ListDir may scan before failing TOO_LARGE."""
    max_concurrent_helpers: int = 16
    """Helpers running at once; more requests wait briefly, then fail BUSY."""
    helper_pool_size: int = 4
    """Helpers forked ahead of demand (landlock backend)."""
    helper_timeout: float = 300.0
    """Longest a helper may run for one request, in seconds."""
    queue_timeout: float = 2.0
    """How long a request waits for a free helper slot before BUSY, in seconds."""
    auth_token_file: str = ""
    """File of accepted bearer tokens, one per line; reloaded on SIGHUP. Empty: no auth."""
    tls_cert: str = ""
    """PEM server certificate; with --tls-key enables TLS."""
    tls_key: str = ""
    """PEM private key of --tls-cert."""
    tls_client_ca: str = ""
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS)."""
    metrics_listen: str = ""
    """HOST:PORT to serve Prometheus metrics on (/metrics over HTTP). Empty: no metrics."""
    shutdown_grace: float = 10.0
    """On SIGTERM/SIGINT, how long in-flight requests may run on before they are cancelled,
    in seconds."""
    log_format: str = "auto"
    """json, console, or auto (console on a TTY, else JSON)."""
    log_level: str = "info"
    """debug, info, warning or error."""

    def describe(self) -> dict[str, Any]:
        """Every option by its one name (as in a --config file), with its effective value."""
        option_name = {v: k for k, v in _FIELD.items()}
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "roots":
                value = [f"{r.path}:{'rw' if r.writable else 'ro'}" for r in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[option_name.get(f.name, f.name)] = value
        return out


class ConfigError(ValueError):
    """A bad value for a named option."""


def _positive_int(text: Any) -> int:
    # bool is an int to Python and 1.5 truncates: neither is what a person meant.
    if isinstance(text, bool) or (isinstance(text, float) and not text.is_integer()):
        raise ValueError("must be a positive integer")
    try:
        value = int(text)
    except (ValueError, TypeError):
        raise ValueError("must be a positive integer") from None
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _seconds(*, allow_zero: bool) -> Callable[[Any], float]:
    what = "a non-negative" if allow_zero else "a positive"

    def parse(text: Any) -> float:
        if isinstance(text, bool):
            raise ValueError(f"must be {what} number of seconds")
        try:
            value = float(text)
        except (ValueError, TypeError):
            raise ValueError(f"must be {what} number of seconds") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"must be {what} number of seconds")
        return value

    return parse


_positive_float = _seconds(allow_zero=False)


def parse_host_port(text: Any) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` as (host, port); ValueError says what is wrong."""
    host, sep, port_text = str(text).rpartition(":")
    if not sep or not host:
        raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9090")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 0 to 65535")
    return host, int(port_text)


def _host_port(text: Any) -> str:
    parse_host_port(text)
    return str(text)


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(text: Any) -> str:
        value = str(text)
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def parse(value: Any) -> tuple[Any, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(item(v) for v in items if str(v))

    return parse


@dataclass(frozen=True)
class Option:
    name: str
    parse: Callable[[Any], Any]
    multiple: bool = False
    metavar: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


OPTIONS: tuple[Option, ...] = (
    Option("root", _list_of(Root.parse), multiple=True, metavar="PATH[:rw|:ro]"),
    Option("listen", _list_of(str), multiple=True, metavar="ADDR"),
    Option("sandbox", _choice("auto", "landlock", "bwrap")),
    Option("protected_path", _list_of(lambda g: validate_globs([g])[0]), multiple=True,
           metavar="GLOB"),
    Option("max_read_bytes", _positive_int, metavar="BYTES"),
    Option("max_write_bytes", _positive_int, metavar="BYTES"),
    Option("max_list_depth", _positive_int, metavar="N"),
    Option("max_list_entries", _positive_int, metavar="N"),
    Option("max_concurrent_helpers", _positive_int, metavar="N"),
    Option("helper_pool_size", _positive_int, metavar="N"),
    Option("helper_timeout", _positive_float, metavar="SECONDS"),
    Option("queue_timeout", _positive_float, metavar="SECONDS"),
    Option("auth_token_file", str, metavar="FILE"),
    Option("tls_cert", str, metavar="FILE"),
    Option("tls_key", str, metavar="FILE"),
    Option("tls_client_ca", str, metavar="FILE"),
    Option("metrics_listen", _host_port, metavar="HOST:PORT"),
    Option("shutdown_grace", _seconds(allow_zero=True), metavar="SECONDS"),
    Option("log_format", _choice("auto", "json", "console")),
    Option("log_level", _choice("debug", "info", "warning", "error")),
)
_FIELD = {"root": "roots", "protected_path": "protected_paths"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML file with any of the options")
    parser.add_argument("--print-config", action="store_true",
                        help="print the effective configuration as JSON and exit")
    for opt in OPTIONS:
        flag = "--" + opt.name.replace("_", "-")
        help_text = f"env FSGATE_{opt.name.upper()}"
        if opt.multiple:
            parser.add_argument(flag, dest=opt.name, action="append", metavar=opt.metavar,
                                help=f"repeatable; {help_text}")
        else:
            parser.add_argument(flag, dest=opt.name, metavar=opt.metavar or None,
                                help=help_text)


def load(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """Merge flags, environment, file and defaults into a Config; ConfigError names the option."""
    environ = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    config_file = getattr(args, "config", None) or environ.get("FSGATE_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                file_values = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {config_file}: {exc}") from exc
        unknown = set(file_values) - {o.name for o in OPTIONS}
        if unknown:
            raise ConfigError(f"--config {config_file}: unknown option(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        raw: Any = getattr(args, opt.name, None)
        source = "--" + opt.name.replace("_", "-")
        if raw is None and f"FSGATE_{opt.name.upper()}" in environ:
            raw, source = environ[f"FSGATE_{opt.name.upper()}"], f"FSGATE_{opt.name.upper()}"
        if raw is None and opt.name in file_values:
            raw, source = file_values[opt.name], f"{opt.name} in {config_file}"
        if raw is None:
            continue
        try:
            if opt.multiple and source.startswith("--"):
                parsed: Any = opt.parse(list(raw))  # one flag, one item: commas are literal
            else:
                parsed = opt.parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: invalid value {raw!r}: {exc}") from exc
        values[_FIELD.get(opt.name, opt.name)] = parsed
    return Config(**values)


def validate(config: Config) -> None:
    if not config.roots:
        raise ConfigError("--root: at least one root is required")
    if not config.listen:
        raise ConfigError("--listen: at least one address is required")
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigError("--tls-cert and --tls-key: give both or neither")
    if config.tls_client_ca and not config.tls_cert:
        raise ConfigError("--tls-client-ca: needs --tls-cert and --tls-key")


def check_roots(roots: Sequence[Root]) -> None:
    """Every served root must be an existing directory (followed through symlinks): a typo
    must not start a server that reports SERVING and answers NOT_FOUND to everything."""
    for root in roots:
        try:
            st = os.stat(root.path)
        except FileNotFoundError:
            raise ConfigError(f"--root {root.path}: no such directory; create it first "
                              f"(mkdir -p {root.path}) or fix the path") from None
        except OSError as exc:
            raise ConfigError(f"--root {root.path}: cannot be served: "
                              f"{exc.strerror or exc}") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"--root {root.path}: not a directory; a root is a directory "
                              "whose tree is served (serve its parent to reach this file)")


def parse_args_for_test(argv: Sequence[str]) -> Config:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load(parser.parse_args(list(argv)), environ={})
