"""Channel arguments: the retry service config, keepalive, and retries seen in action."""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import fsgate
import grpc
import pytest
from fsgate import AsyncClient, Client, Timeouts
from fsgate._channel import (
    IDEMPOTENT_METHODS,
    KEEPALIVE_OPTIONS,
    RETRY_POLICY,
    SERVICE,
    channel_options,
    service_config,
)
from fsgate.v1 import fsgate_pb2

from . import FakeFileSystem, serve, status_with_reason
from .conftest import FAST_RETRY_POLICY

UNAVAILABLE = status_with_reason(grpc.StatusCode.UNAVAILABLE, "restarting", "SHUTTING_DOWN")


def options_of(client: Client | AsyncClient) -> dict[str, Any]:
    return dict(client._channel_options)


def method_configs(options: dict[str, Any]) -> list[dict[str, Any]]:
    configs: list[dict[str, Any]] = json.loads(options["grpc.service_config"])["methodConfig"]
    return configs


# --- the configuration --------------------------------------------------------------------------
def test_service_config_retries_unavailable_on_the_idempotent_methods() -> None:
    assert service_config() == {"methodConfig": [{
        "name": [{"service": "fsgate.v1.FileSystemService", "method": "ReadFile"},
                 {"service": "fsgate.v1.FileSystemService", "method": "ListDir"},
                 {"service": "fsgate.v1.FileSystemService", "method": "Stat"},
                 {"service": "fsgate.v1.FileSystemService", "method": "Search"},
                 {"service": "fsgate.v1.FileSystemService", "method": "Glob"},
                 {"service": "fsgate.v1.FileSystemService", "method": "GetServerInfo"}],
        "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.1s", "maxBackoff": "1s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }]}
    assert fsgate_pb2.DESCRIPTOR.services_by_name["FileSystemService"].full_name == SERVICE


def test_the_tests_fast_retries_differ_only_in_their_backoff() -> None:
    # What tests/client/conftest.py's fast_retries changes: nothing but the waiting.
    differ = {k for k in RETRY_POLICY if FAST_RETRY_POLICY[k] != RETRY_POLICY[k]}
    assert differ == {"initialBackoff", "maxBackoff"}
    assert FAST_RETRY_POLICY.keys() == RETRY_POLICY.keys()


def test_write_file_has_no_retry_policy() -> None:
    for config in service_config()["methodConfig"]:
        for name in config["name"]:
            # A name without "method" would match every method of the service, WriteFile too.
            assert name.get("method") in IDEMPOTENT_METHODS
            assert name["method"] != "WriteFile"
    methods = fsgate_pb2.DESCRIPTOR.services_by_name["FileSystemService"].methods_by_name
    assert set(methods) - set(IDEMPOTENT_METHODS) == {
        "WriteFile", "MakeDir", "Remove", "Move", "Copy", "EditFile", "WatchDir"}


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_every_client_channel_enables_retries_with_the_service_config(
    cls: type[Client] | type[AsyncClient],
) -> None:
    client = cls("127.0.0.1:1", timeouts=Timeouts(connect=2.5))
    options = options_of(client)
    if isinstance(client, Client):
        client.close()

    assert options["grpc.enable_retries"] == 1
    assert json.loads(options["grpc.service_config"]) == service_config()
    assert options["grpc.min_reconnect_backoff_ms"] == 2500  # the connect timeout


def test_keepalive_suits_a_sidecar_and_a_default_server() -> None:
    keepalive = dict(KEEPALIVE_OPTIONS)
    # A default gRPC server answers pings more often than every 5 minutes with GOAWAY.
    assert keepalive["grpc.keepalive_time_ms"] >= 300_000
    assert keepalive["grpc.keepalive_timeout_ms"] == 20_000
    assert keepalive["grpc.keepalive_permit_without_calls"] == 0
    assert dict(channel_options(5.0)).items() >= keepalive.items()


def test_caller_options_replace_the_defaults_one_by_one() -> None:
    options = channel_options(5.0, [("grpc.keepalive_time_ms", 600_000),
                                    ("grpc.max_receive_message_length", 8 << 20)])
    keys = [key for key, _ in options]

    assert len(keys) == len(set(keys))
    assert dict(options)["grpc.keepalive_time_ms"] == 600_000
    assert dict(options)["grpc.max_receive_message_length"] == 8 << 20
    assert dict(options)["grpc.enable_retries"] == 1


def test_retries_can_be_switched_off() -> None:
    client = Client("127.0.0.1:1", options=[("grpc.enable_retries", 0)])
    assert options_of(client)["grpc.enable_retries"] == 0
    client.close()


# --- retries in action --------------------------------------------------------------------------
@pytest.fixture
def client(server: tuple[FakeFileSystem, str], fake: FakeFileSystem) -> Iterator[Client]:
    with Client(server[1]) as c:
        yield c


@pytest.mark.parametrize("method", ["Stat", "ReadFile", "ListDir"])
def test_idempotent_calls_are_retried_on_unavailable(fake: FakeFileSystem, client: Client,
                                                     method: str) -> None:
    fake.fail_next, fake.fail_count = UNAVAILABLE, 2
    call: Callable[[], object]
    call = {"Stat": lambda: client.stat("/ws/a.txt"),
            "ReadFile": lambda: client.read_file("/ws/a.txt"),
            "ListDir": lambda: list(client.list_dir("/ws"))}[method]

    call()

    assert len(fake.calls(method)) == 3  # two refused, the third answered


def test_write_file_is_never_retried(fake: FakeFileSystem, client: Client) -> None:
    fake.fail_next, fake.fail_count = UNAVAILABLE, 2

    with pytest.raises(fsgate.ShuttingDown):
        client.write_file("/ws/a.txt", b"new")

    assert len(fake.calls("WriteFile")) == 1
    assert fake.files["/ws/a.txt"] == b"hello, world"


def test_other_errors_are_not_retried(fake: FakeFileSystem, client: Client) -> None:
    fake.fail_next = status_with_reason(grpc.StatusCode.NOT_FOUND, "gone", "NOT_FOUND")
    fake.fail_count = 3

    with pytest.raises(fsgate.NotFound):
        client.stat("/ws/a.txt")

    assert len(fake.calls("Stat")) == 1


def test_retries_stop_after_max_attempts(fake: FakeFileSystem, client: Client) -> None:
    fake.fail_next, fake.fail_count = UNAVAILABLE, 100

    with pytest.raises(fsgate.ShuttingDown):
        client.stat("/ws/a.txt")

    assert len(fake.calls("Stat")) == RETRY_POLICY["maxAttempts"]


def test_async_client_retries_the_same_way(fake: FakeFileSystem,
                                           server: tuple[FakeFileSystem, str]) -> None:
    fake.fail_next, fake.fail_count = UNAVAILABLE, 2

    async def body() -> None:
        async with AsyncClient(server[1]) as client:
            await client.stat("/ws/a.txt")
            fake.fail_next, fake.fail_count = UNAVAILABLE, 2
            with pytest.raises(fsgate.ShuttingDown):
                await client.write_file("/ws/a.txt", b"new")

    asyncio.run(body())
    assert (len(fake.calls("Stat")), len(fake.calls("WriteFile"))) == (3, 1)


def test_stat_is_retried_until_a_server_that_comes_up_late_answers() -> None:
    fake = FakeFileSystem(files={"/ws/a.txt": b"late"})
    with tempfile.TemporaryDirectory(prefix="fsgate-late-") as tmp:
        target = f"unix:{tmp}/late.sock"
        refused = threading.Event()

        def watch(state: grpc.ChannelConnectivity) -> None:
            if state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                refused.set()

        with Client(target) as client:
            client._channel.subscribe(watch)
            result: dict[str, fsgate.FileInfo | BaseException] = {}

            def stat() -> None:
                try:
                    result["info"] = client.stat("/ws/a.txt")
                except BaseException as exc:
                    result["error"] = exc

            caller = threading.Thread(target=stat)
            caller.start()
            assert refused.wait(10), "the first attempt never failed"
            with serve(fake, target):  # nothing listened when the call started
                caller.join(10)
            client._channel.unsubscribe(watch)

    assert "error" not in result, result
    info = result["info"]
    assert isinstance(info, fsgate.FileInfo) and info.size == 4
    assert len(fake.calls("Stat")) == 1
