"""`projects.*` — the project tree.

A project's `name` is its full path (`labels/.datasets/labeled`); creating one creates its missing parents, and a
rename moves its sub-projects along. Datasets live in hidden projects (`system_tags: [hidden, dataset]`), which
`get_all` leaves out unless `search_hidden` is set.
"""

from __future__ import annotations

from typing import Any

from ..calls import Call, Handler, project_or_fail
from ..documents import Doc
from ..queries import CollectionSpec, compile_query
from ..store import Session
from ..wire import PROJECT_EXISTS, PROJECT_NOT_EMPTY, fail
from .listing import get_all_reply, in_projects
from .project_tree import by_name, ensure_project, new_project, normalize_name, parent_name

PROJECT_SPEC = CollectionSpec(
    fields=frozenset(
        {
            "id",
            "name",
            "basename",
            "description",
            "user",
            "company",
            "tags",
            "system_tags",
            "created",
            "last_update",
            "parent",
        }
    ),
    text_fields=frozenset({"name", "basename", "description"}),
    datetime_fields=frozenset({"created", "last_update"}),
    search_text_fields=("id", "name", "description"),
)


def create(call: Call) -> dict[str, Any]:
    name = normalize_name(call.body.required_string("name"))
    with call.store.write() as tx:
        if by_name(tx, name) is not None:
            fail(PROJECT_EXISTS, f"name={name}")
        doc = new_project(
            tx,
            name,
            call,
            description=call.body.string("description"),
            tags=call.body.strings("tags"),
            system_tags=call.body.strings("system_tags"),
            default_output_destination=call.body.string("default_output_destination"),
        )
    return {"id": doc["id"]}


def get_all(call: Call) -> dict[str, Any]:
    query = compile_query(call.body.data, PROJECT_SPEC)
    if call.body.boolean("shallow_search") and not call.body.strings("parent"):
        query = query.narrowed(lambda doc: "/" not in doc["name"], "name")  # top-level projects only
    return get_all_reply(call, call.store.read().projects, query, "projects", by_project=False)


def get_by_id(call: Call) -> dict[str, Any]:
    return {"project": project_or_fail(call.store.read(), call.body.required_string("project"))}


def update(call: Call) -> dict[str, Any]:
    project_id = call.body.required_string("project")
    new_name = call.body.string("name")
    fields: dict[str, Any] = {}
    for key in ("description", "default_output_destination"):
        if key in call.body:
            fields[key] = call.body.string(key)
    for key in ("tags", "system_tags"):
        value = call.body.strings(key)
        if value is not None:
            fields[key] = value
    with call.store.write() as tx:
        doc = project_or_fail(tx, project_id)
        if new_name is not None and normalize_name(new_name) != doc["name"]:
            _rename(tx, doc, normalize_name(new_name), call)
            fields["name"] = doc["name"]
        doc.update(fields)
        doc["last_update"] = call.stamp()
        tx.projects.put(doc)
    return {"updated": 1, "fields": fields}


def _rename(session: Session, doc: Doc, new_name: str, call: Call) -> None:
    if by_name(session, new_name) is not None:
        fail(PROJECT_EXISTS, f"name={new_name}")
    old_prefix = doc["name"] + "/"
    for child in session.projects.all():
        if child["name"].startswith(old_prefix):
            child["name"] = new_name + "/" + child["name"][len(old_prefix) :]
            session.projects.put(child)
    parent = parent_name(new_name)
    doc["parent"] = ensure_project(session, parent, call)[0] if parent else None
    doc["name"] = new_name
    doc["basename"] = new_name.rsplit("/", 1)[-1]


def move(call: Call) -> dict[str, Any]:
    project_id = call.body.required_string("project")
    new_location = call.body.string("new_location") or ""
    with call.store.write() as tx:
        doc = project_or_fail(tx, project_id)
        target = f"{normalize_name(new_location)}/{doc['basename']}" if new_location.strip("/") else doc["basename"]
        if target != doc["name"]:
            _rename(tx, doc, target, call)
            doc["last_update"] = call.stamp()
            tx.projects.put(doc)
    return {"moved": 1}


def _subtree(session: Session, doc: Doc) -> list[Doc]:
    prefix = doc["name"] + "/"
    return [doc, *(item for item in session.projects.all() if item["name"].startswith(prefix))]


def delete(call: Call) -> dict[str, Any]:
    project_id = call.body.required_string("project")
    force = call.body.boolean("force")
    delete_contents = call.body.boolean("delete_contents")
    with call.store.write() as tx:
        projects = _subtree(tx, project_or_fail(tx, project_id))
        ids = [item["id"] for item in projects]
        tasks = tx.tasks.where("project", ids)
        models = tx.models.where("project", ids)
        if (tasks or models) and not (force or delete_contents):
            fail(PROJECT_NOT_EMPTY, f"{len(tasks)} tasks and {len(models)} models (send force or delete_contents)")
        for task in tasks:
            if delete_contents:
                tx.entries.remove(None, task["id"])
                tx.events.delete_for_task(task["id"])
                tx.tasks.delete(task["id"])
            else:
                task["project"] = None
                tx.tasks.put(task)
        for model in models:
            if delete_contents:
                tx.models.delete(model["id"])
            else:
                model["project"] = None
                tx.models.put(model)
        for item in projects:
            tx.projects.delete(item["id"])
    return {
        "deleted": len(projects),
        "disassociated_tasks": 0 if delete_contents else len(tasks),
        "deleted_tasks": len(tasks) if delete_contents else 0,
        "deleted_models": len(models) if delete_contents else 0,
    }


def validate_delete(call: Call) -> dict[str, Any]:
    session = call.store.read()
    ids = [item["id"] for item in _subtree(session, project_or_fail(session, call.body.required_string("project")))]
    tasks = session.tasks.where("project", ids)
    models = session.models.where("project", ids)

    def live(docs: list[Doc]) -> int:
        return sum(1 for doc in docs if "archived" not in (doc.get("system_tags") or []))

    return {
        "tasks": len(tasks),
        "non_archived_tasks": live(tasks),
        "models": len(models),
        "non_archived_models": live(models),
    }


def _tags_of(docs: list[Doc], include_system: bool) -> dict[str, Any]:
    tags = sorted({tag for doc in docs for tag in doc.get("tags") or []})
    reply: dict[str, Any] = {"tags": tags}
    if include_system:
        reply["system_tags"] = sorted({tag for doc in docs for tag in doc.get("system_tags") or []})
    return reply


def _scoped(call: Call, table: str) -> list[Doc]:
    session = call.store.read()
    return in_projects(session.tasks if table == "tasks" else session.models, call.body.strings("projects"))


def get_task_tags(call: Call) -> dict[str, Any]:
    return _tags_of(_scoped(call, "tasks"), call.body.boolean("include_system"))


def get_model_tags(call: Call) -> dict[str, Any]:
    return _tags_of(_scoped(call, "models"), call.body.boolean("include_system"))


def get_project_tags(call: Call) -> dict[str, Any]:
    return _tags_of(call.store.read().projects.all(), call.body.boolean("include_system"))


def get_task_parents(call: Call) -> dict[str, Any]:
    session = call.store.read()
    tasks = _scoped(call, "tasks")
    parent_ids = sorted({doc["parent"] for doc in tasks if doc.get("parent")})
    parents = []
    for parent in session.tasks.get_many(parent_ids):
        project = session.projects.get(parent.get("project") or "") or {}
        parents.append(
            {
                "id": parent["id"],
                "name": parent.get("name"),
                "project": {"id": project.get("id"), "name": project.get("name")},
            }
        )
    return {"parents": parents}


def get_hyper_parameters(call: Call) -> dict[str, Any]:
    session = call.store.read()
    tasks = session.tasks.where("project", [call.body.required_string("project")])
    names = sorted(
        {
            (section, name)
            for task in tasks
            for section, params in (task.get("hyperparams") or {}).items()
            for name in params
        }
    )
    return {
        "total": len(names),
        "remaining": 0,
        "parameters": [{"section": section, "name": name} for section, name in names],
    }


def get_unique_metric_variants(call: Call) -> dict[str, Any]:
    project_id = call.body.string("project")
    session = call.store.read()
    tasks = in_projects(session.tasks, [project_id] if project_id else None)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for task in tasks:
        for metric_hash, variants in (task.get("last_metrics") or {}).items():
            for variant_hash, value in variants.items():
                key = (metric_hash, variant_hash)
                seen[key] = {
                    "metric": value.get("metric"),
                    "variant": value.get("variant"),
                    "metric_hash": metric_hash,
                    "variant_hash": variant_hash,
                }
    return {"metrics": list(seen.values())}


HANDLERS: dict[str, Handler] = {
    "create": create,
    "get_all": get_all,
    "get_all_ex": get_all,
    "get_by_id": get_by_id,
    "update": update,
    "move": move,
    "delete": delete,
    "validate_delete": validate_delete,
    "get_task_tags": get_task_tags,
    "get_model_tags": get_model_tags,
    "get_project_tags": get_project_tags,
    "get_task_parents": get_task_parents,
    "get_hyper_parameters": get_hyper_parameters,
    "get_unique_metric_variants": get_unique_metric_variants,
}
