"""The one codec of the helper conversation: a message of messages.py as the JSON payload of
a frame (protocol.py: UTF-8, non-ASCII as itself, surrogates as surrogatepass bytes), and
back, checked.

Decoding trusts nothing: the peer may be a confused or compromised helper. Every field must
be present (or have a default), of its declared type (a bool is not an int), within its
bounds; unknown fields are refused. Anything else is a ``protocol.ProtocolError``, never a
KeyError or TypeError. The field list and types come from the dataclasses themselves, so a
new message needs nothing here.

A request travels as ``{"op": ..., "path": ..., "policy": {...}, <its own fields>}``; an
answer as its fields. Nested messages are objects, tuples are arrays, enums their values.
"""
from __future__ import annotations

import dataclasses
import enum
import json
import socket
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from fsgate_server.helper import protocol
from fsgate_server.helper.messages import ANSWERS, REQUESTS, Request
from fsgate_server.helper.protocol import Kind, ProtocolError

__all__ = ["decode", "decode_request", "encode", "send"]

M = TypeVar("M")
_Decoder = Callable[[Any, str], Any]
UINT64_MAX = (1 << 64) - 1


# --- encoding -------------------------------------------------------------------------------

_SCALARS = frozenset({str, int, bool, type(None)})


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    # Scalars first, and the field names once per class: a watch's EVENT frame carries
    # hundreds of messages.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if kind is tuple:
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _names(kind)}
    return value


def encode(msg: object) -> bytes:
    """The payload of a REQUEST (a Request subclass), RESULT or ERROR frame."""
    obj = _plain(msg)
    if isinstance(msg, Request):
        obj = {"op": msg.op, **obj}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass")


def send(sock: socket.socket, kind: Kind, msg: object) -> None:
    protocol.send(sock, kind, encode(msg))


# --- decoding -------------------------------------------------------------------------------

def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:  # also an integer too long to convert
        raise ProtocolError(f"bad JSON payload: {exc}") from exc


def _bad(where: str, want: str, raw: Any) -> ProtocolError:
    text = repr(raw)
    return ProtocolError(f"{where}: expected {want}, got {text[:80]}")


def _scalar(kind: type) -> _Decoder:
    def check(raw: Any, where: str) -> Any:
        if type(raw) is not kind:  # exactly: JSON true is no int, 1 no bool
            raise _bad(where, kind.__name__, raw)
        return raw

    return check


def _integer(low: int, high: int) -> _Decoder:
    def check(raw: Any, where: str) -> int:
        if type(raw) is not int:
            raise _bad(where, "an integer", raw)
        if not low <= raw <= high:
            raise _bad(where, f"an integer in [{low}, {high}]", raw)
        return raw

    return check


def _enum(cls: type[enum.Enum]) -> _Decoder:
    base = _scalar(int if issubclass(cls, int) else str)

    def check(raw: Any, where: str) -> Any:
        try:
            return cls(base(raw, where))
        except ValueError:
            raise _bad(where, f"a {cls.__name__}", raw) from None

    return check


def _optional(inner: _Decoder) -> _Decoder:
    def check(raw: Any, where: str) -> Any:
        return None if raw is None else inner(raw, where)

    return check


def _tuple_of(inner: _Decoder) -> _Decoder:
    def check(raw: Any, where: str) -> tuple[Any, ...]:
        if type(raw) is not list:
            raise _bad(where, "an array", raw)
        return tuple(inner(item, f"{where}[{i}]") for i, item in enumerate(raw))

    return check


def _decoder(tp: Any, meta: typing.Mapping[str, Any]) -> _Decoder:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool or tp is str:
        return _scalar(tp)
    if tp is int:
        return _integer(meta.get("min", 0), meta.get("max", UINT64_MAX))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return _optional(_decoder(next(a for a in args if a is not type(None)), meta))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_of(_decoder(args[0], meta))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _object(tp)
    raise TypeError(f"the codec cannot carry {tp!r}")  # a message declared wrong: at import


def _object(cls: type, skip: tuple[str, ...] = ()) -> _Decoder:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _decoder(hints[f.name], f.metadata),
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
              for f in dataclasses.fields(cls) if f.init]
    names = {name for name, _, _ in fields} | set(skip)

    def check(raw: Any, where: str) -> Any:
        if type(raw) is not dict:
            raise _bad(where, f"a {cls.__name__} object", raw)
        extra = raw.keys() - names
        if extra:
            raise ProtocolError(f"{where}: unknown fields {sorted(extra)[:5]}")
        values = {}
        for name, decode_field, required in fields:
            if name in raw:
                values[name] = decode_field(raw[name], f"{where}.{name}")
            elif required:
                raise ProtocolError(f"{where}: {name} is missing")
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:  # a __post_init__ that refuses the values
            raise ProtocolError(f"{where}: {exc}") from exc

    return check


_ANSWERS: dict[type, _Decoder] = {cls: _object(cls) for cls in ANSWERS}
_REQUESTS: dict[str, _Decoder] = {cls.op: _object(cls, skip=("op",)) for cls in REQUESTS}


def decode(payload: bytes, cls: type[M]) -> M:
    """An answer of type cls (one of messages.ANSWERS), or ProtocolError."""
    decoded: M = _ANSWERS[cls](_load(payload), cls.__name__)
    return decoded


def decode_request(payload: bytes) -> Request:
    """Whichever request the payload names by its op, or ProtocolError."""
    raw = _load(payload)
    op = raw.get("op") if type(raw) is dict else None
    if type(op) is not str or op not in _REQUESTS:
        raise _bad("request", f"an object whose op is one of {sorted(_REQUESTS)}", op)
    req: Request = _REQUESTS[op](raw, op)
    return req
