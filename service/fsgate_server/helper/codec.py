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

Speed: every message on the hot path goes through here twice, and a ListDir page holds a
thousand entries. So for each message class the codec also generates (as ``dataclasses``
generates ``__init__``) a straight-line encoder and a fast decoder. The fast decoder only
accepts what the checked decoder accepts, and gives up on anything else (``_Invalid``):
the checked decoder then runs and says precisely what is wrong. A valid message pays no
per-field dispatch and no error-message formatting.
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
_ENCODERS: dict[type, Callable[[Any], Any]] = {}


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _encode_expr(tp: Any, expr: str, env: dict[str, Any], depth: int = 0) -> str:
    """A Python expression turning ``expr``, of declared type ``tp``, into plain JSON data."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in (bool, str, int):
        return expr
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        # json writes an int or str member as its value already (and a plain value as is)
        return expr if issubclass(tp, int | str) else f"_enum_value({expr})"
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return f"(None if {expr} is None else {_encode_expr(inner, expr, env, depth)})"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = f"x{depth}"
        return f"[{_encode_expr(args[0], item, env, depth + 1)} for {item} in {expr}]"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        name = f"_encode_{tp.__name__}_{id(tp):x}"

        def first_call(v: Any, cls: type = tp, name: str = name) -> Any:
            env[name] = made = _encoder(cls)  # later calls go straight to it
            return made(v)

        env[name] = first_call
        return f"{name}({expr})"
    return f"_plain({expr})"  # not a declared message field type: the generic path


def _encoder(cls: type) -> Callable[[Any], Any]:
    """cls's generated encoder: one dict display of its fields (``op`` first, for a request)."""
    found = _ENCODERS.get(cls)
    if found is not None:
        return found
    hints = typing.get_type_hints(cls)
    env: dict[str, Any] = {"_enum_value": _enum_value, "_plain": _plain}
    items = [f"'op': {cls.op!r}"] if isinstance(cls, type) and issubclass(cls, Request) else []
    items += [f"{f.name!r}: {_encode_expr(hints[f.name], f'v.{f.name}', env)}"
              for f in dataclasses.fields(cls)]
    exec(f"def encode(v):\n    return {{{', '.join(items)}}}\n", env)  # generated: see above
    made: Callable[[Any], Any] = env["encode"]
    _ENCODERS[cls] = made
    return made


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
    cls = type(msg)
    obj = _encoder(cls)(msg) if dataclasses.is_dataclass(cls) else _plain(msg)
    return _dumps(obj).encode("utf-8", "surrogatepass")


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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


# --- the fast decoders ------------------------------------------------------------------------

class _Invalid(Exception):
    """The fast path gives up: the checked decoder will say what is wrong."""


_INVALID = _Invalid()
_Fast = Callable[[Any], Any]


def _fast_scalar_check(tp: Any, meta: typing.Mapping[str, Any], x: str) -> str | None:
    """The condition under which value ``x`` of scalar type tp is refused, or None."""
    if tp is bool or tp is str:
        return f"type({x}) is not {tp.__name__}"
    if tp is int:
        low, high = meta.get("min", 0), meta.get("max", UINT64_MAX)
        return f"type({x}) is not int or not {low} <= {x} <= {high}"
    return None


def _fast_tuple(inner: Any, meta: typing.Mapping[str, Any], env: dict[str, Any]) -> _Fast:
    check = _fast_scalar_check(inner, meta, "e")
    if check is not None:
        src = (f"def items(x):\n    if type(x) is not list:\n        raise _INVALID\n"
               f"    for e in x:\n        if {check}:\n            raise _INVALID\n"
               f"    return tuple(x)\n")
    else:
        env["convert"] = _fast_value(inner, meta)
        src = ("def items(x):\n    if type(x) is not list:\n        raise _INVALID\n"
               "    return tuple([convert(e) for e in x])\n")
    scope = {"_INVALID": _INVALID, **env}
    exec(src, scope)  # generated: see the module docstring
    made: _Fast = scope["items"]
    return made


def _fast_value(tp: Any, meta: typing.Mapping[str, Any]) -> _Fast:
    """A function converting one JSON value of type tp, raising _Invalid when in doubt."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    check = _fast_scalar_check(tp, meta, "x")
    src = ""
    env: dict[str, Any] = {"_INVALID": _INVALID}
    if check is not None:
        src = f"def value(x):\n    if {check}:\n        raise _INVALID\n    return x\n"
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        base = "int" if issubclass(tp, int) else "str"
        env["members"] = {m.value: m for m in tp}  # calling the enum costs ~1 µs a value
        src = f"def value(x):\n    if type(x) is not {base}:\n        raise _INVALID\n" \
              "    return members[x]\n"  # KeyError: _Invalid's job, done by the caller
    elif origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        env["inner"] = _fast_value(next(a for a in args if a is not type(None)), meta)
        src = "def value(x):\n    return None if x is None else inner(x)\n"
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _fast_tuple(args[0], meta, {})
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _fast_object(tp)
    else:
        raise TypeError(f"the codec cannot carry {tp!r}")
    exec(src, env)  # generated: see the module docstring
    made: _Fast = env["value"]
    return made


def _fast_object(cls: type, skip: tuple[str, ...] = ()) -> _Fast:
    """cls's fast decoder: every field checked in line, the instance made in one call."""
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if any(f.default_factory is not dataclasses.MISSING for f in fields):
        raise TypeError(f"{cls.__name__}: the codec cannot carry a default_factory")
    env: dict[str, Any] = {"_INVALID": _INVALID, "cls": cls, "new": object.__new__,
                           "names": frozenset(f.name for f in fields) | set(skip)}
    lines = ["def decode(raw):", "    if type(raw) is not dict or not names.issuperset(raw):",
             "        raise _INVALID"]
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            lines.append(f"    a{i} = raw[{f.name!r}]")  # KeyError: the checked decoder's
        else:  # a default is a valid value: it passes the same check
            env[f"default{i}"] = f.default
            lines.append(f"    a{i} = raw.get({f.name!r}, default{i})")
        check = _fast_scalar_check(hints[f.name], f.metadata, f"a{i}")
        if check is not None:
            lines += [f"    if {check}:", "        raise _INVALID"]
        else:
            env[f"convert{i}"] = _fast_value(hints[f.name], f.metadata)
            lines.append(f"    a{i} = convert{i}(a{i})")
    values = ", ".join(f"{f.name}=a{i}" for i, f in enumerate(fields))
    if hasattr(cls, "__post_init__") or "__slots__" in vars(cls):
        lines.append(f"    return cls({values})")
    else:
        # What pickle does: a frozen instance's attributes set without __init__, which has
        # nothing left to check (each value was) and costs ~3 µs an instance.
        lines += ["    made = new(cls)", f"    made.__dict__.update({values})", "    return made"]
    exec("\n".join(lines) + "\n", env)  # generated: see the module docstring
    made: _Fast = env["decode"]
    return made


# Anything the fast path trips on (a missing field, a wrong type, a value __post_init__ or
# an enum refuses) is the checked decoder's to report.
_GIVE_UP = (_Invalid, KeyError, TypeError, ValueError)

_ANSWERS: dict[type, tuple[_Fast, _Decoder]] = {
    cls: (_fast_object(cls), _object(cls)) for cls in ANSWERS}
_REQUESTS: dict[str, tuple[_Fast, _Decoder]] = {
    cls.op: (_fast_object(cls, skip=("op",)), _object(cls, skip=("op",))) for cls in REQUESTS}


def decode(payload: bytes, cls: type[M]) -> M:
    """An answer of type cls (one of messages.ANSWERS), or ProtocolError."""
    fast, checked = _ANSWERS[cls]
    raw = _load(payload)
    try:
        decoded: M = fast(raw)
    except _GIVE_UP:
        decoded = checked(raw, cls.__name__)
    return decoded


def decode_request(payload: bytes) -> Request:
    """Whichever request the payload names by its op, or ProtocolError."""
    raw = _load(payload)
    op = raw.get("op") if type(raw) is dict else None
    if type(op) is not str or op not in _REQUESTS:
        raise _bad("request", f"an object whose op is one of {sorted(_REQUESTS)}", op)
    fast, checked = _REQUESTS[op]
    try:
        req: Request = fast(raw)
    except _GIVE_UP:
        req = checked(raw, op)
    return req
