"""Plain-dict helpers shared by the store and the endpoints: ids, server timestamps and dotted paths.

Objects (tasks, models, projects, queues) are JSON documents shaped like the ClearML API's own objects, so a
handler can return them as they are. Nothing here does I/O.
"""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

Doc = dict[str, Any]

HIDDEN_TAG = "hidden"
ARCHIVED_TAG = "archived"


def new_id() -> str:
    return uuid.uuid4().hex


def iso(moment: datetime) -> str:
    """Fixed-width ISO-8601 in UTC, so that string order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class MonotonicClock:
    """Wall-clock time that never repeats or goes backwards within one server process.

    `last_update` is a watermark for the TriggerScheduler, which compares with a strict `>`: two edits in the
    same microsecond must still get different stamps, or the second one is never seen.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            moment = datetime.now(UTC)
            if moment <= self._last:
                moment = self._last + timedelta(microseconds=1)
            self._last = moment
            return moment


def get_path(doc: Any, path: str) -> Any:
    """The value at a dotted path (`execution.queue`), or None when any part is missing."""
    current = doc
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def project_fields(doc: Doc, only_fields: list[str] | None) -> Doc:
    """Mongo-style projection with dotted paths.

    A requested child whose parent exists but lacks it still yields the parent as an empty dict: the SDK reads
    `task.runtime.get("version")` after asking for `runtime.version` and breaks on a missing `runtime`.
    `id` is always included.
    """
    if not only_fields:
        return doc
    result: Doc = {"id": doc.get("id")}
    for path in only_fields:
        if not isinstance(path, str) or not path:
            continue
        parts = path.split(".")
        source: Any = doc
        target = result
        for index, part in enumerate(parts):
            if not isinstance(source, dict) or part not in source:
                break
            source = source[part]
            if index == len(parts) - 1:
                target[part] = copy.deepcopy(source)
            else:
                if not isinstance(source, dict):
                    target[part] = copy.deepcopy(source)
                    break
                existing = target.get(part)
                if not isinstance(existing, dict):
                    existing = {}
                    target[part] = existing
                target = existing
    return result


def tag_list(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def is_hidden(doc: Doc) -> bool:
    return HIDDEN_TAG in tag_list(doc.get("system_tags"))


def with_tag(tags: list[str], tag: str, present: bool) -> list[str]:
    """`tags` with `tag` added (at the end) or removed, order otherwise kept."""
    without = [item for item in tags if item != tag]
    return [*without, tag] if present else without
