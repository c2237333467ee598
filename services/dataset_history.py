"""The labeled dataset's history policy (issue 22): squash a version's parent chain into a new root version with
the same content, and trace every file of any version to the version that added it, across squashes.

Why squash: the SDK walks a version's whole ancestry whenever a version is created, finalized or downloaded (per
ancestor a task read, its state file, and a HOCON parse of its `Dataset Struct`, which itself lists the ancestry),
so with one version a day those costs grow without bound (BENCHMARKS.md#history). A root version has no ancestry.

A squashed root:
- holds exactly the files of the version it replaces: same names, same SHA-256 (checked before it is finalized);
- records that version in the runtime property `squash_of` (its parent on the dataset's one chain: fork checks and
  the next version build on it);
- names, in its `sessions` metadata, for every file the version that added it (`lineage`), so the labeling
  sessions of every version stay traceable after the chain that added them is no longer walked;
- is tagged `squashed`, never `Production`: its content is its predecessor's, so training it again would be waste.
Nothing is deleted: every earlier version, and every model trained on one, keeps its dataset id and content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from clearml import Dataset

from .clearml_gateway import SQUASH_OF, DatasetGateway, Draft

SQUASH_TAG = "squashed"
METADATA_NAME = "sessions"  # the metadata every version of the labeled dataset carries (services/sync)

Origin = dict[str, str]  # {"dataset_id": ..., "version": ...}: the version that added a file


class ContentMismatch(RuntimeError):
    """A squashed root would not hold exactly its predecessor's files: it is never finalized."""


def lineage_of(
    owners: Mapping[str, str], versions: Mapping[str, str], root_lineages: Mapping[str, Mapping[str, Origin]]
) -> dict[str, Origin]:
    """For every file, the version that added it. `owners` is the SDK's record (file -> the version whose upload
    holds it); a file held by a squashed root was added by the version its lineage names."""
    traced: dict[str, Origin] = {}
    for path, owner in owners.items():
        inherited = root_lineages.get(owner, {}).get(path)
        traced[path] = dict(inherited) if inherited else {"dataset_id": owner, "version": versions.get(owner, "")}
    return traced


def content_of(dataset: Any) -> dict[str, str]:
    """relative path -> SHA-256 of every file of a dataset version."""
    if dataset.link_entries:
        raise ContentMismatch(f"dataset {dataset.id} holds external links; the sync never adds any")
    return {path: str(entry.hash) for path, entry in dataset.file_entries_dict.items()}


class DatasetHistory:
    def __init__(self, gateway: DatasetGateway) -> None:
        self.gateway = gateway

    def trace(self, dataset_id: str) -> dict[str, Origin]:
        """file -> the version that added it, for every file of `dataset_id` (reads at most one squashed root's
        metadata, however long the history)."""
        dataset = Dataset.get(dataset_id=dataset_id)
        owners = {path: str(entry.parent_dataset_id) for path, entry in dataset.file_entries_dict.items()}
        runtimes = self.gateway.runtimes(sorted(set(owners.values())))
        versions = {owner: str(runtime.get("version") or "") for owner, runtime in runtimes.items()}
        roots = {owner: self.root_lineage(owner) for owner, runtime in runtimes.items() if runtime.get(SQUASH_OF)}
        return lineage_of(owners, versions, roots)

    def root_lineage(self, root_id: str) -> dict[str, Origin]:
        metadata = Dataset.get(dataset_id=root_id).get_metadata(METADATA_NAME)
        lineage = metadata.get("lineage") if isinstance(metadata, dict) else None
        return dict(lineage) if isinstance(lineage, dict) else {}

    def open_squash(self, head_id: str, owner_tag: str) -> Draft:
        """A new root version of the dataset (no parent), created with `owner_tag` like any draft of the sync,
        recording `head_id` as the version it will replace."""
        root = Dataset.create(dataset_project=self.gateway.project, dataset_name=self.gateway.name,
                              dataset_tags=[owner_tag])  # fmt: skip
        root._task._set_runtime_properties({SQUASH_OF: head_id})
        return Draft(root, parent=head_id)

    def fill(self, root: Draft, head_id: str, local_copy: Callable[[str, str], Path | None], scratch: Path) -> int:
        """Put every file of `head_id` into the root, byte for byte, describe it and upload it; returns the file count.

        The files come from `local_copy(sha256, name)` when every one is there (the sync's own archive: no
        download), otherwise from the head's local copy (downloaded from the file server). Either way the root's
        hashes must equal the head's before anything is uploaded."""
        head = Dataset.get(dataset_id=head_id)
        expected = content_of(head)
        local = {path: local_copy(sha256, Path(path).name) for path, sha256 in expected.items()}
        if any(source is None for source in local.values()):
            folder = Path(head.get_local_copy())
            local = {path: folder / path for path in expected}
        root.add_and_upload({path: source for path, source in local.items() if source is not None}, scratch,
                            verify=expected)  # fmt: skip
        lineage = self.trace(head_id)
        described = self.gateway.version(head_id)
        version = described.version if described is not None else ""
        table = pd.DataFrame(
            [{"session": path, "added by version": origin["version"], "dataset id": origin["dataset_id"]}
             for path, origin in sorted(lineage.items())]
        )  # fmt: skip
        root.report_lineage(table)
        root.describe(
            f"squash of {self.gateway.name} {version} ({head_id}): its {len(expected)} labeling sessions in one root "
            "version, added by the versions named in the metadata 'sessions' (lineage)",
            {"sessions": [], "files": {}, "squash_of": {"dataset_id": head_id, "version": version},
             "lineage": lineage},
        )  # fmt: skip
        return len(expected)
