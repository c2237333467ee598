"""The sync's gateway finds the newest version and numbers a draft as the SDK's name lookups do, reading only the
newest versions: drafts, an archived version and a squash-like root that replaces a chain are all in the history."""

import json
import sys
import tempfile
from pathlib import Path

from clearml import Dataset

from services.clearml_gateway import DatasetGateway, Draft

project, name = sys.argv[1:]
gateway = DatasetGateway(project, name)
scratch = Path(tempfile.mkdtemp())
seen = {"empty_latest": gateway.latest(), "empty_next": gateway.next_version()}


def version_with(file_name: str, draft=None) -> str:
    draft = draft or gateway.open_draft("sync-test")
    source = scratch / "in" / file_name
    source.parent.mkdir(exist_ok=True)
    source.write_text(f"a,b\n1,{file_name}\n")
    draft.add_and_upload({file_name: source}, scratch / "batch")
    draft.finalize()
    return draft.dataset_id


def sdk_view() -> dict:
    """What the SDK's own lookups by name say: the newest finalized version, and the number a new draft gets."""
    latest = Dataset.get(dataset_project=project, dataset_name=name, only_completed=True)
    _, highest = Dataset._get_dataset_id(project, name)
    return {"latest": latest.id, "highest": highest}


first = version_with("day1.csv")
second = version_with("day2.csv")
steps = []
for label in ("two versions", "an open draft", "an archived newer version", "a root replacing the chain"):
    if label == "an open draft":
        open_draft = gateway.open_draft("sync-test")  # never finalized: numbered, but not a parent
    elif label == "an archived newer version":
        gateway.archive(version_with("day3.csv"))
    elif label == "a root replacing the chain":
        root = Dataset.create(dataset_project=project, dataset_name=name, dataset_version=gateway.next_version())
        version_with("all.csv", draft=Draft(root))
    latest = gateway.latest()
    draft = gateway.open_draft("sync-test")
    steps.append(
        {
            "step": label,
            "gateway_latest": latest[0] if latest else None,
            "draft_parent": draft.parent,
            "draft_version": Dataset.get(dataset_id=draft.dataset_id).version,
            "draft_tags": list(Dataset.get(dataset_id=draft.dataset_id).tags),
            **sdk_view(),
        }
    )
    gateway.archive(draft.dataset_id)  # out of the way of the next step's SDK lookups
tagged = []  # the newest version carrying Production (what the rollout's live labels read): gateway, SDK
for version_id in (first, steps[3]["latest"]):
    gateway.set_tags(version_id, ["Production"])
    sdk = Dataset.get(dataset_project=project, dataset_name=name, dataset_tags=["Production"], only_completed=True)
    tagged.append([gateway.newest(tags=("Production",)), sdk.id])
numbers = [
    item["version"]
    for item in Dataset.list_datasets(project, partial_name=name, only_completed=False, include_archived=True)
]
result = {"seen": seen, "first": first, "second": second, "steps": steps, "numbers": numbers, "tagged": tagged}
print("RESULT " + json.dumps(result))
