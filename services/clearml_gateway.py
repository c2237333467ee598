"""The sync service's ClearML side: the labeled dataset's versions, drafts and tags, as SDK calls behind small typed
functions, so the sync's decisions see plain values and their tests need no ClearML objects.

One of the few modules allowed to import `clearml` (the `clearml` import contract in pyproject.toml names them all:
the trigger's scheduler, the rollout registry and controller, the training pods' sink, ...).

Every function here talks to the server; callers run them on one thread (SDK objects are not thread-safe) and
treat any exception as "try again later" — nothing here keeps state that a retry could corrupt.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from clearml import Dataset, Task
from clearml.utilities.version import Version as SdkVersion

from .loop_state import SQUASH_OF

logger = logging.getLogger(__name__)

# The SDK finds a dataset's newest version by name by reading every version ever made (500 a request, to the last
# page) and keeping the highest version string, and numbers a new draft by reading 500 more. The sync made three
# such reads per version, so its cost grew with the history (0.6 s more CPU, sync and server, after 3,000 versions).
# Versions are numbered in the order they are created, so the highest is among the newest few: read only those.
RECENT_VERSIONS = 50
# The get_all filters of a finalized, unarchived version of a dataset (the SDK's `only_completed=True`).
FINALIZED: dict[str, Any] = {
    "system_tags": ["__$all", "dataset", "__$not", "archived"],
    "type": ["data_processing"],
    "status": ["published", "completed", "closed"],
}


@dataclass(frozen=True)
class DatasetVersion:
    dataset_id: str
    version: str
    status: str  # created | in_progress | completed | published | failed ...
    completed: str | None  # ISO stamp of finalization (server time)
    tags: tuple[str, ...]
    archived: bool
    squash_of: str | None = None  # set on a squashed root: the version it replaced

    @property
    def finalized(self) -> bool:
        return self.status in ("completed", "published", "closed")


def _describe(dataset_id: str) -> DatasetVersion:
    task: Task = Task.get_task(task_id=dataset_id)
    data = task.data
    completed = getattr(data, "completed", None)
    system_tags = tuple(getattr(data, "system_tags", None) or ())
    version = (task.get_parameter("properties/version") or "") if hasattr(task, "get_parameter") else ""
    runtime = getattr(data, "runtime", None) or {}
    return DatasetVersion(
        dataset_id=dataset_id,
        version=str(version),
        status=str(task.get_status()),
        completed=completed.isoformat() if completed is not None else None,
        tags=tuple(task.get_tags() or ()),
        archived="archived" in system_tags,
        squash_of=runtime.get(SQUASH_OF) or None,
    )


UNFINISHED_STATUSES = ("created", "in_progress", "queued", "failed")


@dataclass(frozen=True)
class UnfinishedVersion:
    dataset_id: str
    created: str | None  # ISO stamp (server time)
    tags: tuple[str, ...]


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link when both are on one volume (no copy), else a copy (a downloaded copy may be elsewhere)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _valid_version(text: str) -> bool:
    return bool(text) and SdkVersion.is_valid_version_string(text)


def _iso(stamp: Any) -> str | None:
    return stamp.isoformat() if hasattr(stamp, "isoformat") else (str(stamp) if stamp else None)


def _moment(stamp: str) -> datetime:
    parsed = datetime.fromisoformat(stamp)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Draft:
    """An unfinalized dataset version being filled."""

    def __init__(self, dataset: Any, parent: str | None = None) -> None:
        self._dataset = dataset
        self.dataset_id: str = dataset.id
        parents = dataset._get_parents() if hasattr(dataset, "_get_parents") else []
        # its parent on the dataset's chain: the version a squash replaces, else the SDK parent
        self.parent: str | None = parent or (parents[0] if parents else None)

    @property
    def depth(self) -> int:
        """Versions in its parent chain, itself included: how many versions the SDK walks for it."""
        return len(self._dataset.get_dependency_graph())

    def add_and_upload(self, files: dict[str, Path], scratch: Path, verify: dict[str, str] | None = None) -> None:
        """Add files under their dataset paths and upload them (only the delta against the parent is uploaded).

        One `add_files` call for the whole batch: each call rewrites and re-uploads the version's state, so a
        call per file costs ~0.1 s each. The batch is presented as one folder of hard links (same volume, no
        copy), which must live until the upload has read them. With `verify` (path -> SHA-256), the version must
        hold exactly those files, or nothing is uploaded."""
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            for name, source in files.items():
                link_or_copy(source, scratch / name)
            self._dataset.add_files(str(scratch), verbose=False)
            if verify is not None:
                held = {path: str(entry.hash) for path, entry in self._dataset.file_entries_dict.items()}
                if held != verify:
                    differing = sorted(set(held.items()) ^ set(verify.items()))[:5]
                    raise RuntimeError(f"version {self.dataset_id} would not hold the expected files: {differing}")
            # One zipper: with several, the SDK (2.1.12, ParallelZipper) merges the partial zips and closes each
            # merged one's file descriptor twice; by the second close the number can belong to another thread's new
            # socket or file (seen: the sync's HTTP server lost an accepted connection, "Bad file descriptor").
            self._dataset.upload(show_progress=False, verbose=False, max_workers=1)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def report_lineage(self, table: pd.DataFrame) -> None:
        """For a squashed root: which version added each of its files, as a table in the UI."""
        self._dataset.get_logger().report_table(title="lineage", series="sessions", iteration=0, table_plot=table)

    def describe(self, description: str, metadata: dict[str, Any]) -> None:
        self._dataset.set_description(description)
        self._dataset.set_metadata(metadata, metadata_name="sessions", ui_visible=False)

    def report_previews(self, readings: dict[str, pd.DataFrame], summary: pd.DataFrame, balance: pd.DataFrame) -> None:
        """What a person sees in the UI for this version: every sensor over time per new file, the label balance
        and the validation summary."""
        log = self._dataset.get_logger()
        for sensor in ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio"):
            figure = {
                "data": [
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": name,
                        "x": frame["date"].dt.strftime("%Y-%m-%d %H:%M").tolist()[::2],
                        "y": frame[sensor].round(5).tolist()[::2],
                    }
                    for name, frame in readings.items()
                ],
                "layout": {
                    "title": f"{sensor} of the new labeling sessions",
                    "xaxis": {"title": "time"},
                    "yaxis": {"title": sensor},
                },
            }
            log.report_plotly(title="new sessions", series=sensor, figure=figure, iteration=0)
        log.report_table(title="label balance", series="new sessions", iteration=0, table_plot=balance)
        log.report_table(title="validation", series="new sessions", iteration=0, table_plot=summary)

    def finalize(self) -> None:
        self._dataset.finalize(auto_upload=True)


class DatasetGateway:
    """One labeled dataset (project + name): its versions, drafts and tags."""

    def __init__(self, project: str, name: str) -> None:
        self.project = project
        self.name = name

    def open_draft(self, owner_tag: str) -> Draft:
        """A writable child of the latest *finalized* version (or the first version), tagged `owner_tag` only: a new
        version must not inherit `Production` before it is validated and finalized, and an abandoned draft must be
        traceable to the sync instance that opened it. (What `Dataset.get(..., writable_copy=True)` does, without
        its two reads of every version: see `RECENT_VERSIONS`.)"""
        head = self._highest_recent(finalized_only=True)
        return Draft(
            Dataset.create(
                dataset_project=self.project,
                dataset_name=self.name,
                dataset_tags=[owner_tag],
                parent_datasets=[head[0]] if head else None,
                dataset_version=self.next_version(),
            )
        )

    def next_version(self) -> str | None:
        """The version string of a new draft: the highest yet, its last part incremented (the SDK's numbering), or
        None for the first (the SDK then numbers it 1.0.0)."""
        highest = self._highest_recent(finalized_only=False)
        return str(SdkVersion(highest[1]).get_next_version()) if highest and _valid_version(highest[1]) else None

    def newest(self, tags: tuple[str, ...] = ()) -> str | None:
        """The newest finalized version (the one the next draft builds on), or the newest carrying all of `tags`;
        None when there is none."""
        head = self._highest_recent(finalized_only=True, tags=tags)
        return head[0] if head else None

    def _highest_recent(self, *, finalized_only: bool, tags: tuple[str, ...] = ()) -> tuple[str, str] | None:
        """(id, version) of the version with the highest version string among the `RECENT_VERSIONS` most recently
        created (only finalized, unarchived ones, or any; with `tags`, only those carrying all of them), by the
        SDK's rule: the newest wins unless an older one has a higher valid version string. None when there is none."""
        filters: dict[str, Any] = dict(FINALIZED) if finalized_only else {"system_tags": ["dataset"]}
        if tags:
            filters["tags"] = ["__$all", *tags]
        tasks: list[Any] = Task._query_tasks(  # task records (only_fields), not Task objects; raises on a failure
            project_name=[self._hidden_project],
            task_name=f"^{re.escape(self.name)}$",
            only_fields=["id", "runtime"],
            order_by=["-created"],
            page=0,
            page_size=RECENT_VERSIONS,
            search_hidden=True,
            _allow_extra_fields_=True,
            **filters,
        )
        chosen: tuple[str, str] | None = None
        for task in tasks:
            candidate = (str(task.id), str((task.runtime or {}).get("version") or ""))
            if chosen is None or (
                _valid_version(candidate[1])
                and (not _valid_version(chosen[1]) or SdkVersion(chosen[1]) < SdkVersion(candidate[1]))
            ):
                chosen = candidate
        return chosen

    @property
    def _hidden_project(self) -> str:
        return f"{self.project}/.datasets/{self.name}"  # where the SDK keeps a dataset's versions

    def version(self, dataset_id: str) -> DatasetVersion | None:
        try:
            return _describe(dataset_id)
        except ValueError:  # "No task id=... found"
            return None

    def parent_of(self, dataset_id: str) -> str | None:
        """Its parent on the dataset's chain: for a squash the version it replaced, else the SDK parent."""
        squash_of = self.runtimes([dataset_id]).get(dataset_id, {}).get(SQUASH_OF)
        if squash_of:
            return str(squash_of)
        parents = Dataset.get(dataset_id=dataset_id)._get_parents()
        return str(parents[0]) if parents else None

    def runtimes(self, dataset_ids: list[str]) -> dict[str, dict[str, Any]]:
        """id -> runtime properties (`version`, `squash_of`, ...) of several versions, in one request."""
        tasks: list[Any] = Task._query_tasks(  # task records (only_fields), not Task objects
            task_ids=dataset_ids, only_fields=["id", "runtime"], search_hidden=True, _allow_extra_fields_=True
        )
        return {str(task.id): dict(task.runtime or {}) for task in tasks}

    def latest(self) -> tuple[str, int] | None:
        """The newest finalized version (the one the next draft builds on) and its depth, or None."""
        head = self.newest()
        if head is None:
            return None
        return head, len(Dataset.get(dataset_id=head).get_dependency_graph())

    def finalized_children(self, parent: str | None) -> list[DatasetVersion]:
        """Finalized, unarchived versions whose chain parent is `parent` (siblings of a version built on it).

        Only versions created after `parent` was finalized can be its children (the SDK refuses an unfinished
        parent), so with a long history this reads the few newest versions, not all of them."""
        since = None
        if parent is not None:
            described = self.version(parent)
            since = described.completed if described is not None else None
        children = []
        for item in self._finalized_since(since):
            runtime = item.get("runtime") or {}
            chain_parent = runtime.get(SQUASH_OF) or self.parent_of(str(item["id"]))
            if chain_parent == parent:
                children.append(_describe(str(item["id"])))
        return children

    def _finalized_since(self, since: str | None, page_size: int = 50) -> list[dict[str, Any]]:
        """Finalized, unarchived versions created at or after `since` (every one when None), newest first."""
        found: list[dict[str, Any]] = []
        earliest = _moment(since) if since is not None else None
        for page in range(10_000):
            tasks: list[Any] = Task._query_tasks(  # task records (only_fields), not Task objects
                project_name=[self._hidden_project],
                task_name=f"^{re.escape(self.name)}$",
                **FINALIZED,
                only_fields=["id", "created", "runtime"],
                order_by=["-created"],
                page=page,
                page_size=page_size,
                search_hidden=True,
                _allow_extra_fields_=True,
            )
            for task in tasks:
                created = _iso(task.created)
                if earliest is not None and created is not None and _moment(created) < earliest:
                    return found
                found.append({"id": task.id, "created": created, "runtime": task.runtime or {}})
            if len(tasks) < page_size:
                return found
        return found

    def unfinished_versions(self) -> list[UnfinishedVersion]:
        """Versions of this dataset that were never finalized (drafts, live or abandoned), not archived."""
        listed = Dataset.list_datasets(
            dataset_project=self.project, partial_name=self.name, only_completed=False, include_archived=False
        )
        return [
            UnfinishedVersion(str(item["id"]), _iso(item.get("created")), tuple(item.get("tags") or ()))
            for item in listed
            if item.get("name") == self.name and str(item.get("status")) in UNFINISHED_STATUSES  # an SDK enum
        ]

    def set_tags(self, dataset_id: str, tags: list[str]) -> None:
        Task.get_task(task_id=dataset_id).set_tags(tags)

    def archive(self, dataset_id: str) -> None:
        """Hide a version from every "latest version" lookup (the SDK excludes archived versions)."""
        Task.get_task(task_id=dataset_id).set_archived(True)

    def delete(self, dataset_id: str) -> None:
        """Delete an unfinished draft and whatever it uploaded (a half-written draft may have no state file yet,
        so this goes through the task rather than `Dataset.delete`)."""
        # A draft killed mid-upload lists artifacts whose files never arrived: failing to delete those is fine,
        # failing to delete the task is not.
        Task.get_task(task_id=dataset_id).delete(delete_artifacts_and_models=True, raise_on_error=False)
        if self.version(dataset_id) is not None:
            raise RuntimeError(f"draft {dataset_id} could not be deleted")
