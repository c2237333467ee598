"""The task page, at the ClearML web app's own paths (`/projects/{p}/tasks/{id}/{tab}`; `/experiments/` and the
`output/` segment redirect there, so every link the SDK prints lands here), and `/runs`, the list of tasks.

Tabs: info (status, timings, worker, queue, input dataset, output models, and for a training run its place in the
loop), configuration, artifacts, console (pages of 500, newest last, followed while running), scalars (min/max
downsampled, smoothing in the browser, the champion's curves overlaid on a training run), plots, debug samples.
Chart data is fetched by the page from `…/scalars.json` and `…/plots.json`, which keeps the HTML small."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import urls
from ..joins import Pointer, Receipt, Run, hyperparam, metadata_value
from ..plots import MAX_POINTS, figure_of, scalar_series
from ..reads import Reader, reader_of
from ..rendering import NotFound, choice_param, int_param, renderer_of, tab_param

CONSOLE_PAGE = 500
# Points asked of the server per series: its own subsampling averages (spikes vanish), so it is asked for (nearly)
# everything and the UI keeps each bucket's minimum and maximum (plots.downsample); a real ClearML server caps it.
SERVER_SAMPLES = 50_000
RUNNING = ("in_progress", "queued")
# ClearML web-app tab paths -> this page's tabs
TAB_ALIASES = {
    "": "info",
    "general": "info",
    "info": "info",
    "execution": "info",
    "info-output": "info",
    "hyper-params": "configuration",
    "configuration": "configuration",
    "artifacts": "artifacts",
    "log": "console",
    "console": "console",
    "scalars": "scalars",
    "metrics": "scalars",
    "plots": "plots",
    "debugImages": "debug",
    "debug": "debug",
}
TASK_TYPES = (
    "training",
    "testing",
    "inference",
    "data_processing",
    "application",
    "monitor",
    "controller",
    "optimizer",
    "service",
    "qc",
    "custom",
)


def _task(reader: Reader, task_id: str) -> dict[str, Any]:
    task = reader.task(task_id)
    if task is None:
        raise NotFound("task", task_id)
    return task


def canonical(request: Request) -> Response:
    task = _task(reader_of(request), request.path_params["task_id"])
    return RedirectResponse(urls.task(task["id"], task.get("project")), status_code=302)


def page(request: Request) -> Response:
    params = request.path_params
    tab = tab_param(params.get("tab", ""), TAB_ALIASES, "task tab")
    wanted = urls.task(params["task_id"], params["project"], tab)
    if request.url.path != wanted:  # /experiments/, output/, ClearML's tab names: one canonical page each
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(wanted + query, status_code=302)
    reader = reader_of(request)
    task = _task(reader, params["task_id"])
    project = reader.projects(ids=[str(task.get("project") or "")]).get(str(task.get("project") or ""), "")
    data: dict[str, Any] = {
        "task": task,
        "tab": tab,
        "project_name": project,
        "tabs": urls.TASK_TABS,
        "running": task.get("status") in RUNNING,
    }
    data.update(_TABS[tab](request, reader, task))
    renderer = renderer_of(request)
    if request.query_params.get("fragment") == "1" and tab == "console":
        return renderer.html(request, "_console.html", data)
    return renderer.page(request, "task.html", data, title=f"Task {task.get('name') or task['id']}")


def _info(_request: Request, reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    models = (task.get("models") or {}).get("output") or []
    place: dict[str, Any] = {}  # a training run's place in the loop
    if "retrain" in (task.get("tags") or []):
        run = Run.of(task)
        place["run"] = run
        if run.model_id:
            place["receipts"] = [Receipt.of(item) for item in reader.receipt_tasks(model_ids=[run.model_id])]
        if run.dataset_id:
            found = reader.tasks(ids=[run.dataset_id], fields=["id", "name", "runtime", "comment"], page_size=1)
            place["dataset"] = found[0] if found else None
    return {
        "input_dataset": hyperparam(task, "General", "dataset_id"),
        "output_models": models,
        "input_models": (task.get("models") or {}).get("input") or [],
        "place": place,
    }


def _configuration(_request: Request, reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return {"hyperparams": task.get("hyperparams") or {}, "configurations": reader.configurations(task["id"])}


def _artifacts(_request: Request, _reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return {"artifacts": (task.get("execution") or {}).get("artifacts") or []}


def _console(request: Request, reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    before = request.query_params.get("before")
    before_ts = int_param(request, "before", 0, high=2**62) if before else None
    found = reader.console(task["id"], batch_size=CONSOLE_PAGE, before=before_ts)
    events = list(reversed(found.get("events") or []))  # oldest first on the page
    lines = [
        {"timestamp": event.get("timestamp"), "worker": event.get("worker"), "msg": str(event.get("msg") or "")}
        for event in events
    ]
    return {
        "lines": lines,
        "total_lines": found.get("total", len(lines)),
        "earlier": lines[0]["timestamp"] if lines and len(lines) >= CONSOLE_PAGE else None,
        "paged_back": before_ts is not None,
    }


def _scalars(request: Request, _reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return {"scalars_src": f"/tasks/{task['id']}/scalars.json", "max_points": MAX_POINTS}


def _plots(_request: Request, _reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return {"plots_src": f"/tasks/{task['id']}/plots.json"}


def _debug(_request: Request, reader: Reader, task: dict[str, Any]) -> dict[str, Any]:
    return {"images": reader.debug_images(task["id"])}


_TABS = {
    "info": _info,
    "configuration": _configuration,
    "artifacts": _artifacts,
    "console": _console,
    "scalars": _scalars,
    "plots": _plots,
    "debug": _debug,
}


def champion_task(reader: Reader) -> tuple[str | None, str | None]:
    """The champion model and the training task that made it (for the challenger-vs-champion overlay)."""
    pointer = Pointer.of(reader.pointer())
    if not pointer.model_id:
        return None, None
    model = reader.model(pointer.model_id)
    return pointer.model_id, str((model or {}).get("task") or "") or None


FINISHED = ("completed", "published", "failed", "stopped")


def _finished_at(task: dict[str, Any]) -> str | None:
    return str(task.get("last_update") or task.get("completed")) if task.get("status") in FINISHED else None


def scalars_json(request: Request) -> Response:
    """Every scalar series of a task (≤ `points` per series, minima and maxima kept), its summary, and for a
    training run the champion's series under `champion` (overlaid by default)."""
    reader = reader_of(request)
    task = _task(reader, request.path_params["task_id"])
    points = int_param(request, "points", MAX_POINTS, low=10, high=100_000)
    overlay = choice_param(request, "champion", "on", ("on", "off"))
    histogram = reader.scalars(task["id"], samples=SERVER_SAMPLES, finished_at=_finished_at(task))
    result: dict[str, Any] = {"task": task["id"], "metrics": scalar_series(histogram, points)}
    result["single_values"] = reader.single_values(task["id"], finished_at=_finished_at(task))
    if overlay == "on" and "retrain" in (task.get("tags") or []):
        model_id, training = champion_task(reader)
        if training and training != task["id"]:
            theirs = reader.task(training) or {}
            curves = reader.scalars(training, samples=SERVER_SAMPLES, finished_at=_finished_at(theirs))
            result["champion"] = {
                "model_id": model_id,
                "task": training,
                "metrics": scalar_series(curves, points),
                "single_values": reader.single_values(training, finished_at=_finished_at(theirs)),
            }
    return JSONResponse(result)


def plots_json(request: Request) -> Response:
    reader = reader_of(request)
    task = _task(reader, request.path_params["task_id"])
    figures = []
    for event in reader.plots(task["id"]):
        figure = figure_of(event)
        if figure is not None:
            figures.append(
                {
                    "metric": event.get("metric"),
                    "variant": event.get("variant"),
                    "iter": event.get("iter"),
                    "figure": figure,
                }
            )
    return JSONResponse({"task": task["id"], "plots": figures})


def listing(request: Request) -> Response:
    """`/runs`: tasks, newest first, 100 a page, filtered by type and status (training runs by default)."""
    reader = reader_of(request)
    scope = choice_param(request, "scope", "loop", ("loop", "all"))  # the loop's training project, or every task
    kind = choice_param(request, "type", "training" if scope == "loop" else "all", ("all", *TASK_TYPES))
    status = choice_param(
        request,
        "status",
        "all",
        ("all", "created", "queued", "in_progress", "completed", "failed", "stopped", "published"),
    )
    page_number = int_param(request, "page", 0, high=100_000)
    body_status = None if status == "all" else [status]
    fields = ["id", "name", "type", "status", "project", "tags", "created", "started", "completed", "models"]
    projects = reader.project_ids(reader.training_project) if scope == "loop" else None
    if projects == []:  # no training project yet: the loop has no run
        found: list[dict[str, Any]] = []
    else:
        found = reader.tasks(
            status=body_status,
            types=None if kind == "all" else [kind],
            fields=fields,
            projects=projects,
            page=page_number,
            page_size=100,
            system_tags=["-archived"],
        )
    model_ids = [Run.of(task).model_id for task in found]
    models = {str(m["id"]): m for m in reader.models(ids=[m for m in model_ids if m], page_size=1000)}
    rows = [
        {
            "task": task,
            "run": Run.of(task),
            "accuracy": metadata_value(models.get(Run.of(task).model_id or ""), "holdout_accuracy"),
        }
        for task in found
    ]
    names = reader.projects(ids=[str(task.get("project") or "") for task in found])
    data = {
        "rows": rows,
        "type": kind,
        "status": status,
        "page": page_number,
        "projects": names,
        "scope": scope,
        "types": ("all", *TASK_TYPES),
    }
    return renderer_of(request).page(request, "runs.html", data, title="Runs and tasks")
