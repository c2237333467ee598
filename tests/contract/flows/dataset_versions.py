"""Every version of one dataset, finalized or not, archived or not: what the sync tests assert on."""

import json
import sys

from clearml import Dataset, Task

project, name = sys.argv[1:]
versions = []
for item in Dataset.list_datasets(
    dataset_project=project, partial_name=name, only_completed=False, include_archived=True
):
    if item["name"] != name:
        continue
    task = Task.get_task(task_id=item["id"])
    entry = {
        "id": item["id"],
        "version": item.get("version"),
        "status": str(task.get_status()),
        "tags": list(task.get_tags() or []),
        "archived": "archived" in (task.data.system_tags or []),
        "completed": task.data.completed.isoformat() if task.data.completed else None,
        "squash_of": (task.data.runtime or {}).get("squash_of"),
        "comment": task.data.comment or "",
    }
    try:
        dataset = Dataset.get(dataset_id=item["id"])
        parents = dataset._get_parents()
        entry.update(
            parent=parents[0] if parents else None,
            files=sorted(dataset.list_files()),
            added=sorted(dataset.list_added_files()),
            modified=sorted(dataset.list_modified_files()),
            hashes={path: held.hash for path, held in dataset.file_entries_dict.items()},
            depth=len(dataset.get_dependency_graph()),
        )
        if "sessions" in task.artifacts:
            entry["metadata"] = dataset.get_metadata("sessions")
    except Exception as error:  # a draft without a state file yet
        entry["error"] = str(error)
    versions.append(entry)
print("RESULT " + json.dumps({"versions": versions}))
