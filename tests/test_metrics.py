"""Metrics: what one finished request, one helper start and the helper gauge record."""
from __future__ import annotations

from fsgate_server.operability.metrics import Metrics


def sample(m: Metrics, name: str, **labels: str) -> float:
    value = m.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_request_is_counted_by_method_code_and_reason() -> None:
    m = Metrics()
    m.observe_request("Stat", "OK", "", 0.002, {})
    m.observe_request("Stat", "PERMISSION_DENIED", "OUTSIDE_POLICY", 0.001, {})
    m.observe_request("Stat", "PERMISSION_DENIED", "OUTSIDE_POLICY", 0.001, {})
    assert sample(m, "fsgate_requests_total", method="Stat", code="OK", reason="") == 1
    assert sample(m, "fsgate_requests_total", method="Stat", code="PERMISSION_DENIED",
                  reason="OUTSIDE_POLICY") == 2
    assert sample(m, "fsgate_request_duration_seconds_count", method="Stat") == 3


def test_bytes_read_count_partial_reads_and_bytes_written_only_committed_writes() -> None:
    m = Metrics()
    m.observe_request("ReadFile", "OK", "", 0.1, {"bytes": 10})
    m.observe_request("ReadFile", "CANCELLED", "", 0.1, {"bytes": 5})  # 5 bytes did leave
    m.observe_request("WriteFile", "OK", "", 0.1, {"bytes": 7})
    m.observe_request("WriteFile", "INTERNAL", "HELPER_FAILED", 0.1, {"bytes": 99})
    assert sample(m, "fsgate_bytes_read_total") == 15
    assert sample(m, "fsgate_bytes_written_total") == 7


def test_sandbox_denials_count_only_kernel_refusals() -> None:
    m = Metrics()
    m.observe_request("ReadFile", "PERMISSION_DENIED", "SANDBOX_DENIED", 0.1, {})
    m.observe_request("ReadFile", "PERMISSION_DENIED", "OUTSIDE_POLICY", 0.1, {})
    assert sample(m, "fsgate_sandbox_denials_total") == 1


def test_helper_start_latency_and_running_gauge() -> None:
    m = Metrics()
    running = [3]
    m.count_helpers_with(lambda: running[0])
    m.observe_helper_start(0.004)
    assert sample(m, "fsgate_helper_start_seconds_count") == 1
    assert sample(m, "fsgate_helpers_running") == 3
    running[0] = 0
    assert sample(m, "fsgate_helpers_running") == 0


def test_each_metrics_object_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # no "Duplicated timeseries" from the global registry
    a.observe_request("Stat", "OK", "", 0.1, {})
    assert sample(b, "fsgate_requests_total", method="Stat", code="OK", reason="") == 0
