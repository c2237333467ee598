"""`events.*` — task logs, scalars, plots and debug images: an append-only table plus the reads the SDK makes.

Writing scalars also maintains the task's `last_metrics` (keyed by md5 of metric and of variant, with last, min
and max value) and `last_iteration`, which the SDK's `get_last_scalar_metrics()` and metric filters read.
A batch is written in one transaction; an invalid event is counted in `errors` and skipped, never fatal.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from ..calls import Call, Handler, task_or_fail
from ..documents import Doc
from ..store import Session
from ..wire import VALIDATION_ERROR, fail
from .task_access import touch

EVENT_TYPES = ("log", "training_stats_scalar", "training_stats_vector", "plot", "training_debug_image")
SINGLE_VALUE_ITERATION = -(2**31)  # Logger.report_single_value reports at this iteration
LOG_TYPES = ("log",)
SCALAR_TYPES = ("training_stats_scalar",)
PLOT_TYPES = ("plot",)
IMAGE_TYPES = ("training_debug_image",)
MAX_BATCH = 10_000


def metric_hash(name: str) -> str:
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _checked_event(raw: Any, now_ms: int) -> tuple[Doc | None, str | None]:
    """A storable event, or the reason it is rejected."""
    if not isinstance(raw, dict):
        return None, "event is not an object"
    if not isinstance(raw.get("task"), str) or not raw["task"]:
        return None, "missing task"
    if raw.get("type") not in EVENT_TYPES:
        return None, f"unknown event type {raw.get('type')!r}"
    event = {key: value for key, value in raw.items() if key != "method"}
    timestamp = _number(event.get("timestamp"))
    event["timestamp"] = int(timestamp) if timestamp is not None and math.isfinite(timestamp) else now_ms
    if event.get("iter") is not None and (isinstance(event["iter"], bool) or not isinstance(event["iter"], int)):
        return None, "iter must be an integer"
    for key in ("metric", "variant", "msg", "level", "worker", "plot_str", "url"):
        if event.get(key) is not None and not isinstance(event[key], str):
            return None, f"{key} must be a string"
    if event["type"] == "training_stats_scalar":
        if _number(event.get("value")) is None:
            return None, "scalar value must be a number"
        event.setdefault("iter", 0)
        event.setdefault("metric", "")
        event.setdefault("variant", "")
    return event, None


def _update_last_metrics(task: Doc, scalars: list[Doc]) -> None:
    metrics: dict[str, dict[str, Doc]] = task.get("last_metrics") or {}
    last_iteration = task.get("last_iteration") or 0
    for event in scalars:
        iteration, value = event["iter"], float(event["value"])
        if iteration != SINGLE_VALUE_ITERATION:
            last_iteration = max(last_iteration, iteration)
        slot = metrics.setdefault(metric_hash(event["metric"]), {}).setdefault(
            metric_hash(event["variant"]),
            {
                "metric": event["metric"],
                "variant": event["variant"],
                "count": 0,
                "first_value": value,
                "first_value_iteration": iteration,
            },
        )
        if iteration >= slot.get("last_iteration", iteration):
            slot["value"] = value
            slot["last_iteration"] = iteration
        if math.isfinite(value):
            if slot.get("min_value") is None or value < slot["min_value"]:
                slot["min_value"], slot["min_value_iteration"] = value, iteration
            if slot.get("max_value") is None or value > slot["max_value"]:
                slot["max_value"], slot["max_value_iteration"] = value, iteration
        slot["count"] = slot.get("count", 0) + 1
    task["last_metrics"] = metrics
    task["last_iteration"] = last_iteration


def _add(call: Call, raw_events: list[Any]) -> dict[str, Any]:
    now_ms = int(call.now.timestamp() * 1000)
    errors: dict[str, int] = defaultdict(int)
    added = 0
    with call.store.write() as tx:
        scalars_by_task: dict[str, list[Doc]] = defaultdict(list)
        known: dict[str, bool] = {}
        for raw in raw_events[:MAX_BATCH]:
            event, reason = _checked_event(raw, now_ms)
            if event is not None and not _owner_exists(tx, event, known):
                event, reason = None, "invalid task id"
            if event is None:
                errors[reason or "invalid event"] += 1
                continue
            tx.events.add(event)
            added += 1
            if event["type"] == "training_stats_scalar" and not event.get("model_event"):
                scalars_by_task[event["task"]].append(event)
        for task_id, scalars in scalars_by_task.items():
            task = task_or_fail(tx, task_id)
            _update_last_metrics(task, scalars)
            touch(task, call.stamp())
            tx.tasks.put(task)
    if len(raw_events) > MAX_BATCH:
        errors[f"batch larger than {MAX_BATCH} events"] += len(raw_events) - MAX_BATCH
    return {"added": added, "errors": sum(errors.values()), "errors_info": dict(errors)}


def _owner_exists(tx: Session, event: Doc, known: dict[str, bool]) -> bool:
    owner = event["task"]
    if owner not in known:
        table = tx.models if event.get("model_event") else tx.tasks
        known[owner] = table.get(owner) is not None
    return known[owner]


def add_batch(call: Call) -> dict[str, Any]:
    events = call.body.array("requests", required=True) or []
    return _add(call, events)


def add(call: Call) -> dict[str, Any]:
    result = _add(call, [call.body.data])
    if result["errors"]:
        fail(VALIDATION_ERROR, ", ".join(result["errors_info"]))
    return {}


# -- reads -----------------------------------------------------------------------------------------------------


def _cursor(scroll_id: str | None) -> tuple[int, int] | None:
    if not scroll_id or ":" not in scroll_id:
        return None
    timestamp, _, seq = scroll_id.partition(":")
    return (int(timestamp), int(seq)) if timestamp.lstrip("-").isdigit() and seq.isdigit() else None


def get_task_log(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task_id = task_or_fail(session, call.body.required_string("task"))["id"]
    batch_size = call.body.integer("batch_size", default=500, minimum=1) or 500
    earlier = call.body.boolean("navigate_earlier", default=True)
    order = call.body.enum("order", ("asc", "desc"))
    from_timestamp = call.body.number("from_timestamp")
    bound = (int(from_timestamp), 0 if earlier else 2**62) if from_timestamp is not None else None
    rows = session.events.of_task(
        task_id,
        LOG_TYPES,
        descending=earlier,
        before=bound if earlier else None,
        after=bound if not earlier else None,
        limit=batch_size,
    )
    events = [row.doc for row in rows]
    if (order == "asc" and earlier) or (order == "desc" and not earlier):
        events.reverse()
    return {"events": events, "returned": len(events), "total": session.events.count(task_id, LOG_TYPES)}


def get_task_events(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task_id = call.body.required_string("task")
    if not call.body.boolean("model_events"):
        task_or_fail(session, task_id)
    event_type = call.body.enum("event_type", EVENT_TYPES)
    types = [event_type] if event_type else list(EVENT_TYPES)
    batch_size = call.body.integer("batch_size", default=500, minimum=1) or 500
    descending = call.body.enum("order", ("asc", "desc"), default="asc") == "desc"
    cursor = _cursor(call.body.string("scroll_id"))
    rows = session.events.of_task(
        task_id,
        types,
        descending=descending,
        after=cursor if not descending else None,
        before=cursor if descending else None,
        limit=batch_size,
    )
    scroll = f"{rows[-1].doc['timestamp']}:{rows[-1].seq}" if rows else call.body.string("scroll_id")
    return {
        "events": [row.doc for row in rows],
        "returned": len(rows),
        "total": session.events.count(task_id, types),
        "scroll_id": scroll,
    }


def _scalar_events(session: Session, task_id: str) -> list[Doc]:
    return [row.doc for row in session.events.of_task(task_id, SCALAR_TYPES)]


def _x_value(event: Doc, key: str) -> Any:
    if key == "timestamp":
        return event["timestamp"]
    if key == "iso_time":
        return datetime.fromtimestamp(event["timestamp"] / 1000, UTC).isoformat(timespec="milliseconds")
    return event.get("iter", 0)


def _downsample(xs: list[Any], ys: list[float], samples: int) -> tuple[list[Any], list[float]]:
    """At most `samples` points: consecutive windows averaged, keeping each window's first x."""
    if samples <= 0 or len(xs) <= samples:
        return xs, ys
    window = math.ceil(len(xs) / samples)
    out_x, out_y = [], []
    for start in range(0, len(xs), window):
        chunk = ys[start : start + window]
        out_x.append(xs[start])
        out_y.append(sum(chunk) / len(chunk))
    return out_x, out_y


def scalar_metrics_iter_histogram(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task_id = call.body.required_string("task")
    if not call.body.boolean("model_events"):
        task_or_fail(session, task_id)
    key = call.body.enum("key", ("iter", "timestamp", "iso_time"), default="iter") or "iter"
    samples = call.body.integer("samples", default=6000, minimum=0) or 0
    series: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for event in _scalar_events(session, task_id):
        if event.get("iter") == SINGLE_VALUE_ITERATION:
            continue
        slot = series.setdefault(event["metric"], {}).setdefault(event["variant"], {"x": [], "y": []})
        slot["x"].append(_x_value(event, key))
        slot["y"].append(event["value"])
    result: dict[str, Any] = {}
    for metric, variants in series.items():
        for variant, points in variants.items():
            ordered = sorted(zip(points["x"], points["y"], strict=True), key=lambda pair: pair[0])
            xs, ys = _downsample([pair[0] for pair in ordered], [pair[1] for pair in ordered], samples)
            result.setdefault(metric, {})[variant] = {"name": variant, "x": xs, "y": ys}
    return result


def get_scalar_metrics_and_variants(call: Call) -> dict[str, Any]:
    session = call.store.read()
    metrics: dict[str, dict[str, Any]] = {}
    for event in _scalar_events(session, task_or_fail(session, call.body.required_string("task"))["id"]):
        metrics.setdefault(event["metric"], {})[event["variant"]] = {"name": event["variant"]}
    return {"metrics": metrics}


def get_task_latest_scalar_values(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task = task_or_fail(session, call.body.required_string("task"))
    metrics: dict[str, list[Doc]] = {}
    for variants in (task.get("last_metrics") or {}).values():
        for value in variants.values():
            metrics.setdefault(value.get("metric", ""), []).append(
                {"name": value.get("variant"), "last_value": value.get("value"), "last_100_value": value.get("value")}
            )
    return {
        "metrics": [{"name": name, "variants": variants} for name, variants in metrics.items()],
        "last_iter": task.get("last_iteration"),
        "name": task.get("name"),
        "status": task.get("status"),
    }


def get_task_single_value_metrics(call: Call) -> dict[str, Any]:
    session = call.store.read()
    result = []
    for task_id in call.body.strings("tasks", required=True) or []:
        task = task_or_fail(session, task_id)
        latest: dict[tuple[str, str], Doc] = {}
        for event in _scalar_events(session, task_id):
            if event.get("iter") == SINGLE_VALUE_ITERATION:
                latest[(event["metric"], event["variant"])] = event
        values = [
            {"metric": metric, "variant": variant, "value": event["value"], "timestamp": event["timestamp"]}
            for (metric, variant), event in latest.items()
        ]
        result.append({"task": task_id, "task_name": task.get("name"), "values": values})
    return {"tasks": result}


def get_task_metrics(call: Call) -> dict[str, Any]:
    session = call.store.read()
    event_type = call.body.enum("event_type", EVENT_TYPES)
    types = [event_type] if event_type else list(EVENT_TYPES)
    result = []
    for task_id in call.body.strings("tasks", required=True) or []:
        names = {row.doc.get("metric") for row in session.events.of_task(task_id, types)}
        result.append({"task": task_id, "metrics": sorted(name for name in names if name)})
    return {"metrics": result}


def _latest_iterations(events: list[Doc], count: int) -> list[Doc]:
    iterations = sorted({event.get("iter", 0) for event in events}, reverse=True)[: max(1, count)]
    chosen = set(iterations)
    return sorted(
        (event for event in events if event.get("iter", 0) in chosen), key=lambda e: (-e.get("iter", 0), e["timestamp"])
    )


def get_task_plots(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task_id = call.body.required_string("task")
    if not call.body.boolean("model_events"):
        task_or_fail(session, task_id)
    events = [row.doc for row in session.events.of_task(task_id, PLOT_TYPES)]
    plots = _latest_iterations(events, call.body.integer("iters", default=1, minimum=1) or 1)
    return {"plots": plots, "returned": len(plots), "total": len(events), "scroll_id": None}


def debug_images(call: Call) -> dict[str, Any]:
    session = call.store.read()
    iterations = call.body.integer("iters", default=1, minimum=1) or 1
    result = []
    for index, item in enumerate(call.body.array("metrics", required=True) or []):
        if not isinstance(item, dict) or not isinstance(item.get("task"), str):
            fail(VALIDATION_ERROR, f"field 'metrics[{index}]' needs a string 'task'")
        events = [row.doc for row in session.events.of_task(item["task"], IMAGE_TYPES)]
        if item.get("metric"):
            events = [event for event in events if event.get("metric") == item["metric"]]
        by_iteration: dict[int, list[Doc]] = defaultdict(list)
        for event in _latest_iterations(events, iterations) if events else []:
            by_iteration[event.get("iter", 0)].append(event)
        result.append(
            {"task": item["task"], "iterations": [{"iter": it, "events": evs} for it, evs in by_iteration.items()]}
        )
    return {"metrics": result, "scroll_id": None}


def delete_for_task(call: Call) -> dict[str, Any]:
    task_id = call.body.required_string("task")
    with call.store.write() as tx:
        task_or_fail(tx, task_id)
        deleted = tx.events.delete_for_task(task_id)
    return {"deleted": deleted > 0}


HANDLERS: dict[str, Handler] = {
    "add_batch": add_batch,
    "add": add,
    "get_task_log": get_task_log,
    "get_task_events": get_task_events,
    "scalar_metrics_iter_histogram": scalar_metrics_iter_histogram,
    "get_scalar_metrics_and_variants": get_scalar_metrics_and_variants,
    "get_task_latest_scalar_values": get_task_latest_scalar_values,
    "get_task_single_value_metrics": get_task_single_value_metrics,
    "get_task_metrics": get_task_metrics,
    "get_task_plots": get_task_plots,
    "debug_images": debug_images,
    "delete_for_task": delete_for_task,
}
