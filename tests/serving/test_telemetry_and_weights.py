"""Per-version counters and latency windows, and the canary weights the control plane accepts."""

from __future__ import annotations

import json

import pytest

from serving.endpoints import ServingError, _normalized
from serving.telemetry import PREDICTION_EVENT, Scalars, Telemetry


def test_counters_accumulate_and_latency_windows_reset_per_report() -> None:
    reported: list[tuple[Scalars, int]] = []
    telemetry = Telemetry(lambda scalars, iteration: reported.append((scalars, iteration)), lambda _line: None)
    for milliseconds in (1, 2, 3, 100):
        telemetry.record("occupancy/1", seconds=milliseconds / 1000, readings=2, occupied=1)
    telemetry.record("occupancy/1", seconds=0.001, outcome="rejected")
    telemetry.record("occupancy/2", seconds=0.004, outcome="failed")
    first = telemetry.report()
    assert first["endpoint occupancy/1"]["requests"] == 5 and first["endpoint occupancy/1"]["readings"] == 8
    assert first["endpoint occupancy/1"]["occupied"] == 4 and first["endpoint occupancy/1"]["rejected"] == 1
    assert first["endpoint occupancy/1"]["latency_max_ms"] == 100.0
    assert first["endpoint occupancy/2"]["failed"] == 1
    assert telemetry.report() == {}  # nothing new: nothing reported
    telemetry.record("occupancy/1", seconds=0.002, readings=1)
    second = telemetry.report()["endpoint occupancy/1"]
    assert second["requests"] == 6 and second["latency_max_ms"] == 2.0  # counters keep counting, the window reset
    assert [iteration for _, iteration in reported] == [1, 3]


def test_prediction_records_are_one_parseable_line() -> None:
    lines: list[str] = []
    telemetry = Telemetry(lambda *_: None, lines.append)
    telemetry.log_prediction({"kind": "prediction", "model_id": "m1", "inputs": [{"CO2": 700.0}]})
    assert len(lines) == 1 and lines[0].startswith(PREDICTION_EVENT) and "\n" not in lines[0]
    assert json.loads(lines[0][len(PREDICTION_EVENT) :])["model_id"] == "m1"
    telemetry.sample_rate = 0.0
    assert not any(telemetry.sampled() for _ in range(100))
    telemetry.sample_rate = 1.0
    assert all(telemetry.sampled() for _ in range(100))


def test_weights_are_normalized_and_zero_weights_dropped() -> None:
    assert _normalized({1: 9, 2: 1, 3: 0}, {1, 2, 3}) == {1: 0.9, 2: 0.1}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({4: 1.0}, "not registered"),
        ({1: -0.5, 2: 1.0}, ">= 0"),
        ({1: float("nan")}, "finite"),
        ({1: 0.0}, "above 0"),
    ],
)
def test_bad_weights_are_refused(weights: dict[int, float], message: str) -> None:
    with pytest.raises(ServingError, match=message):
        _normalized(weights, {1, 2})
