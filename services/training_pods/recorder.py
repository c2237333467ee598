"""The recorder loop: every finished, unrecorded glue pod -> a record in its ClearML task -> pod annotated.

Order matters: the pod is annotated only after the task has the record, so a crash between the two writes the
record twice rather than never. The glue keeps finished pods for `keepFinishedPodsMinutes` (its own
K8S_GLUE_COMPLETED_POD_DELETION_DELAY_MINUTES), which gives this loop its window.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

from ..polling import Loop, Status, Stop
from .report import POD_PREFIX, PodReport, build_report, needs_record
from .sink import Sink

logger = logging.getLogger(__name__)

# Pods the glue starts carry the label key "CLEARML" (value "agent" or "agent-<hash>").
GLUE_SELECTOR = "CLEARML"


class PodSource(Protocol):
    def list_pods(self, label_selector: str) -> list[dict[str, Any]]: ...
    def list_events(self, pod_name: str) -> list[dict[str, Any]]: ...
    def read_log(self, pod_name: str, container: str, tail_lines: int) -> str: ...
    def mark_recorded(self, pod_name: str) -> None: ...


def _log_tail(api: PodSource, pod: dict[str, Any], tail_lines: int) -> str:
    """The last lines of every container; a container whose log is gone is noted, not fatal."""
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    parts = []
    for name in containers:
        try:
            text = api.read_log(pod["metadata"]["name"], name, tail_lines)
        except Exception as error:  # the events and the reason are still worth recording
            text = f"(log of container {name} unavailable: {error})"
        parts.append(text if len(containers) == 1 else "\n".join(f"[{name}] {line}" for line in text.splitlines()))
    return "\n".join(parts)


def record_once(api: PodSource, sink: Sink, *, tail_lines: int, prefix: str = POD_PREFIX) -> list[PodReport]:
    recorded = []
    for pod in api.list_pods(GLUE_SELECTOR):
        if not needs_record(pod, prefix):
            continue
        name = pod["metadata"]["name"]
        try:
            events = api.list_events(name)
            report = build_report(pod, events, _log_tail(api, pod, tail_lines), prefix=prefix)
            sink.write(report.task_id, report.lines(), warning=report.failed)
            api.mark_recorded(name)
        except Exception:  # one bad pod must not stop the others; it is retried next round
            logger.exception("could not record training pod %s", name)
            continue
        logger.info("recorded %s", report.summary())
        recorded.append(report)
    return recorded


def run(
    api: PodSource,
    sink: Sink,
    *,
    tail_lines: int,
    poll_seconds: float,
    heartbeat: Path | None = None,
    stop: Stop,
) -> None:
    """Record every `poll_seconds` until `stop` is set; a failed round is retried after a backoff."""

    def one_round() -> None:
        record_once(api, sink, tail_lines=tail_lines)
        if heartbeat is not None:
            heartbeat.touch()  # the liveness probe checks its age: a stuck API call stops the touches

    Loop("recorder", one_round, interval=poll_seconds, most_backoff=poll_seconds, status=Status(), log=logger).run(stop)


def heartbeat_fresh(path: Path, max_age: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime <= max_age
    except FileNotFoundError:
        return False
