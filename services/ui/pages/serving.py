"""`/serving` (also the web app's `/endpoints/...`): the endpoints and their versions, the canary weights, live
per-version requests, errors, latency and occupied rate, the canary in progress, and sampled predictions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..reads import Reader, reader_of
from ..rendering import renderer_of
from ..serving_view import endpoint_versions, predictions, version_metrics

CONTROL_PLANE_TAG = "serving-control-plane"  # the system tag clearml-serving puts on its service task
INSTANCE_SUFFIX = " - serve instance"


def serving_data(reader: Reader) -> dict[str, Any]:
    projects = reader.project_ids(reader.serving_project)
    fields = ["id", "name", "project", "status"]
    planes = reader.tasks(system_tags=[CONTROL_PLANE_TAG], projects=projects, fields=fields) if projects else []
    result = []
    for plane in planes:
        configurations = {
            str(item.get("name")): str(item.get("value") or "") for item in reader.configurations(plane["id"])
        }
        instances = [
            task
            for task in reader.tasks(
                types=["inference"],
                status=["in_progress"],
                page_size=50,
                projects=[plane["project"]],
                fields=["id", "name", "status", "last_metrics", "last_update", "project"],
            )
            if task.get("name") == f"{plane.get('name')}{INSTANCE_SUFFIX}"
        ]
        versions = endpoint_versions(
            configurations.get("endpoints", ""), configurations.get("canary", ""), version_metrics(instances)
        )
        sampled: list[dict[str, Any]] = []
        for task in instances[:3]:
            lines = [
                str(event.get("msg") or "") for event in reader.console(task["id"], batch_size=200).get("events") or []
            ]
            sampled += predictions(lines)
        result.append({"plane": plane, "instances": instances, "versions": versions, "predictions": sampled[:20]})
    return {"planes": result, "rollout": reader.service_status("rollout")}


def page(request: Request) -> Response:
    data = serving_data(reader_of(request))
    renderer = renderer_of(request)
    if request.query_params.get("fragment") == "1":
        return renderer.html(request, "_serving_live.html", data)
    return renderer.page(request, "serving.html", data, title="Serving")
