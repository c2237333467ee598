"""Where the ClearML links land: `/go/{id}` resolves any task, model, dataset, receipt or queue id to its page, and
the web app's other route shapes (the SDK prints some, people paste the rest) redirect to the nearest occuloop page.
Paths the UI has no page for (`/reports`, `/settings`, `/login`, ...) get the 404 page with its "go to id" box."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .. import urls
from ..reads import Reader, reader_of
from ..rendering import BadParameter, NotFound

NOT_HERE = ("/reports", "/settings", "/login", "/applications", "/profile")


def _to(url: str) -> Response:
    return RedirectResponse(url, status_code=302)


def resolve(reader: Reader, ident: str) -> str | None:
    """The page of the object with this id, or None."""
    found = reader.tasks(ids=[ident], fields=["id", "project", "system_tags"], page_size=1)
    if found:
        task = found[0]
        if "dataset" in (task.get("system_tags") or []):
            return urls.dataset(ident)
        receipts = reader.project_ids(f"{reader.rollout_project}/receipts")
        if task.get("project") in receipts:
            return urls.receipt(ident)
        return urls.task(ident, task.get("project"))
    model = reader.model(ident)
    if model is not None:
        return urls.model(ident, model.get("project"))
    if any(queue.get("id") == ident or queue.get("name") == ident for queue in reader.queues()):
        return "/orchestration#queues"
    return None


def go(request: Request) -> Response:
    ident = (request.path_params.get("ident") or request.query_params.get("id") or "").strip()
    if not ident:
        raise NotFound("id", "")
    if len(ident) > 200 or any(character in ident for character in "\r\n\t"):
        raise BadParameter("id", ident[:50], "a task, model, dataset or queue id")
    target = resolve(reader_of(request), ident)
    if target is None:
        raise NotFound("object with this id", ident)
    return _to(target)


def _dataset(request: Request) -> Response:
    return _to(urls.dataset(request.path_params["ident"]))


def _pipeline(request: Request) -> Response:
    return _to(urls.task(request.path_params["ident"], request.path_params["project"]))


def _fixed(target: str) -> object:
    def view(_request: Request) -> Response:
        return _to(target)

    return view


def _not_here(request: Request) -> Response:
    raise NotFound("ClearML web-app page that occuloop's UI does not have", request.url.path)


def clearml_routes() -> list[BaseRoute]:
    return [
        Route("/datasets/simple/{project}/experiments/{ident}", _dataset),
        Route("/datasets/simple/{project}/tasks/{ident}", _dataset),
        Route("/datasets/simple/{project}/experiments/{ident}/{rest:path}", _dataset),
        Route("/datasets/simple/{project}/tasks/{ident}/{rest:path}", _dataset),
        Route("/datasets/simple/{project}/datasets", _fixed("/datasets")),  # type: ignore[arg-type]
        Route("/datasets/simple/{project}", _fixed("/datasets")),  # type: ignore[arg-type]
        Route("/pipelines/{project}/experiments/{ident}", _pipeline),
        Route("/pipelines/{project}/tasks/{ident}", _pipeline),
        Route("/pipelines/{project}/experiments/{ident}/{rest:path}", _pipeline),
        Route("/pipelines/{project}/tasks/{ident}/{rest:path}", _pipeline),
        Route("/workers-and-queues", _fixed("/orchestration")),  # type: ignore[arg-type]
        Route("/workers-and-queues/workers", _fixed("/orchestration#workers")),  # type: ignore[arg-type]
        Route("/workers-and-queues/queues", _fixed("/orchestration#queues")),  # type: ignore[arg-type]
        Route("/endpoints", _fixed("/serving")),  # type: ignore[arg-type]
        Route("/endpoints/{rest:path}", _fixed("/serving")),  # type: ignore[arg-type]
        Route("/dashboard", _fixed("/")),  # type: ignore[arg-type]
        Route("/projects", _fixed("/runs?scope=all")),  # type: ignore[arg-type]
        Route("/projects/{project}", _fixed("/runs?scope=all")),  # type: ignore[arg-type]
        Route("/projects/{project}/experiments", _fixed("/runs?scope=all")),  # type: ignore[arg-type]
        Route("/projects/{project}/tasks", _fixed("/runs?scope=all")),  # type: ignore[arg-type]
        Route("/projects/{project}/models", _fixed("/models")),  # type: ignore[arg-type]
        *(Route(path, _not_here) for path in NOT_HERE),
        *(Route(path + "/{rest:path}", _not_here) for path in NOT_HERE),
    ]
