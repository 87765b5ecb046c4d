"""The request id: the caller's when it is safe to log, a fresh uuid4 hex otherwise."""
from __future__ import annotations

import re

from fsgate_server.transport import request_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_callers_request_id_is_kept() -> None:
    assert request_id.from_metadata([("x-request-id", "req-42.a:b/c")]) == "req-42.a:b/c"


def test_missing_request_id_is_generated_fresh_each_time() -> None:
    first = request_id.from_metadata([("authorization", "Bearer x")])
    second = request_id.from_metadata(None)
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second) and first != second


def test_log_injection_in_request_id_is_replaced_not_logged() -> None:
    hostile = 'x"\n{"event": "forged"}'
    got = request_id.from_metadata([("x-request-id", hostile)])
    assert HEX32.fullmatch(got)


def test_oversized_or_binary_request_id_is_replaced() -> None:
    assert HEX32.fullmatch(request_id.from_metadata([("x-request-id", "a" * 129)]))
    assert request_id.from_metadata([("x-request-id", "a" * 128)]) == "a" * 128
    assert HEX32.fullmatch(request_id.from_metadata([("x-request-id", b"abc")]))
