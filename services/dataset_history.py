"""The labeled dataset's history policy (issue 22): squash a version's parent chain into a new root version with
the same content, and trace every file of any version to the version that added it, across squashes.

Why squash: the SDK walks a version's whole ancestry whenever a version is created, finalized or downloaded (per
ancestor a task read, its state file, and a HOCON parse of its `Dataset Struct`, which itself lists the ancestry),
so with one version a day those costs grow without bound (BENCHMARKS.md#history). A root version has no ancestry.

A squash:
- holds exactly the files of the version it replaces: same names, same SHA-256 (checked before it is finalized);
- is a root (no parent) holding every file, or, while the files added since the chain's root are fewer than a
  quarter of the root's, a child of that root holding only those (a segment squash, depth 2): the root's files are
  not uploaded again, so the file store grows by about three times less than with a full copy every time;
- records the version it replaces in the runtime property `squash_of` (its parent on the dataset's one chain: fork
  checks and the next version build on it);
- names, in its `sessions` metadata, for every file the version that added it (`lineage`), so the labeling
  sessions of every version stay traceable after the chain that added them is no longer walked;
- is tagged `squashed`, never `Production`: its content is its predecessor's, so training it again would be waste.
Nothing is deleted: every earlier version, and every model trained on one, keeps its dataset id and content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from clearml import Dataset

from .clearml_gateway import DatasetGateway, Draft
from .loop_state import SQUASH_OF

METADATA_NAME = "sessions"  # the metadata every version of the labeled dataset carries (services/sync)

Origin = dict[str, str]  # {"dataset_id": ..., "version": ...}: the version that added a file
SEGMENT_SHARE = 4  # a segment squash while the files since the root are fewer than 1/SEGMENT_SHARE of the root's


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


@dataclass(frozen=True)
class SquashPlan:
    head_id: str
    base_id: str | None  # the chain's root, kept as the parent (a segment squash), or None (a full root)
    content: dict[str, str]  # path -> SHA-256 the squash must hold: the head's
    upload: dict[str, str]  # the part of it the squash uploads (everything, or what the base does not hold)


def plan_squash(
    head_id: str,
    content: Mapping[str, str],
    owners: Mapping[str, str],
    graph: Mapping[str, list[str]],
    base_files: int,
) -> SquashPlan:
    """Full root or segment squash, from the head's files (`owners`: path -> the version holding it) and chain."""
    bottoms = [node for node, parents in graph.items() if not parents]
    base = bottoms[0] if len(bottoms) == 1 and bottoms[0] != head_id else None
    held_by_base = [path for path, owner in owners.items() if owner == base]
    segment = {path: sha256 for path, sha256 in content.items() if owners.get(path) != base}
    if base is None or len(held_by_base) != base_files or len(segment) * SEGMENT_SHARE >= base_files:
        return SquashPlan(head_id, None, dict(content), dict(content))
    return SquashPlan(head_id, base, dict(content), segment)


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

    def open_squash(self, head_id: str, owner_tag: str) -> tuple[Draft, SquashPlan]:
        """A new version of the dataset that will replace `head_id` (a root, or a child of the chain's root: see
        `plan_squash`), created with `owner_tag` like any draft of the sync."""
        head = Dataset.get(dataset_id=head_id)
        owners = {path: str(entry.parent_dataset_id) for path, entry in head.file_entries_dict.items()}
        graph = head.get_dependency_graph()
        bottoms = [node for node, parents in graph.items() if not parents]
        base_files = (
            int(self.gateway.runtimes(bottoms[:1]).get(bottoms[0], {}).get("ds_file_count") or 0) if bottoms else 0
        )
        plan = plan_squash(head_id, content_of(head), owners, graph, base_files)
        squash = Dataset.create(
            dataset_project=self.gateway.project,
            dataset_name=self.gateway.name,
            dataset_tags=[owner_tag],
            parent_datasets=[plan.base_id] if plan.base_id else None,
            dataset_version=self.gateway.next_version(),  # without it the SDK reads up to 500 versions to number it
        )
        squash._task._set_runtime_properties({SQUASH_OF: head_id})
        return Draft(squash, parent=head_id), plan

    def fill(
        self, squash: Draft, plan: SquashPlan, local_copy: Callable[[str, str], Path | None], scratch: Path
    ) -> int:
        """Put the head's files into the squash, byte for byte (only `plan.upload` is uploaded), describe it; returns
        the file count.

        The files come from `local_copy(sha256, name)` when every one is there (the sync's own archive: no
        download), otherwise from the head's local copy (downloaded from the file server). Either way the squash's
        hashes must equal the head's before anything is uploaded."""
        head_id, expected = plan.head_id, plan.content
        local = {path: local_copy(sha256, Path(path).name) for path, sha256 in plan.upload.items()}
        if any(source is None for source in local.values()):
            folder = Path(Dataset.get(dataset_id=head_id).get_local_copy())
            local = {path: folder / path for path in plan.upload}
        squash.add_and_upload(
            {path: source for path, source in local.items() if source is not None}, scratch, verify=expected
        )
        lineage = self.trace(head_id)
        described = self.gateway.version(head_id)
        version = described.version if described is not None else ""
        table = pd.DataFrame(
            [
                {"session": path, "added by version": origin["version"], "dataset id": origin["dataset_id"]}
                for path, origin in sorted(lineage.items())
            ]
        )
        squash.report_lineage(table)
        shape = (
            f"{len(plan.upload)} of them uploaded again on top of the root {plan.base_id}"
            if plan.base_id
            else "in one root version"
        )
        squash.describe(
            f"squash of {self.gateway.name} {version} ({head_id}): its {len(expected)} labeling sessions, {shape}; "
            "the version that added each is named in the metadata 'sessions' (lineage)",
            {
                "sessions": [],
                "files": {},
                "squash_of": {"dataset_id": head_id, "version": version},
                "base": plan.base_id,
                "lineage": lineage,
            },
        )
        return len(expected)
