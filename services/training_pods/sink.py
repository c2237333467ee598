"""The ClearML side of the recorder: lines appended to a task's console log (`events.add_batch`).

The only module of `training_pods` that imports `clearml` (the glue imports `clearml_agent`; the import contract
in pyproject.toml names every module allowed to). It uses the SDK's API session (credentials from the standard CLEARML_* variables, or given explicitly in tests) rather than
`Task.get_task`, which would start a reporter for a task that has already ended.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

WORKER = "occuloop-training-pods-recorder"
BATCH = 500


class Sink(Protocol):
    def write(self, task_id: str, lines: Sequence[str], *, warning: bool) -> None: ...


class ClearMLConsoleSink:
    def __init__(self, *, host: str | None = None, access_key: str | None = None, secret_key: str | None = None):
        from clearml.backend_api.session import Session

        self._session = Session(host=host, api_key=access_key, secret_key=secret_key)

    def write(self, task_id: str, lines: Sequence[str], *, warning: bool) -> None:
        from clearml.backend_api.services import events

        now = time.time()
        level = "warning" if warning else "info"
        for start in range(0, len(lines), BATCH):
            chunk = lines[start : start + BATCH]
            requests = [
                # Increasing timestamps keep the console in order (the server sorts by timestamp).
                events.TaskLogEvent(task=task_id, timestamp=(now * 1000) + start + i, level=level, worker=WORKER, msg=m)
                for i, m in enumerate(chunk)
            ]
            result = self._session.send(events.AddBatchRequest(requests=requests))
            if result is None or not result.ok():
                raise RuntimeError(f"events.add_batch for task {task_id} failed: {getattr(result, 'response', None)}")

    def worker_registered(self, worker_id: str) -> bool:
        from clearml.backend_api.services import workers

        result = self._session.send(workers.GetAllRequest())
        if result is None or not result.ok():
            return False
        registered = getattr(result.response, "workers", None) or []
        return any(getattr(w, "id", None) == worker_id for w in registered)
