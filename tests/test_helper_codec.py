"""The helper conversation's codec (helper/codec.py): every message of messages.py survives
encode -> decode unchanged, and anything malformed is a ProtocolError, never another
exception (the peer may be a confused or compromised helper).

The strategies and the mutations are derived from the dataclasses, like the codec itself:
a new message is covered by adding it to REQUESTS or ANSWERS."""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import types
import typing
from typing import Any

import pytest
from fsgate_server.helper import codec
from fsgate_server.helper.messages import ANSWERS, REQUESTS, FileFacts, Request, StatArgs
from fsgate_server.helper.protocol import ProtocolError
from fsgate_server.policy import EffectivePolicy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

UINT64_MAX = (1 << 64) - 1
MESSAGES: tuple[type, ...] = (*REQUESTS, *ANSWERS)

# Names as a helper sees them: any text, and bytes that are not UTF-8 (surrogate-escaped).
TEXT = st.one_of(st.text(max_size=20), st.binary(max_size=20).map(os.fsdecode))


def strategy(tp: Any, meta: typing.Mapping[str, Any]) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return st.booleans()
    if tp is str:
        return TEXT
    if tp is int:
        return st.integers(meta.get("min", 0), meta.get("max", UINT64_MAX))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(tp)
    if origin in (typing.Union, types.UnionType):
        return st.none() | strategy(next(a for a in args if a is not type(None)), meta)
    if origin is tuple:
        return st.lists(strategy(args[0], meta), max_size=3).map(tuple)
    assert isinstance(tp, type) and dataclasses.is_dataclass(tp), tp
    return message(tp)


def message(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy(hints[f.name], f.metadata)
                             for f in dataclasses.fields(cls) if f.init})


def roundtrip(msg: Any) -> Any:
    payload = codec.encode(msg)
    return codec.decode_request(payload) if isinstance(msg, Request) else codec.decode(
        payload, type(msg))


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_survives_the_codec(cls: type, data: st.DataObject) -> None:
    msg = data.draw(message(cls))
    back = roundtrip(msg)
    assert back == msg and type(back) is type(msg)


def test_non_ascii_travels_as_itself_and_non_utf8_as_surrogatepass_bytes() -> None:
    facts = FileFacts(path="/ws/\u00e9" + os.fsdecode(b"\xff"), type=1,  # type: ignore[arg-type]  # a plain int
                      size=0, mode=0, mtime_ns=0, version="v")
    payload = codec.encode(facts)
    assert "\u00e9".encode() in payload and b"\\u" not in payload
    assert codec.decode(payload, FileFacts).path == facts.path


# --- malformed ------------------------------------------------------------------------------

POLICY = EffectivePolicy(readable=("/ws",), writable=("/ws",), denied=())


def least(tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    """A valid value of type tp (a tuple holds one element, an optional its value)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return False
    if tp is str:
        return "x"
    if tp is int:
        return meta.get("min", 0)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp))
    if origin in (typing.Union, types.UnionType):
        return least(next(a for a in args if a is not type(None)), meta)
    if origin is tuple:
        return (least(args[0], meta),)
    return tp(**{name: least(t, m) for name, t, m in fields_of(tp)})


def sample(cls: type) -> Any:
    """One valid instance of cls, as plain JSON (every field present)."""
    obj = json.loads(codec.encode(least(cls, {})))
    decode_raw(cls, obj)  # valid indeed
    return obj


def wrong_values(tp: Any, meta: typing.Mapping[str, Any]) -> list[Any]:
    """JSON values a field of type tp must refuse."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # None is fine; what the inner refuses is not
        return [v for v in wrong_values(next(a for a in args if a is not type(None)), meta)
                if v is not None]
    if tp is bool:
        return [None, 0, 1, "true", []]
    if tp is str:
        return [None, 1, True, ["x"], {"x": 1}]
    if tp is int:
        low, high = meta.get("min", 0), meta.get("max", UINT64_MAX)
        return [None, True, 1.0, "1", [], low - 1, high + 1]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [None, "1", True, max(m.value for m in tp) + 1, 0]
    if origin is tuple:
        return [None, "x", {}, [None], 1]
    return [None, [], "x", 1, {"unknown": 1}]


def fields_of(cls: type) -> list[tuple[str, Any, typing.Mapping[str, Any]]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name], f.metadata) for f in dataclasses.fields(cls) if f.init]


def decode_raw(cls: type, obj: Any) -> Any:
    payload = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return codec.decode_request(payload) if issubclass(cls, Request) else codec.decode(
        payload, cls)


def malformed(cls: type) -> list[tuple[str, Any]]:
    """(what, payload object) pairs: each field missing (if required) or wrong, an unknown
    field, and not an object at all."""
    good = sample(cls)
    not_objects: list[Any] = [[], "x", 1, None]
    cases: list[tuple[str, Any]] = [("not an object", v) for v in not_objects]
    cases.append(("unknown field", {**good, "surplus": 1}))
    for name, tp, meta in fields_of(cls):
        field = next(f for f in dataclasses.fields(cls) if f.name == name)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            cases.append((f"{name} missing", {k: v for k, v in good.items() if k != name}))
        cases += [(f"{name}={v!r:.20}", {**good, name: v}) for v in wrong_values(tp, meta)]
    return cases


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_a_malformed_message_is_a_protocol_error(cls: type) -> None:
    for what, obj in malformed(cls):
        with pytest.raises(ProtocolError):
            decode_raw(cls, obj)
            pytest.fail(f"{cls.__name__}: {what} was accepted")


def test_a_malformed_nested_message_is_a_protocol_error() -> None:
    good: dict[str, Any] = json.loads(codec.encode(StatArgs("/ws/f", POLICY)))
    for name, tp, meta in fields_of(EffectivePolicy):
        for v in wrong_values(tp, meta):
            with pytest.raises(ProtocolError):
                codec.decode_request(json.dumps({**good, "policy": {**good["policy"],
                                                                    name: v}}).encode())


def test_an_integer_too_long_to_convert_is_a_protocol_error() -> None:
    # json.loads refuses it with a plain ValueError (int max_str_digits), not a JSONDecodeError.
    payload = codec.encode(FileFacts(path="/f", type=1, size=7,  # type: ignore[arg-type]
                                     mode=0, mtime_ns=0, version="v"))
    with pytest.raises(ProtocolError):
        codec.decode(payload.replace(b'"size":7', b'"size":' + b"9" * 5000), FileFacts)


@pytest.mark.parametrize("op", [None, 1, "nope", "", ["stat"]])
def test_a_request_naming_no_known_operation_is_a_protocol_error(op: Any) -> None:
    obj = {**json.loads(codec.encode(StatArgs("/ws/f", POLICY))), "op": op}
    with pytest.raises(ProtocolError):
        codec.decode_request(json.dumps(obj).encode())


@pytest.mark.parametrize("payload", [b"", b"\xff", b"{", b"[" * 100_000, b"1" * 5000,
                                     b"NaN", b'{"op":"stat"}', b"\xed\xa0\x80"])
def test_a_payload_that_is_no_message_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        codec.decode_request(payload)
    for cls in ANSWERS:
        with pytest.raises(ProtocolError):
            codec.decode(payload, cls)


@settings(max_examples=300)
@given(payload=st.one_of(st.binary(max_size=200),
                         st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                                      | st.text(max_size=8),
                                      lambda kids: st.lists(kids, max_size=3)
                                      | st.dictionaries(st.sampled_from(
                                          ["op", "path", "policy", "type", "info", "entries",
                                           "size", "name", "last"]), kids, max_size=4),
                                      max_leaves=12).map(lambda o: json.dumps(o).encode())))
def test_arbitrary_payloads_decode_or_are_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        codec.decode_request(payload)
    for cls in ANSWERS:
        with contextlib.suppress(ProtocolError):
            codec.decode(payload, cls)


# --- the fast path --------------------------------------------------------------------------

def _checked_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every fast decoder give up, so decode runs the checked decoder alone."""
    def give_up(_raw: Any) -> Any:
        raise codec._Invalid

    tables: tuple[dict[Any, Any], ...] = (codec._ANSWERS, codec._REQUESTS)
    for table in tables:
        for key, (_fast, checked) in list(table.items()):
            monkeypatch.setitem(table, key, (give_up, checked))


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_messages_take_the_fast_path(cls: type, data: st.DataObject) -> None:
    msg = data.draw(message(cls))
    payload = codec.encode(msg)
    table: Any = codec._REQUESTS if issubclass(cls, Request) else codec._ANSWERS
    fast = table[cls.op if issubclass(cls, Request) else cls][0]
    assert fast(json.loads(payload.decode("utf-8", "surrogatepass"))) == msg


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_the_fast_path_accepts_nothing_the_checked_decoder_refuses(
        cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = malformed(cls)
    fast_answers = []
    for _what, obj in cases:
        try:
            fast_answers.append(decode_raw(cls, obj))
        except ProtocolError:
            fast_answers.append(ProtocolError)
    _checked_only(monkeypatch)
    for (what, obj), fast_answer in zip(cases, fast_answers, strict=True):
        try:
            checked_answer: Any = decode_raw(cls, obj)
        except ProtocolError:
            checked_answer = ProtocolError
        assert fast_answer == checked_answer, what
