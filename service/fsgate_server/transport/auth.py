"""Bearer-token authentication: a server interceptor and a token file reloaded on SIGHUP.

The token file holds one token per line (blank lines and ``#`` comments ignored). Tokens are
compared in constant time and never logged. The standard health service stays open so that
probes (kubelet's gRPC probe cannot send metadata) keep working.
"""
from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import structlog
from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.transport.status import to_status

log = structlog.get_logger("fsgate.auth")

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


class TokenFileError(ValueError):
    """The token file is missing, unreadable or holds no token."""


def read_tokens(path: Path) -> tuple[bytes, ...]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise TokenFileError(f"--auth-token-file {path}: {exc.strerror}") from exc
    tokens = tuple(line.strip().encode() for line in text.splitlines()
                   if line.strip() and not line.strip().startswith("#"))
    if not tokens:
        raise TokenFileError(f"--auth-token-file {path}: no token in the file")
    return tokens


class TokenStore:
    """The accepted tokens; reload() swaps them atomically (on SIGHUP)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens = read_tokens(path)
        self._lock = threading.Lock()

    def reload(self) -> None:
        try:
            tokens = read_tokens(self.path)
        except TokenFileError as exc:
            log.error("token_reload_failed", error=str(exc))  # keep serving the old set
            return
        with self._lock:
            self._tokens = tokens
        log.info("tokens_reloaded", count=len(tokens))

    def accepts(self, presented: bytes) -> bool:
        with self._lock:
            tokens = self._tokens
        ok = False
        for token in tokens:  # no early exit: time does not depend on which token matched
            ok |= hmac.compare_digest(token, presented)
        return ok


def bearer(metadata: Any) -> bytes | None:
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, credential = text.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip().encode()
            return None
    return None


def _denied(kind: str) -> grpc.RpcMethodHandler[Any, Any]:
    err = Failure(Reason.UNAUTHENTICATED, "missing or invalid bearer token")

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort_with_status(to_status(err))

    def stream_in(request_iterator: Any, context: grpc.ServicerContext) -> Any:
        context.abort_with_status(to_status(err))

    def stream_out(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort_with_status(to_status(err))
        yield  # pragma: no cover - makes this a generator

    def stream_both(request_iterator: Any, context: grpc.ServicerContext) -> Any:
        context.abort_with_status(to_status(err))
        yield  # pragma: no cover

    makers: dict[str, Callable[[Any], grpc.RpcMethodHandler[Any, Any]]] = {
        "uu": lambda f: grpc.unary_unary_rpc_method_handler(f),
        "su": lambda f: grpc.stream_unary_rpc_method_handler(f),
        "us": lambda f: grpc.unary_stream_rpc_method_handler(f),
        "ss": lambda f: grpc.stream_stream_rpc_method_handler(f),
    }
    impl = {"uu": unary, "su": stream_in, "us": stream_out, "ss": stream_both}[kind]
    return makers[kind](impl)


class TokenAuthInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]  # stubs-only generic
    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def intercept_service(self, continuation: Callable[[Any], Any],
                          handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            return continuation(handler_call_details)
        presented = bearer(handler_call_details.invocation_metadata)
        if presented is not None and self.store.accepts(presented):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        kind = ("s" if handler.request_streaming else "u") + (
            "s" if handler.response_streaming else "u")
        return _denied(kind)


def server_credentials(cert: Path, key: Path, client_ca: Path | None
                       ) -> grpc.ServerCredentials:
    """TLS, and mutual TLS when a client CA is given."""
    try:
        pair = (key.read_bytes(), cert.read_bytes())
        ca = client_ca.read_bytes() if client_ca else None
    except OSError as exc:
        raise TokenFileError(f"TLS file {exc.filename}: {exc.strerror}") from exc
    return grpc.ssl_server_credentials([pair], root_certificates=ca,
                                       require_client_auth=client_ca is not None)
