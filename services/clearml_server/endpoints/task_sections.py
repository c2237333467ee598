"""`tasks.*` endpoints for the sections of a task: hyper-parameters, configuration, artifacts and model links.

Hyper-parameters are `{section: {name: {section, name, value, type, description}}}` and configuration is
`{name: {name, value, type, description}}` (values are strings). Artifacts are upserted by `(key, mode)` and
their `uri`/`hash` round-trip unchanged: clearml-serving re-downloads preprocessing code when the hash differs.
"""

from __future__ import annotations

from typing import Any

from ..calls import Call, Handler, task_or_fail
from ..documents import Doc
from ..store import Session
from ..wire import VALIDATION_ERROR, fail, require_shape
from .task_access import modify_task
from .task_document import ARTIFACT_MODES, artifact_value, configuration_value, hyperparams_value

# -- hyper-parameters ------------------------------------------------------------------------------------------


def _param_items(key: str, items: list[Any]) -> list[dict[str, Any]]:
    result = []
    for index, item in enumerate(items):
        path = f"{key}[{index}]"
        require_shape(path, item, dict, "an object with 'section' and 'name'")
        section, name = item.get("section"), item.get("name")
        if not isinstance(section, str) or not isinstance(name, str):
            fail(VALIDATION_ERROR, f"field '{path}' needs string 'section' and 'name'")
        result.append(item)
    return result


def get_hyper_params(call: Call) -> dict[str, Any]:
    session = call.store.read()
    params = []
    for task_id in call.body.strings("tasks", required=True) or []:
        doc = task_or_fail(session, task_id)
        items = [param for section in (doc.get("hyperparams") or {}).values() for param in section.values()]
        params.append({"task": task_id, "hyperparams": items})
    return {"params": params}


def edit_hyper_params(call: Call) -> dict[str, Any]:
    items = _param_items("hyperparams", call.body.array("hyperparams", required=True) or [])
    replace = call.body.enum("replace_hyperparams", ("none", "section", "all"), default="none")
    grouped: dict[str, dict[str, Any]] = {}
    for item in items:
        grouped.setdefault(item["section"], {})[item["name"]] = item
    new_sections = hyperparams_value("hyperparams", grouped)

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        current = {} if replace == "all" else doc.get("hyperparams") or {}
        for section, params in new_sections.items():
            if replace == "section" or section not in current:
                current[section] = {}
            current[section].update(params)
        doc["hyperparams"] = current
        return {"updated": 1}

    return modify_task(call, mutate)


def delete_hyper_params(call: Call) -> dict[str, Any]:
    keys = call.body.array("hyperparams", required=True) or []

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        current = doc.get("hyperparams") or {}
        deleted = 0
        for index, key in enumerate(keys):
            require_shape(f"hyperparams[{index}]", key, dict, "an object with 'section' (and 'name')")
            section, name = key.get("section"), key.get("name")
            if section not in current:
                continue
            if not name:  # an empty name deletes the whole section
                deleted += len(current.pop(section))
            elif current[section].pop(name, None) is not None:
                deleted += 1
        doc["hyperparams"] = current
        return {"deleted": deleted}

    return modify_task(call, mutate)


# -- configuration ---------------------------------------------------------------------------------------------


def get_configurations(call: Call) -> dict[str, Any]:
    session = call.store.read()
    names = call.body.strings("names")
    result = []
    for task_id in call.body.strings("tasks", required=True) or []:
        configuration = task_or_fail(session, task_id).get("configuration") or {}
        items = [item for name, item in configuration.items() if names is None or name in names]
        result.append({"task": task_id, "configuration": items})
    return {"configurations": result}


def get_configuration_names(call: Call) -> dict[str, Any]:
    session = call.store.read()
    skip_empty = call.body.boolean("skip_empty", default=True)
    result = {}
    for task_id in call.body.strings("tasks", required=True) or []:
        configuration = task_or_fail(session, task_id).get("configuration") or {}
        result[task_id] = [name for name, item in configuration.items() if not skip_empty or item.get("value")]
    return {"configurations": result}


def edit_configuration(call: Call) -> dict[str, Any]:
    items = call.body.array("configuration", required=True) or []
    replace = call.body.boolean("replace_configuration")
    keyed: dict[str, Any] = {}
    for index, item in enumerate(items):
        require_shape(f"configuration[{index}]", item, dict, "an object with 'name'")
        if not isinstance(item.get("name"), str) or not item["name"]:
            fail(VALIDATION_ERROR, f"field 'configuration[{index}].name' must be a non-empty string")
        keyed[item["name"]] = item
    new_items = configuration_value("configuration", keyed)

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        current = {} if replace else doc.get("configuration") or {}
        current.update(new_items)
        doc["configuration"] = current
        return {"updated": 1}

    return modify_task(call, mutate)


def delete_configuration(call: Call) -> dict[str, Any]:
    names = call.body.strings("configuration", required=True) or []

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        current = doc.get("configuration") or {}
        deleted = sum(1 for name in names if current.pop(name, None) is not None)
        doc["configuration"] = current
        return {"deleted": deleted}

    return modify_task(call, mutate)


# -- artifacts -------------------------------------------------------------------------------------------------


def add_or_update_artifacts(call: Call) -> dict[str, Any]:
    raw = call.body.array("artifacts", required=True) or []
    artifacts = [artifact_value(f"artifacts[{index}]", item) for index, item in enumerate(raw)]

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        execution = doc.setdefault("execution", {})
        current = execution.get("artifacts") or []
        positions = {(item.get("key"), item.get("mode", "output")): index for index, item in enumerate(current)}
        for artifact in artifacts:
            slot = positions.get((artifact["key"], artifact["mode"]))
            if slot is None:
                positions[(artifact["key"], artifact["mode"])] = len(current)
                current.append(artifact)
            else:
                current[slot] = artifact
        execution["artifacts"] = current
        return {"updated": len(artifacts)}

    return modify_task(call, mutate)


def delete_artifacts(call: Call) -> dict[str, Any]:
    raw = call.body.array("artifacts", required=True) or []
    keys = set()
    for index, item in enumerate(raw):
        require_shape(f"artifacts[{index}]", item, dict, "an object with 'key'")
        mode = item.get("mode") or "output"
        if not isinstance(item.get("key"), str) or mode not in ARTIFACT_MODES:
            fail(VALIDATION_ERROR, f"field 'artifacts[{index}]' needs a string 'key' and mode input|output")
        keys.add((item["key"], mode))

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        execution = doc.setdefault("execution", {})
        before = execution.get("artifacts") or []
        kept = [item for item in before if (item.get("key"), item.get("mode", "output")) not in keys]
        execution["artifacts"] = kept
        return {"deleted": len(before) - len(kept)}

    return modify_task(call, mutate)


# -- model links -----------------------------------------------------------------------------------------------


def add_or_update_model(call: Call) -> dict[str, Any]:
    name = call.body.required_string("name")
    model_id = call.body.required_string("model")
    kind = call.body.enum("type", ("input", "output"))
    if kind is None:
        fail(VALIDATION_ERROR, "missing required field 'type' (input or output)")
    iteration = call.body.integer("iteration")

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        if tx.models.get(model_id) is None:
            fail(VALIDATION_ERROR, f"model {model_id} does not exist")
        models = doc.setdefault("models", {"input": [], "output": []})
        items = [item for item in models.get(kind) or [] if item.get("name") != name]
        items.append({"name": name, "model": model_id})
        models[kind] = items
        if iteration is not None and kind == "output":
            doc["last_iteration"] = max(doc.get("last_iteration") or 0, iteration)
        return {"updated": 1}

    return modify_task(call, mutate)


def delete_models(call: Call) -> dict[str, Any]:
    raw = call.body.array("models", required=True) or []
    doomed = set()
    for index, item in enumerate(raw):
        require_shape(f"models[{index}]", item, dict, "an object with 'name' and 'type'")
        if not isinstance(item.get("name"), str) or item.get("type") not in ("input", "output"):
            fail(VALIDATION_ERROR, f"field 'models[{index}]' needs a string 'name' and type input|output")
        doomed.add((item["type"], item["name"]))

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        models = doc.setdefault("models", {"input": [], "output": []})
        removed = 0
        for kind in ("input", "output"):
            before = models.get(kind) or []
            models[kind] = [item for item in before if (kind, item.get("name")) not in doomed]
            removed += len(before) - len(models[kind])
        return {"updated": removed}

    return modify_task(call, mutate)


HANDLERS: dict[str, Handler] = {
    "get_hyper_params": get_hyper_params,
    "edit_hyper_params": edit_hyper_params,
    "delete_hyper_params": delete_hyper_params,
    "get_configurations": get_configurations,
    "get_configuration_names": get_configuration_names,
    "edit_configuration": edit_configuration,
    "delete_configuration": delete_configuration,
    "add_or_update_artifacts": add_or_update_artifacts,
    "delete_artifacts": delete_artifacts,
    "add_or_update_model": add_or_update_model,
    "delete_models": delete_models,
}
