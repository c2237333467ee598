"""What a task document looks like: its defaults, its writable fields and how each is validated.

`tasks.create`, `tasks.edit` and `tasks.clone` all write through `writable_fields()`, so a malformed field is a
400 naming it (never a document that later breaks the SDK when it reads the task back).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..documents import Doc, new_id
from ..wire import VALIDATION_ERROR, fail, require_shape

TASK_TYPES = (
    "dataset_import",
    "annotation",
    "annotation_manual",
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
TASK_STATUSES = (
    "created",
    "queued",
    "in_progress",
    "stopped",
    "published",
    "publishing",
    "closed",
    "failed",
    "completed",
    "unknown",
)
ARTIFACT_MODES = ("input", "output")


def new_task(*, name: str, task_type: str, project: str | None, user: str, company: str, now: str) -> Doc:
    return {
        "id": new_id(),
        "name": name,
        "type": task_type,
        "status": "created",
        "status_reason": "",
        "status_message": "",
        "status_changed": now,
        "user": user,
        "company": company,
        "project": project,
        "parent": None,
        "comment": "",
        "created": now,
        "started": None,
        "completed": None,
        "published": None,
        "last_update": now,
        "last_change": now,
        "last_iteration": 0,
        "last_metrics": {},
        "tags": [],
        "system_tags": [],
        "script": {},
        "execution": {"artifacts": [], "parameters": {}},
        "models": {"input": [], "output": []},
        "hyperparams": {},
        "configuration": {},
        "runtime": {},
        "container": {},
        "output": {},
        "active_duration": None,
    }


def _string(key: str, value: Any) -> Any:
    require_shape(key, value, str, "a string")
    return value


def _optional_string(key: str, value: Any) -> Any:
    if value is not None:
        require_shape(key, value, str, "a string")
    return value


def _string_list(key: str, value: Any) -> Any:
    require_shape(key, value, list, "an array of strings")
    for item in value:
        require_shape(key, item, str, "an array of strings")
    return list(value)


def _object(key: str, value: Any) -> Any:
    require_shape(key, value, dict, "an object")
    return copy.deepcopy(value)


def _task_type(key: str, value: Any) -> Any:
    if value not in TASK_TYPES:
        fail(VALIDATION_ERROR, f"field '{key}' must be one of {', '.join(TASK_TYPES)}")
    return value


def _leaf_strings(key: str, leaf: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if leaf.get(name) is not None:
            require_shape(f"{key}.{name}", leaf[name], str, "a string")


def hyperparams_value(key: str, value: Any) -> dict[str, dict[str, Doc]]:
    """`{section: {name: {section, name, value, type, description}}}`, with section/name filled from the keys."""
    require_shape(key, value, dict, "an object of sections")
    result: dict[str, dict[str, Doc]] = {}
    for section, params in value.items():
        require_shape(f"{key}.{section}", params, dict, "an object of parameters")
        result[section] = {}
        for name, param in params.items():
            path = f"{key}.{section}.{name}"
            require_shape(path, param, dict, "an object with a 'value'")
            _leaf_strings(path, param, ("value", "type", "description"))
            result[section][name] = {**param, "section": section, "name": name}
    return result


def configuration_value(key: str, value: Any) -> dict[str, Doc]:
    """`{name: {name, value, type, description}}`."""
    require_shape(key, value, dict, "an object of configuration items")
    result: dict[str, Doc] = {}
    for name, item in value.items():
        path = f"{key}.{name}"
        require_shape(path, item, dict, "an object with a 'value'")
        _leaf_strings(path, item, ("value", "type", "description"))
        result[name] = {**item, "name": name}
    return result


def artifact_value(key: str, value: Any) -> Doc:
    require_shape(key, value, dict, "an artifact object")
    if not isinstance(value.get("key"), str) or not value["key"]:
        fail(VALIDATION_ERROR, f"field '{key}.key' must be a non-empty string")
    if not isinstance(value.get("type"), str):
        fail(VALIDATION_ERROR, f"field '{key}.type' must be a string")
    mode = value.get("mode") or "output"
    if mode not in ARTIFACT_MODES:
        fail(VALIDATION_ERROR, f"field '{key}.mode' must be 'input' or 'output'")
    _leaf_strings(key, value, ("uri", "hash"))
    for number in ("content_size", "timestamp"):
        if value.get(number) is not None:
            require_shape(f"{key}.{number}", value[number], (int, float), "a number")
    if value.get("type_data") is not None:
        require_shape(f"{key}.type_data", value["type_data"], dict, "an object")
    return {**copy.deepcopy(value), "mode": mode}


def execution_value(key: str, value: Any) -> Any:
    require_shape(key, value, dict, "an object")
    result = copy.deepcopy(value)
    artifacts = result.get("artifacts")
    if artifacts is not None:
        require_shape(f"{key}.artifacts", artifacts, list, "an array of artifacts")
        result["artifacts"] = [
            artifact_value(f"{key}.artifacts[{index}]", item) for index, item in enumerate(artifacts)
        ]
    for name in ("parameters", "model_desc", "model_labels"):
        if result.get(name) is not None:
            require_shape(f"{key}.{name}", result[name], dict, "an object")
    if result.get("queue") is not None:
        require_shape(f"{key}.queue", result["queue"], str, "a string")
    return result


def model_item_list(key: str, value: Any) -> list[Doc]:
    require_shape(key, value, list, "an array of {name, model}")
    items = []
    for index, item in enumerate(value):
        path = f"{key}[{index}]"
        require_shape(path, item, dict, "an object with 'name' and 'model'")
        _leaf_strings(path, item, ("name", "model"))
        items.append(copy.deepcopy(item))
    return items


def _models(key: str, value: Any) -> Any:
    require_shape(key, value, dict, "an object with 'input' and 'output' lists")
    return {
        "input": model_item_list(f"{key}.input", value.get("input") or []),
        "output": model_item_list(f"{key}.output", value.get("output") or []),
    }


Validator = Callable[[str, Any], Any]

# Request field -> (document field, validator). Only these fields of a task can be written by create/edit.
WRITABLE: dict[str, tuple[str, Validator]] = {
    "name": ("name", _string),
    "comment": ("comment", _string),
    "type": ("type", _task_type),
    "project": ("project", _optional_string),
    "parent": ("parent", _optional_string),
    "tags": ("tags", _string_list),
    "system_tags": ("system_tags", _string_list),
    "script": ("script", _object),
    "execution": ("execution", execution_value),
    "hyperparams": ("hyperparams", hyperparams_value),
    "configuration": ("configuration", configuration_value),
    "models": ("models", _models),
    "runtime": ("runtime", _object),
    "container": ("container", _object),
    "input": ("input", _object),
}


def writable_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The validated document fields a create/edit body sets (`output_dest` goes to `output.destination`)."""
    fields: dict[str, Any] = {}
    for request_key, (doc_key, validate) in WRITABLE.items():
        if request_key in body and body[request_key] is not None:
            fields[doc_key] = validate(request_key, body[request_key])
        elif request_key == "parent" and "parent" in body:
            fields["parent"] = None
    if body.get("output_dest") is not None:
        fields["output_dest"] = _string("output_dest", body["output_dest"])
    return fields


def apply_fields(doc: Doc, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key == "output_dest":
            doc.setdefault("output", {})["destination"] = value
        else:
            doc[key] = value
