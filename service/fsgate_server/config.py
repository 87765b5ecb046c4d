"""Server configuration: one frozen value object whose fields are the one table of options.

Every option is declared once, as a field of :class:`Config` with its parser, unit, help
text and default; from that one declaration come its flag (``--max-read-bytes``), its
environment variable (``FSGATE_MAX_READ_BYTES``), its key in a TOML ``--config`` file
(``max_read_bytes = ...``) and its ``fsgate serve --help`` entry (:data:`OPTIONS`).
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


def _glob(text: Any) -> str:
    return validate_globs([text])[0]


def _option(default: Any, parse: Callable[[Any], Any], unit: str, help: str, *,
            metavar: str = "", name: str = "", multiple: bool = False) -> Any:
    """One option, declared as a Config field: the field's default, and in its metadata how
    the option is named (``name``, when it differs from the field), parsed and described."""
    spec = {"parse": parse, "unit": unit, "help": help, "metavar": metavar, "name": name,
            "multiple": multiple}
    return field(default=default, metadata={"option": spec})


@dataclass(frozen=True)
class Config:
    """The effective configuration; the server reads nothing else. Each field is one option."""

    roots: tuple[Root, ...] = _option(
        (), _list_of(Root.parse), "directory path",
        "a served root, read-write without a suffix; an existing directory; at least one "
        "is required",
        name="root", multiple=True, metavar="PATH[:rw|:ro]")
    listen: tuple[str, ...] = _option(
        ("127.0.0.1:50051",), _list_of(str), "address",
        "an address to serve gRPC on: HOST:PORT or unix:PATH", multiple=True, metavar="ADDR")
    sandbox: str = _option(
        "auto", _choice("auto", "landlock", "bwrap"), "backend name",
        "the helper sandbox backend: auto (the strongest that works here), landlock or bwrap",
        metavar="auto|landlock|bwrap")
    protected_paths: tuple[str, ...] = _option(
        DEFAULT_PROTECTED, _list_of(_glob), "glob",
        "a glob below each server root that stays readable but is never writable "
        "(case-insensitive), whatever a request narrows to; giving any replaces the default",
        name="protected_path", multiple=True, metavar="GLOB")
    max_read_bytes: int = _option(
        16 * GiB, _positive_int, "bytes",
        "the largest ReadFile range (the stream itself is bounded in memory)", metavar="BYTES")
    max_write_bytes: int = _option(
        16 * GiB, _positive_int, "bytes",
        "the largest WriteFile content; also the helper's RLIMIT_FSIZE", metavar="BYTES")
    max_list_depth: int = _option(
        16, _positive_int, "directory levels",
        "the deepest ListDir depth a request may ask for", metavar="N")
    max_list_entries: int = _option(
        1_000_000, _positive_int, "entries",
        "the most entries one walk may visit (ListDir fails TOO_LARGE past it; recursive "
        "Remove and Copy fail TOO_LARGE before changing anything; Search and Glob stop "
        "with truncated)", metavar="N")
    max_matches: int = _option(
        10_000, _positive_int, "matches",
        "the most Search matches or Glob results one request may ask for", metavar="N")
    max_watches: int = _option(
        64, _positive_int, "watch streams",
        "WatchDir streams open at once; more fail BUSY", metavar="N")
    max_watch_seconds: float = _option(
        3600.0, _positive_float, "seconds",
        "the longest one WatchDir stream lives before the server ends it", metavar="SECONDS")
    max_watched_dirs: int = _option(
        10_000, _positive_int, "directories",
        "the most directories one recursive WatchDir may watch (more: TOO_LARGE)", metavar="N")
    max_concurrent_helpers: int = _option(
        16, _positive_int, "helpers",
        "helpers running at once; more requests wait briefly (--queue-timeout), then fail BUSY",
        metavar="N")
    helper_pool_size: int = _option(
        4, _positive_int, "helpers",
        "helpers forked ahead of demand (landlock; bwrap keeps half of it per namespace)",
        metavar="N")
    helper_timeout: float = _option(
        300.0, _positive_float, "seconds",
        "the longest a helper may run for one request", metavar="SECONDS")
    queue_timeout: float = _option(
        2.0, _positive_float, "seconds",
        "how long a request waits for a free helper slot before BUSY", metavar="SECONDS")
    auth_token_file: str = _option(
        "", str, "file path",
        "file of accepted bearer tokens, one per line, reloaded on SIGHUP; empty: no auth",
        metavar="FILE")
    tls_cert: str = _option(
        "", str, "file path", "PEM server certificate; with --tls-key enables TLS",
        metavar="FILE")
    tls_key: str = _option(
        "", str, "file path", "PEM private key of --tls-cert", metavar="FILE")
    tls_client_ca: str = _option(
        "", str, "file path",
        "PEM CA bundle; when set, clients must present a certificate it signed (mTLS)",
        metavar="FILE")
    metrics_listen: str = _option(
        "", _host_port, "HOST:PORT",
        "where to serve Prometheus metrics (/metrics over HTTP); empty: no metrics",
        metavar="HOST:PORT")
    shutdown_grace: float = _option(
        10.0, _seconds(allow_zero=True), "seconds",
        "on SIGTERM/SIGINT, how long in-flight requests may run on before they are "
        "cancelled (0: at once)", metavar="SECONDS")
    log_format: str = _option(
        "auto", _choice("auto", "json", "console"), "format name",
        "json, console, or auto (console on a TTY, else JSON)", metavar="auto|json|console")
    log_level: str = _option(
        "info", _choice("debug", "info", "warning", "error"), "level name",
        "the least severe log level written: debug, info, warning or error", metavar="LEVEL")

    def describe(self) -> dict[str, Any]:
        """Every option by its one name (as in a --config file), with its effective value."""
        return {opt.name: opt.show(getattr(self, opt.field)) for opt in OPTIONS}


@dataclass(frozen=True)
class Option:
    """One option as the command line, the environment and a TOML file know it."""

    name: str  # the TOML key; the flag and the variable are spelled from it
    field: str  # the Config attribute
    parse: Callable[[Any], Any]
    default: Any
    unit: str
    help: str
    multiple: bool = False
    metavar: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "FSGATE_" + self.name.upper()

    def show(self, value: Any) -> Any:
        """value as --print-config shows it (JSON)."""
        if isinstance(value, tuple):
            return [f"{v.path}:{'rw' if v.writable else 'ro'}" if isinstance(v, Root) else v
                    for v in value]
        return value

    def describe_default(self) -> str:
        shown = self.show(self.default)
        if isinstance(shown, list):
            return ", ".join(shown) if shown else "none"
        if shown == "":
            return "empty (off)"
        if self.unit == "bytes" and shown % GiB == 0:
            return f"{shown} ({shown // GiB} GiB)"
        return f"{shown:g}" if isinstance(shown, float) else str(shown)

    def help_text(self) -> str:
        text = (f"{self.help}{'; repeatable' if self.multiple else ''}. "
                f"Default: {self.describe_default()}. Unit: {self.unit}. Env: {self.env}")
        return text.replace("%", "%%")  # argparse formats help with %


OPTIONS: tuple[Option, ...] = tuple(
    Option(name=f.metadata["option"]["name"] or f.name, field=f.name, default=f.default,
           **{k: v for k, v in f.metadata["option"].items() if k != "name"})
    for f in fields(Config))
"""Every option, in declaration order, derived from Config's fields."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--print-config`` and one flag per option, each with its --help entry."""
    parser.add_argument("--config", metavar="FILE",
                        help="TOML file with any of the options, by their names with "
                             "underscores (max_read_bytes = 1048576). Env: FSGATE_CONFIG")
    parser.add_argument("--print-config", action="store_true",
                        help="print the effective configuration as JSON and exit")
    for opt in OPTIONS:
        parser.add_argument(opt.flag, dest=opt.name, metavar=opt.metavar or None,
                            action="append" if opt.multiple else "store",
                            help=opt.help_text())


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
        source = opt.flag
        if raw is None and opt.env in environ:
            raw, source = environ[opt.env], opt.env
        if raw is None and opt.name in file_values:
            raw, source = file_values[opt.name], f"{opt.name} in {config_file}"
        if raw is None:
            continue
        try:
            if opt.multiple and source == opt.flag:
                parsed: Any = opt.parse(list(raw))  # one flag, one item: commas are literal
            else:
                parsed = opt.parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source}: invalid value {raw!r}: {exc}") from exc
        values[opt.field] = parsed
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
