"""`/models` (every registered model with its state, data and holdout accuracy, and the champion pointer's
history, like an MLflow alias) and the model page at the ClearML web app's path
(`/projects/{p}/models/{id}[/output]/{tab}`; the clearml-serving table links here): general, metadata, the state
track with each step's receipt, and lineage (creating task, dataset version, labeling sessions)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import urls
from ..joins import Pointer, Receipt, metadata_value, state_track
from ..reads import reader_of
from ..rendering import NotFound, int_param, renderer_of, tab_param

TAB_ALIASES = {
    "": "general",
    "general": "general",
    "network": "general",
    "labels": "general",
    "metadata": "metadata",
    "tasks": "lineage",
    "lineage": "lineage",
    "scalars": "general",
    "plots": "general",
}
STATES = ("candidate", "canary", "champion", "rejected", "retired")


def listing(request: Request) -> Response:
    reader = reader_of(request)
    page = int_param(request, "page", 0, high=100_000)
    models = reader.models(page=page, page_size=100)
    pointer = Pointer.of(reader.pointer())
    rows = [
        {
            "model": model,
            "state": next((tag for tag in reversed(model.get("tags") or []) if tag in STATES), "-"),
            "accuracy": metadata_value(model, "holdout_accuracy"),
            "dataset_version": metadata_value(model, "dataset_version"),
            "dataset_id": metadata_value(model, "dataset_id"),
        }
        for model in models
    ]
    data = {"rows": rows, "pointer": pointer, "page": page, "count": len(models)}
    return renderer_of(request).page(request, "models.html", data, title="Models")


def detail(request: Request) -> Response:
    params = request.path_params
    tab = tab_param(params.get("tab", ""), TAB_ALIASES, "model tab")
    wanted = urls.model(params["model_id"], params["project"], tab)
    if request.url.path != wanted:
        return RedirectResponse(wanted + (f"?{request.url.query}" if request.url.query else ""), status_code=302)
    reader = reader_of(request)
    model = reader.model(params["model_id"])
    if model is None:
        raise NotFound("model", params["model_id"])
    receipts = [Receipt.of(task) for task in reader.receipt_tasks(model_ids=[str(model["id"])])]
    task = reader.task(str(model.get("task") or "")) if model.get("task") else None
    data: dict[str, Any] = {
        "model": model,
        "tab": tab,
        "tabs": urls.MODEL_TABS[:3],
        "track": state_track(model, receipts),
        "receipts": receipts,
        "task": task,
        "pointer": Pointer.of(reader.pointer()),
        "metadata": sorted((model.get("metadata") or {}).items()),
    }
    if tab == "lineage" and task is not None:
        dataset_id = metadata_value(model, "dataset_id")
        found = reader.tasks(ids=[dataset_id], page_size=1) if dataset_id else []
        data["dataset"] = found[0] if found else None
    return renderer_of(request).page(request, "model.html", data, title=f"Model {model.get('name') or ''}")
