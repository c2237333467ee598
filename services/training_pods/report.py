"""What is worth keeping of a finished training pod, as plain data and as console lines (no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The k8s glue names each task's pod "<prefix><task id>" (clearml-agent's default prefix).
POD_PREFIX = "clearml-id-"
RECORDED_ANNOTATION = "occuloop.io/logs-recorded"
FINISHED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class ContainerEnd:
    name: str
    reason: str  # Completed, Error, OOMKilled, ContainerCannotRun, ... or the waiting reason (ImagePullBackOff)
    exit_code: int | None
    message: str
    finished_at: str


@dataclass(frozen=True)
class PodReport:
    pod: str
    task_id: str
    phase: str
    pod_reason: str  # pod-level reason (Evicted, DeadlineExceeded) or ""
    pod_message: str
    node: str
    containers: tuple[ContainerEnd, ...]
    events: tuple[str, ...] = ()
    log_lines: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return self.phase == "Failed" or any(c.exit_code not in (0, None) for c in self.containers)

    def summary(self) -> str:
        ends = ", ".join(
            f"{c.name}: {c.reason or 'unknown'}" + (f" (exit {c.exit_code})" if c.exit_code is not None else "")
            for c in self.containers
        )
        reason = f" {self.pod_reason}" if self.pod_reason else ""
        return f"k8s pod {self.pod} {self.phase}{reason} on node {self.node or '?'}: {ends or 'no container status'}"

    def lines(self) -> list[str]:
        """The console text written into the ClearML task, one block per section."""
        out = [f"=== {self.summary()}"]
        if self.pod_message:
            out.append(f"pod message: {self.pod_message}")
        out.extend(f"container {c.name} message: {c.message}" for c in self.containers if c.message)
        out.append(f"=== k8s events of {self.pod} ({len(self.events)})")
        out.extend(self.events)
        out.append(f"=== last {len(self.log_lines)} log lines of {self.pod}")
        out.extend(self.log_lines)
        out.append(f"=== end of k8s record of {self.pod}")
        return out


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def task_id_of(pod_name: str, prefix: str = POD_PREFIX) -> str | None:
    if not pod_name.startswith(prefix):
        return None
    task_id = pod_name[len(prefix) :]
    return task_id or None


def needs_record(pod: Mapping[str, Any], prefix: str = POD_PREFIX) -> bool:
    """A finished glue pod that has not been recorded yet."""
    name = str(_get(pod, "metadata", "name") or "")
    annotations = _get(pod, "metadata", "annotations") or {}
    return (
        task_id_of(name, prefix) is not None
        and _get(pod, "status", "phase") in FINISHED_PHASES
        and RECORDED_ANNOTATION not in annotations
    )


def container_ends(pod: Mapping[str, Any]) -> tuple[ContainerEnd, ...]:
    ends = []
    statuses = list(_get(pod, "status", "initContainerStatuses") or []) + list(
        _get(pod, "status", "containerStatuses") or []
    )
    for status in statuses:
        state = status.get("state") or {}
        last = status.get("lastState") or {}
        terminated = state.get("terminated") or last.get("terminated")
        if terminated:
            ends.append(
                ContainerEnd(
                    name=str(status.get("name", "")),
                    reason=str(terminated.get("reason") or ""),
                    exit_code=terminated.get("exitCode"),
                    message=str(terminated.get("message") or "").strip(),
                    finished_at=str(terminated.get("finishedAt") or ""),
                )
            )
        elif state.get("waiting"):
            waiting = state["waiting"]
            ends.append(
                ContainerEnd(
                    name=str(status.get("name", "")),
                    reason=str(waiting.get("reason") or "waiting"),
                    exit_code=None,
                    message=str(waiting.get("message") or "").strip(),
                    finished_at="",
                )
            )
    return tuple(ends)


def event_lines(events: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """`kubectl get events` style lines, oldest first."""

    def when(event: Mapping[str, Any]) -> str:
        return str(
            event.get("lastTimestamp") or event.get("eventTime") or _get(event, "metadata", "creationTimestamp") or ""
        )

    lines = []
    for event in sorted(events, key=when):
        count = event.get("count") or 1
        times = f" (x{count})" if count > 1 else ""
        lines.append(
            f"{when(event)} {event.get('type', '')} {event.get('reason', '')}{times}: {str(event.get('message', '')).strip()}"
        )
    return tuple(lines)


def build_report(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    log_text: str,
    *,
    prefix: str = POD_PREFIX,
) -> PodReport:
    name = str(_get(pod, "metadata", "name") or "")
    return PodReport(
        pod=name,
        task_id=task_id_of(name, prefix) or "",
        phase=str(_get(pod, "status", "phase") or ""),
        pod_reason=str(_get(pod, "status", "reason") or ""),
        pod_message=str(_get(pod, "status", "message") or "").strip(),
        node=str(_get(pod, "spec", "nodeName") or ""),
        containers=container_ends(pod),
        events=event_lines(events),
        log_lines=tuple(log_text.splitlines()),
    )
