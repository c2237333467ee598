"""events.*: batches, last_metrics, and the reads behind Task.get_reported_* and get_last_scalar_metrics."""

from __future__ import annotations

import hashlib
import json

from tests.clearml_server.conftest import InProcessApi


def scalar(task: str, iteration: int, value: float, metric: str = "loss", variant: str = "train") -> dict[str, object]:
    return {
        "type": "training_stats_scalar",
        "task": task,
        "metric": metric,
        "variant": variant,
        "value": value,
        "iter": iteration,
        "timestamp": 1000 + iteration,
    }


def test_scalars_maintain_last_metrics_keyed_by_md5(api: InProcessApi) -> None:
    task_id = api.task()
    result = api.ok("events.add_batch", [scalar(task_id, 0, 1.0), scalar(task_id, 2, 0.25), scalar(task_id, 1, 0.5)])
    assert result == {"added": 3, "errors": 0, "errors_info": {}}
    task = api.get_task(task_id)
    slot = task["last_metrics"][hashlib.md5(b"loss").hexdigest()][hashlib.md5(b"train").hexdigest()]
    assert (slot["value"], slot["min_value"], slot["max_value"]) == (0.25, 0.25, 1.0)
    assert task["last_iteration"] == 2


def test_json_lines_batch_and_single_event_batches(api: InProcessApi) -> None:
    task_id = api.task()
    lines = "\n".join(json.dumps(scalar(task_id, n, float(n))) for n in range(3)).encode()
    status, document = api.raw(
        "/v2.23/events.add_batch",
        lines,
        {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json-lines"},
    )
    assert status == 200 and document["data"]["added"] == 3
    status, document = api.raw(
        "/events.add_batch", json.dumps(scalar(task_id, 9, 9.0)).encode(), {"Authorization": f"Bearer {api.token}"}
    )
    assert status == 200 and document["data"]["added"] == 1


def test_bad_events_are_counted_not_fatal(api: InProcessApi) -> None:
    task_id = api.task()
    batch = [
        scalar(task_id, 0, 1.0),
        {"type": "nonsense", "task": task_id},
        {"type": "log", "task": "missing-task", "msg": "x"},
        {"type": "training_stats_scalar", "task": task_id, "value": "high"},
        "not an object",
    ]
    result = api.ok("events.add_batch", batch)
    assert result["added"] == 1 and result["errors"] == 4


def test_task_log_newest_first_or_in_order(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok(
        "events.add_batch",
        [{"type": "log", "task": task_id, "msg": f"line {n}", "timestamp": 100 + n, "level": "info"} for n in range(5)],
    )
    latest = api.ok("events.get_task_log", {"task": task_id, "batch_size": 2})
    assert [event["msg"] for event in latest["events"]] == ["line 4", "line 3"] and latest["total"] == 5
    ascending = api.ok(
        "events.get_task_log", {"task": task_id, "order": "asc", "navigate_earlier": True, "batch_size": 2}
    )
    assert [event["msg"] for event in ascending["events"]] == ["line 3", "line 4"]
    earlier = api.ok(
        "events.get_task_log", {"task": task_id, "navigate_earlier": False, "from_timestamp": 101, "batch_size": 10}
    )
    assert [event["msg"] for event in earlier["events"]] == ["line 2", "line 3", "line 4"]


def test_scalar_histogram_as_get_reported_scalars_reads_it(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("events.add_batch", [scalar(task_id, n, float(10 - n)) for n in range(10)])
    data = api.ok("events.scalar_metrics_iter_histogram", {"task": task_id, "key": "iter"})
    assert data["loss"]["train"]["x"] == list(range(10)) and data["loss"]["train"]["y"][0] == 10.0
    sampled = api.ok("events.scalar_metrics_iter_histogram", {"task": task_id, "samples": 5})
    assert len(sampled["loss"]["train"]["x"]) == 5


def test_task_events_scroll_through_everything(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("events.add_batch", [scalar(task_id, n, float(n)) for n in range(7)])
    seen, scroll = [], None
    while True:
        page = api.ok(
            "events.get_task_events",
            {"task": task_id, "event_type": "training_stats_scalar", "batch_size": 3, "scroll_id": scroll},
        )
        seen.extend(event["iter"] for event in page["events"])
        scroll = page["scroll_id"]
        if page["returned"] < 3:
            break
    assert seen == list(range(7))


def test_single_values_and_plots(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok(
        "events.add_batch",
        [
            scalar(task_id, -(2**31), 0.9, metric="Summary", variant="acc"),
            {"type": "plot", "task": task_id, "metric": "cm", "variant": "v", "iter": 0, "plot_str": "{}"},
            {"type": "plot", "task": task_id, "metric": "cm", "variant": "v", "iter": 5, "plot_str": '{"data": []}'},
        ],
    )
    values = api.ok("events.get_task_single_value_metrics", {"tasks": [task_id]})["tasks"][0]["values"]
    assert values[0]["variant"] == "acc" and values[0]["value"] == 0.9
    plots = api.ok("events.get_task_plots", {"task": task_id, "iters": 1})["plots"]
    assert [plot["iter"] for plot in plots] == [5]
    assert api.get_task(task_id)["last_iteration"] == 0  # the single-value iteration does not count


def test_debug_images_and_delete_for_task(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok(
        "events.add_batch",
        [
            {
                "type": "training_debug_image",
                "task": task_id,
                "metric": "img",
                "variant": "a",
                "iter": 1,
                "url": "http://f/x.png",
            }
        ],
    )
    metrics = api.ok("events.debug_images", {"metrics": [{"task": task_id, "metric": "img"}]})["metrics"]
    assert metrics[0]["iterations"][0]["events"][0]["url"] == "http://f/x.png"
    assert api.ok("events.delete_for_task", {"task": task_id})["deleted"] is True
