"""Move's two-step conversation (HelperClient.move): a helper that met EXDEV answers
MoveDone(None) and the same arguments go, as MoveAcrossArgs, to a second helper; one that
answers None again broke the protocol. Driven by fake helpers, without gRPC."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import closing

import pytest
from fsgate.reasons import Reason
from fsgate_server.backends.channel import Helper, HelperCall, begin
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.errors import Failure
from fsgate_server.helper import codec, protocol
from fsgate_server.helper.messages import MoveArgs, Request
from fsgate_server.helper.protocol import Kind
from fsgate_server.policy import EffectivePolicy

from .test_helper_conversation import GOOD_FACTS

ARGS = MoveArgs("/ws/a", EffectivePolicy(("/ws",), ("/ws",), ()), destination="/ws/b",
                overwrite=True, served_roots=("/ws",), max_entries=7, max_bytes=9)


def scripted(*answers: bytes) -> tuple[HelperClient, list[Request]]:
    """A client whose n-th helper answers answers[n] as its RESULT; the requests seen."""
    seen: list[Request] = []
    left = list(answers)

    def session(req: Request) -> closing[HelperCall]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        payload = left.pop(0)

        def run() -> None:
            with theirs:
                _, raw = protocol.recv(theirs)
                seen.append(codec.decode_request(raw))
                protocol.send(theirs, Kind.RESULT, payload)

        threading.Thread(target=run, daemon=True).start()
        return closing(begin(Helper(os.getpid(), ours, None), req, time.monotonic() + 10))

    return HelperClient(session), seen


DONE = b'{"info":' + GOOD_FACTS + b',"copied":false}'
ACROSS = b'{"info":null,"copied":false}'


def test_a_rename_is_one_helper() -> None:
    client, seen = scripted(DONE)
    assert client.move(ARGS).info is not None
    assert [r.op for r in seen] == ["move"]


def test_across_file_systems_a_second_helper_gets_the_same_arguments() -> None:
    client, seen = scripted(ACROSS, DONE.replace(b'"copied":false', b'"copied":true'))
    done = client.move(ARGS)
    assert done.copied and done.info is not None
    assert [r.op for r in seen] == ["move", "move_across"]
    first, second = (json.loads(codec.encode(r)) for r in seen)
    assert {**first, "op": ""} == {**second, "op": ""}


def test_a_second_helper_that_answers_no_info_is_helper_failed() -> None:
    client, _ = scripted(ACROSS, ACROSS)
    with pytest.raises(Failure) as err:
        client.move(ARGS)
    assert err.value.reason is Reason.HELPER_FAILED
