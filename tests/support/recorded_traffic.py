"""Replay `clearml-recorded-requests.jsonl.gz` (real clearml / agent / serving traffic) against a live server.

The recording's object ids belong to the server that recorded it, so they are mapped to ours as the replay goes:
every id our server returns from a create (task, project, model) waits in a pool of its kind, and the first time
an unknown recorded id shows up in an id-carrying field it is paired with the oldest unpaired id of that kind.
Queue ids map to our default queue (the recorder's only queue). Ids that are merely mentioned inside other
strings (URIs, configuration text) are substituted once known but never create a mapping, so md5 hashes that
happen to be 32 hex characters are left alone.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "clearml-recorded-requests.jsonl.gz"
ID = re.compile(r"\b[0-9a-f]{32}\b")
FULL_ID = re.compile(r"^[0-9a-f]{32}$")

CREATES = {"tasks.create": "task", "tasks.clone": "task", "projects.create": "project", "models.create": "model"}
LOOKUPS = {
    "projects.get_all": ("projects", "project"),
    "tasks.get_all": ("tasks", "task"),
    "models.get_all": ("models", "model"),
}
KIND_BY_KEY = {
    "task": "task",
    "tasks": "task",
    "ids": "task",
    "parent": "task",
    "new_task_parent": "task",
    "project": "project",
    "model": "model",
    "queue": "queue",
    "queues": "queue",
}
KIND_BY_SERVICE = {"tasks": "task", "projects": "project", "models": "model", "queues": "queue"}

# Where the recording shows (or the protocol doc states) that the real server answers with an error.
EXPECTED_ERRORS = {
    "workers.get_runtime_properties",  # not supported: the agent falls back on the 400 (doc §3)
}


@dataclass(frozen=True)
class Record:
    index: int  # 1-based line number in the fixture
    segment: str  # the marker name
    segment_id: str  # marker name and line: segments with the same name are different runs
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    def expected_error(self) -> bool:
        if self.data.get("endpoint") in EXPECTED_ERRORS:
            return True
        return int(self.data.get("code", 200)) >= 400  # e.g. queues.get_by_id{queue: "default"}


def records() -> Iterator[Record]:
    segment, segment_id = "<start>", "<start>:0"
    with gzip.open(FIXTURE, "rt") as handle:
        for index, line in enumerate(handle, 1):
            data = json.loads(line)
            if data["kind"] == "marker":
                segment, segment_id = data["name"], f"{data['name']}:{index}"
                continue
            yield Record(index, segment, segment_id, data)


def body_of(record: Record) -> Any:
    """The request body. Six event batches were recorded as Python reprs cut off with `...<trunc>`; the complete
    events before the cut are recovered and replayed."""
    body = record.data.get("body")
    if isinstance(body, str) and record.data.get("endpoint") == "events.add_batch":
        return _complete_events(body)
    return body


def _complete_events(text: str) -> list[Any]:
    cuts = [match.start() for match in re.finditer(r"\}, \{'", text)]
    for cut in reversed(cuts):
        try:
            return list(ast.literal_eval(text[: cut + 1] + "]"))
        except (SyntaxError, ValueError):
            continue
    return []


@dataclass(frozen=True)
class ReplayPlan:
    """Where the recorder's in-memory server was restarted, and which requests only its bugs provoked."""

    restart_before: frozenset[int]  # record indexes: start a fresh server just before these
    parent_after_child: frozenset[int]  # projects.create of a parent the real server had already auto-created


def plan(all_records: list[Record]) -> ReplayPlan:
    """Find the recorder's restarts: a run creates a project that an earlier segment had created already.

    The restart happened before that run's client process started, i.e. before its `auth.login`. In the first
    aborted attempts the recorder did not yet create parent projects automatically, so the SDK created
    `labels/.datasets` right after `labels/.datasets/labeled`; a real server answers that create with an error.
    """
    restarts: set[int] = set()
    parent_after_child: set[int] = set()
    created: dict[str, str] = {}  # project name -> segment that created it
    last_login = 0
    for record in all_records:
        endpoint = record.data.get("endpoint")
        if endpoint == "auth.login":
            last_login = record.index
        if endpoint != "projects.create":
            continue
        name = str(record.data["body"]["name"])
        if name in created and created[name] != record.segment_id:
            restarts.add(last_login)
            created = {}
        elif name in created:
            parent_after_child.add(record.index)
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            created.setdefault("/".join(parts[:depth]), record.segment_id)
    return ReplayPlan(frozenset(restarts), frozenset(parent_after_child))


@dataclass
class IdMap:
    default_queue: str
    known: dict[str, str] = field(default_factory=dict)
    pools: dict[str, deque[str]] = field(
        default_factory=lambda: {"task": deque(), "project": deque(), "model": deque()}
    )

    looked_up: dict[str, str] = field(default_factory=dict)

    def created(self, kind: str, new_id: str) -> None:
        self.pools[kind].append(new_id)

    def found(self, kind: str, object_id: str) -> None:
        """A lookup returned exactly this one object: the next unknown id of its kind is probably it.

        That is how clients learn ids they did not create, e.g. a parent project the server made itself."""
        self.looked_up[kind] = object_id

    def _pair(self, recorded: str, kind: str | None) -> None:
        if recorded in self.known or kind is None:
            return
        if kind == "queue":
            self.known[recorded] = self.default_queue
        elif self.pools.get(kind):
            self.known[recorded] = self.pools[kind].popleft()
        elif kind in self.looked_up:
            self.known[recorded] = self.looked_up.pop(kind)

    def translate(self, value: Any, endpoint: str, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {self._substitute(k): self.translate(v, endpoint, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.translate(item, endpoint, key) for item in value]
        if isinstance(value, str):
            if FULL_ID.match(value) and key is not None:
                kind = KIND_BY_KEY.get(key) or (KIND_BY_SERVICE.get(endpoint.split(".")[0]) if key == "id" else None)
                self._pair(value, kind)
            return self._substitute(value)
        return value

    def _substitute(self, text: str) -> str:
        return ID.sub(lambda match: self.known.get(match.group(0), match.group(0)), text)
