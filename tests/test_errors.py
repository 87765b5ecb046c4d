"""Failure → gRPC status: long paths are shortened so a whole error fits 8 KiB."""
from __future__ import annotations

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import (
    MAX_MESSAGE_BYTES,
    MAX_PATH_IN_ERROR,
    Failure,
    shorten,
)
from fsgate_server.transport.status import to_status


def test_short_text_is_kept_as_is() -> None:
    assert shorten("/ws/a") == "/ws/a"


@pytest.mark.parametrize("char", ["a", "\u00e9", "\u20ac", "\U0001f600"])
def test_long_text_keeps_head_and_tail_within_the_limit_without_splitting_characters(
        char: str) -> None:
    text = "/ws/" + char * 3000 + "/end"
    out = shorten(text)
    assert len(out.encode()) <= MAX_PATH_IN_ERROR
    head, sep, tail = out.partition("\u2026")
    assert sep and text.startswith(head) and text.endswith(tail)
    assert len(head) > 50 and tail.endswith("/end")


def test_surrogate_escaped_bytes_never_make_a_shortened_result_invalid_utf8() -> None:
    out = shorten("/ws/" + "\udcff" * 600 + "x" * 600)
    out.encode("utf-8")  # no lone surrogates left


def test_status_of_a_worst_case_error_fits_a_default_8_kib_metadata_limit() -> None:
    path = "/" + "/".join(["\u00e9" * 127] * 16)  # ~4,000 bytes, all percent-encoded 3x
    err = Failure(Reason.NOT_FOUND, f"{path}: no such file ({path} twice, and {path!r})",
                  path)
    status = to_status(err)
    assert len(status.details.encode()) <= MAX_MESSAGE_BYTES
    size = len(status.details.encode()) * 3  # grpc-message percent-encodes non-ASCII
    size += sum(len(k) + len(v) + 32 for k, v in status.trailing_metadata)
    assert size < 6 * 1024


def test_the_error_base_and_the_reasons_table_have_pinned_public_surfaces() -> None:
    import fsgate.reasons
    import fsgate_server.errors

    assert sorted(fsgate_server.errors.__all__) == ["ELLIPSIS", "Failure", "MAX_MESSAGE_BYTES",
                                                    "MAX_PATH_IN_ERROR", "shorten",
                                                    "shorten_message"]
    assert sorted(fsgate.reasons.__all__) == ["CODE_NAME", "DOMAIN", "Reason", "STATUS_CODE"]
    assert set(fsgate.reasons.CODE_NAME) == set(fsgate.reasons.Reason)
