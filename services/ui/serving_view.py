"""The serving plane as the UI reads it, without the SDK: clearml-serving's configuration objects on the control-plane
task (`endpoints`, `canary`: HOCON text) and the per-version metrics occuloop's engine reports on the inference
app's task (`serving/telemetry.py`: scalars titled `endpoint <url>`, sampled `event=prediction` console lines).
Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from serving.telemetry import METRICS_TITLE, PREDICTION_EVENT

COUNTERS = ("requests", "readings", "rejected", "failed", "occupied")
LATENCIES = ("latency_p50_ms", "latency_p99_ms", "latency_max_ms")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip().strip('"')


def parse_blocks(text: str) -> dict[str, dict[str, Any]]:
    """`name { key = value ... }` blocks (the HOCON clearml-serving writes) -> {name: {key: value}}; nested blocks
    are kept as dicts one level deep, which is all these objects use."""
    blocks: dict[str, dict[str, Any]] = {}
    stack: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.endswith("{"):
            name = line[:-1].strip()
            target: dict[str, Any] = {}
            if stack:
                stack[-1][name] = target
            else:
                blocks[name] = target
            stack.append(target)
        elif line == "}":
            if stack:
                stack.pop()
        elif "=" in line and stack:
            key, _, value = line.partition("=")
            stack[-1][key.strip()] = _value(value.strip())
    return blocks


@dataclass(frozen=True)
class EndpointVersion:
    url: str
    version: str
    model_id: str
    weight: float | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    json_properties: ClassVar[tuple[str, ...]] = ("occupied_rate", "error_rate")

    @property
    def occupied_rate(self) -> float | None:
        readings = self.metrics.get("readings")
        return self.metrics.get("occupied", 0.0) / readings if readings else None

    @property
    def error_rate(self) -> float | None:
        requests = self.metrics.get("requests")
        return self.metrics.get("failed", 0.0) / requests if requests else None


def version_metrics(instances: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """url -> metrics summed over the running inference apps (latencies: the slowest app's)."""
    totals: dict[str, dict[str, float]] = {}
    for task in instances:
        for variants in (task.get("last_metrics") or {}).values():
            for entry in variants.values():
                title = str(entry.get("metric") or "")
                if not title.startswith(METRICS_TITLE):
                    continue
                into = totals.setdefault(title.removeprefix(METRICS_TITLE), {})
                name, value = str(entry.get("variant")), float(entry.get("value") or 0.0)
                into[name] = max(value, into.get(name, value)) if name in LATENCIES else into.get(name, 0.0) + value
    return totals


def endpoint_versions(endpoints: str, canary: str, metrics: Mapping[str, Mapping[str, float]]) -> list[EndpointVersion]:
    weights: dict[str, float] = {}
    for block in parse_blocks(canary).values():
        for url, weight in zip(block.get("load_endpoints") or [], block.get("weights") or [], strict=False):
            weights[str(url)] = float(weight)
    versions = []
    for url, block in parse_blocks(endpoints).items():
        versions.append(
            EndpointVersion(
                url,
                str(block.get("version", "")),
                str(block.get("model_id", "")),
                weights.get(url),
                metrics.get(url, {}),
            )
        )
    return sorted(versions, key=lambda item: (item.url.rpartition("/")[0], int(item.version or 0)))


def predictions(lines: Iterable[str], limit: int = 20) -> list[dict[str, Any]]:
    """The newest sampled predictions (`event=prediction {json}` console lines), newest first."""
    found = []
    for line in lines:
        for part in str(line).splitlines():
            if part.startswith(PREDICTION_EVENT):
                try:
                    record = json.loads(part[len(PREDICTION_EVENT) :])
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("kind", "prediction") == "prediction":  # not model loads
                    found.append(record)
    return found[:limit]
