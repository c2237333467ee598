"""The UI's own URLs, built in one place (the templates call these): each id links to its page. Task and model pages
use the ClearML web app's shapes, so the links the SDK prints and the UI's own links are the same pages."""

from __future__ import annotations

from urllib.parse import quote

TASK_TABS = ("info", "configuration", "artifacts", "console", "scalars", "plots", "debug")
MODEL_TABS = ("general", "metadata", "lineage", "scalars", "plots")


def _part(value: object) -> str:
    return quote(str(value or "*"), safe="*")


def task(task_id: str, project: str | None = None, tab: str = "info") -> str:
    return f"/projects/{_part(project)}/tasks/{_part(task_id)}/{tab}"


def model(model_id: str, project: str | None = None, tab: str = "general") -> str:
    return f"/projects/{_part(project)}/models/{_part(model_id)}/{tab}"


def dataset(dataset_id: str) -> str:
    return f"/datasets/{_part(dataset_id)}"


def receipt(receipt_id: str) -> str:
    return f"/receipts/{_part(receipt_id)}"


def go(ident: str) -> str:
    return f"/go/{_part(ident)}"


GLOBALS = {"task_url": task, "model_url": model, "dataset_url": dataset, "receipt_url": receipt, "go_url": go}
