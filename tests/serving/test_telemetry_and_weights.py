"""Per-version counters and latency windows, and the canary weights the control plane accepts."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from serving import telemetry as telemetry_module
from serving.endpoints import ServingError, _normalized
from serving.telemetry import PREDICTION_EVENT, SERVED_MINUTES_EVENT, Scalars, Telemetry
from training.schema import minute_key


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


def test_served_minutes_are_reported_once_per_version_and_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    telemetry = Telemetry(lambda *_: None, lines.append)
    ten = minute_key(datetime(2015, 2, 5, 10, 0, 59))  # a stamp ending in :59 belongs to the next minute
    assert ten == "2015-02-05T10:01" and minute_key(datetime(2015, 2, 5, 10, 1, 20)) == ten
    telemetry.record("occupancy/2", seconds=0.001, readings=2, minutes=[(ten, True), (ten, False)])
    telemetry.record("occupancy/2", seconds=0.001, readings=1, minutes=[("2015-02-05T10:02", True)])
    telemetry.record("occupancy/1", seconds=0.001, readings=1)  # no timestamps: counted, no minutes
    telemetry.report()
    assert len(lines) == 1 and lines[0].startswith(SERVED_MINUTES_EVENT)
    record = json.loads(lines[0][len(SERVED_MINUTES_EVENT) :])
    assert record["endpoint"] == "occupancy/2" and record["instance"] == telemetry.instance
    assert record["minutes"] == {ten: [2, 1], "2015-02-05T10:02": [1, 1]} and record["dropped"] == 0
    telemetry.report()
    assert len(lines) == 1  # minutes are reported once: the next report holds only what came after
    monkeypatch.setattr(telemetry_module, "MAX_MINUTES_PER_REPORT", 2)
    minutes = [(f"2015-02-05T11:0{n}", False) for n in range(5)]
    telemetry.record("occupancy/2", seconds=0.001, readings=5, minutes=minutes)
    telemetry.report()
    bounded = json.loads(lines[-1][len(SERVED_MINUTES_EVENT) :])
    assert len(bounded["minutes"]) == 2 and bounded["dropped"] == 3 and bounded["report"] == 3


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
