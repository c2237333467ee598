"""The trigger's ledger as the server holds it: every tagged, finalized version of the dataset project and every
run the trigger launched (the runs carry `retrain` and `dataset:<id>` tags: decisions.py).

A step reads only the rows changed since the previous step and keeps the rest in a `LedgerMirror` (mirror.py), with
a whole read at start and every FULL_READ_SECONDS; reading the whole ledger at every step made each step cost more
as versions piled up (BENCHMARKS.md, history). A launch reads the runs of its one version afresh (`runs`).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

from ..clearml_api import call, every_page
from ..settings import TriggerSettings
from .decisions import Run, Version, dataset_of, parse_stamp, run_tag, tag_filter, tags_match
from .mirror import LedgerMirror

TRIGGER_NAME = "retrain"  # the dataset trigger's name, also the tag on every run it launches
FULL_READ_SECONDS = 300.0  # between whole reads of the ledger (the steps between read only what changed)
RUN_LOOKBACK = timedelta(hours=1)  # a version's runs are read from this long before it was finalized


class ServerLedger:
    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self.mirror = LedgerMirror(FULL_READ_SECONDS)

    def _dataset_projects(self) -> list[str]:
        """The hidden projects of every dataset name under the project (resolved on each step, so names created
        after start are watched: C6)."""
        projects = call(
            "projects.get_all",
            {
                "name": f"^{re.escape(self.settings.dataset_project)}/\\.datasets/",
                "search_hidden": True,
                "only_fields": ["id"],
            },
        ).get("projects")
        return [str(item["id"]) for item in projects or []]

    def _read_versions(self, projects: list[str], since: datetime | None) -> list[dict[str, Any]]:
        """Every tagged, finalized, unarchived version (since=None), or every version changed since `since`
        (tagged or not, archived or not: a change can take one out of the ledger)."""
        if not projects:
            return []
        body: dict[str, Any] = {
            "project": projects,
            "system_tags": ["dataset"],
            "type": ["data_processing"],
            "only_fields": ["id", "name", "completed", "runtime", "status", "tags", "system_tags", "last_update"],
            "search_hidden": True,
        }
        if since is None:
            body.update(
                system_tags=["dataset", "-archived"],
                status=["completed", "published"],
                tags=tag_filter(self.settings.tags, self.settings.tag_match),
            )
        else:
            body["last_update"] = [f">={since.isoformat()}"]
        return every_page("tasks.get_all", body, "tasks")

    def _as_version(self, item: dict[str, Any]) -> Version | None:
        """The version a task record is, or None when it is not (or no longer) one the trigger trains."""
        member = (
            item.get("completed")
            and item.get("status") in ("completed", "published")
            and "archived" not in (item.get("system_tags") or [])
            and tags_match(item.get("tags") or [], self.settings.tags, self.settings.tag_match)
        )
        if not member:
            return None
        return Version(
            str(item["id"]),
            str(item.get("name") or ""),
            str(item.get("completed") or ""),
            str((item.get("runtime") or {}).get("version") or ""),
        )

    def _read_runs(self, since: datetime | None = None, dataset_id: str | None = None) -> list[dict[str, Any]]:
        """Runs this trigger launched (any replica, any time), of every version or of one: every unarchived one, or
        every one changed since `since` (archived or not)."""
        body: dict[str, Any] = {
            "tags": [run_tag(dataset_id)] if dataset_id else [TRIGGER_NAME],
            "system_tags": ["-archived"],
            "type": ["training"],
            "only_fields": ["id", "tags", "system_tags", "status", "created", "started", "completed", "last_update"],
        }
        if since is not None:
            del body["system_tags"]
            body["last_update"] = [f">={since.isoformat()}"]
        return every_page("tasks.get_all", body, "tasks")

    @staticmethod
    def _as_run(item: dict[str, Any]) -> Run | None:
        owner = dataset_of(item.get("tags") or [])
        if not owner or "archived" in (item.get("system_tags") or []):
            return None
        stamps = (str(item.get(key) or "") for key in ("created", "started", "completed"))
        return Run(str(item["id"]), owner, str(item.get("status")), *stamps)

    def runs(self, version: Version) -> list[Run]:
        """The runs of one version, read afresh: what a launch decides on. Its runs were cloned after it was
        finalized, so only tasks changed since then are read (an index range on the server, not every task),
        from RUN_LOOKBACK earlier, for the clocks of several API servers."""
        finalized = parse_stamp(version.completed)
        rows = self._read_runs(since=finalized - RUN_LOOKBACK if finalized else None, dataset_id=version.dataset_id)
        return [run for run in map(self._as_run, rows) if run is not None]  # archived ones are not runs

    def read(self) -> tuple[list[Version], list[Run]]:
        """Every tagged version and every run, from the mirror kept current with the rows changed since the last
        step (a whole read at start and every FULL_READ_SECONDS: services/trigger/mirror.py)."""
        now = time.monotonic()
        projects = self._dataset_projects()
        since = None if self.mirror.needs_full_read(now) else self.mirror.changes_since()
        version_rows, run_rows = self._read_versions(projects, since), self._read_runs(since)
        stamps = [parse_stamp(item.get("last_update")) for item in (*version_rows, *run_rows)]
        versions = [(str(item["id"]), self._as_version(item)) for item in version_rows]
        runs = [(str(item["id"]), self._as_run(item)) for item in run_rows]
        if since is None:
            self.mirror.replace(
                (version for _, version in versions if version), (run for _, run in runs if run), stamps, now
            )
        else:
            self.mirror.update(versions, runs, stamps)
        return list(self.mirror.versions.values()), list(self.mirror.runs.values())
