"""The serving page's reading of clearml-serving's configuration objects and occuloop's engine metrics (the HOCON and
the scalars as the demo's control plane and inference app wrote them)."""

from __future__ import annotations

import json

from services.ui.serving_view import endpoint_versions, parse_blocks, predictions, version_metrics

ENDPOINTS = """occupancy/1 {
  engine_type = "custom"
  serving_url = "occupancy"
  model_id = "m1"
  version = "1"
  auxiliary_cfg {
    prediction_log_rate = 0.01
  }
}
occupancy/2 {
  engine_type = "custom"
  model_id = "m2"
  version = "2"
}"""
CANARY = 'occupancy {\n  endpoint = "occupancy"\n  weights = [0.9, 0.1]\n  load_endpoints = ["occupancy/1", "occupancy/2"]\n}'


def metric(title: str, variant: str, value: float) -> dict:
    return {"metric": title, "variant": variant, "value": value}


def test_versions_carry_their_model_weight_and_summed_metrics() -> None:
    assert parse_blocks(ENDPOINTS)["occupancy/1"]["auxiliary_cfg"] == {"prediction_log_rate": 0.01}
    instances = [
        {"last_metrics": {"a": {"1": metric("endpoint occupancy/2", "requests", 10), "2": metric("endpoint occupancy/2", "failed", 1),
                                "3": metric("endpoint occupancy/2", "latency_p99_ms", 40.0), "4": metric(":monitor:machine", "cpu", 9)}}},
        {"last_metrics": {"b": {"1": metric("endpoint occupancy/2", "requests", 30), "2": metric("endpoint occupancy/2", "latency_p99_ms", 90.0),
                                "3": metric("endpoint occupancy/2", "readings", 40), "4": metric("endpoint occupancy/2", "occupied", 10)}}},
    ]  # fmt: skip
    one, two = endpoint_versions(ENDPOINTS, CANARY, version_metrics(instances))
    assert (one.url, one.model_id, one.weight, dict(one.metrics)) == ("occupancy/1", "m1", 0.9, {})
    assert (two.model_id, two.weight) == ("m2", 0.1)
    assert two.metrics["requests"] == 40 and two.metrics["latency_p99_ms"] == 90.0  # summed; the slowest app's p99
    assert two.error_rate == 1 / 40 and two.occupied_rate == 0.25


def test_sampled_predictions_newest_first_without_model_loads() -> None:
    lines = ["event=prediction " + json.dumps({"kind": "prediction", "endpoint": "occupancy/2", "model_id": "m2"}),
             "event=prediction " + json.dumps({"kind": "model_loaded", "endpoint": "occupancy/2"}),
             "event=prediction {broken", "an ordinary line"]  # fmt: skip
    assert predictions(lines) == [{"kind": "prediction", "endpoint": "occupancy/2", "model_id": "m2"}]
