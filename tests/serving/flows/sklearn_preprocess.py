"""Pre/post-processing for the stock `sklearn` engine in the benchmark: the body's five sensors in, the label out.
Deliberately minimal (no validation, no lineage), so the reference is the stock engine at its cheapest."""

from typing import Any

FEATURES = ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio")


class Preprocess:
    def preprocess(self, body: dict, state: dict, collect_custom_statistics_fn: Any = None) -> Any:
        return [[body[name] for name in FEATURES]]

    def postprocess(self, data: Any, state: dict, collect_custom_statistics_fn: Any = None) -> dict:
        return {"occupied": bool(data[0])}
