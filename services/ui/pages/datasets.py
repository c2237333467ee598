"""`/datasets` (every data set and its version chain with counts and sizes) and `/datasets/{id}` (one version: its
changes, the sessions it added, the sync's previews and plots, content, console, the label balance against another
version, and "used by": the runs and models trained on it). The ClearML dataset-page links redirect here
(`links.py`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..joins import Run, Version, balances, session_counts
from ..reads import reader_of
from ..rendering import BadParameter, NotFound, int_param, renderer_of

CONTENT_CONFIGURATION = "Dataset Content"


def listing(request: Request) -> Response:
    reader = reader_of(request)
    page = int_param(request, "page", 0, high=100_000)
    projects = reader.dataset_projects(every_dataset=True)
    tasks = reader.tasks(system_tags=["dataset", "-archived"], projects=list(projects), page=page, page_size=100)
    tasks = tasks if projects else []
    chains: dict[str, list[Version]] = {}
    for task in tasks:
        version = Version.of(task)
        chains.setdefault(f"{projects.get(version.project, version.project)} / {version.name}", []).append(version)
    data = {"chains": chains, "page": page, "count": len(tasks)}
    return renderer_of(request).page(request, "datasets.html", data, title="Datasets and versions")


def detail(request: Request) -> Response:
    reader = reader_of(request)
    dataset_id = request.path_params["dataset_id"]
    found = reader.tasks(ids=[dataset_id], system_tags=None, page_size=1)
    if not found or "dataset" not in (found[0].get("system_tags") or []):
        raise NotFound("dataset version", dataset_id)
    task = reader.task(dataset_id) or found[0]
    version = Version.of(task)
    chain = reader.tasks(
        system_tags=["dataset", "-archived"],
        projects=[version.project],
        page_size=500,
        fields=["id", "name", "runtime", "comment", "status", "project", "completed", "tags", "execution.artifacts"],
    )
    siblings = [Version.of(item) for item in chain]
    balance = balances(chain)
    compare_id = request.query_params.get("compare") or next(
        (item.id for item in siblings if item.completed and version.completed and item.completed < version.completed),
        None,
    )
    if compare_id is not None and compare_id not in {item.id for item in siblings}:
        raise BadParameter("compare", compare_id, "the id of another version of this data set")
    configurations = {str(item.get("name")): str(item.get("value") or "") for item in reader.configurations(task["id"])}
    training = reader.project_ids(reader.training_project)
    runs = (
        [Run.of(item) for item in reader.tasks(tags=[f"dataset:{dataset_id}"], projects=training)] if training else []
    )
    models = reader.models(ids=[run.model_id for run in runs if run.model_id])
    data = {
        "task": task,
        "version": version,
        "chain": siblings,
        "content": configurations.get(CONTENT_CONFIGURATION, ""),
        "configurations": configurations,
        "balance": balance.get(version.id),
        "compare": next((item for item in siblings if item.id == compare_id), None),
        "compare_balance": balance.get(compare_id or ""),
        "added_sessions": sorted(session_counts(task).items()),
        "runs": runs,
        "models": models,
        "plots_src": f"/tasks/{task['id']}/plots.json",
        "console": list(reversed(reader.console(task["id"], batch_size=200).get("events") or [])),
    }
    title = f"Dataset {version.name} {version.number}".strip()
    return renderer_of(request).page(request, "dataset.html", data, title=title)
