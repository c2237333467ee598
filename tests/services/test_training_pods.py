"""The training-pod recorder: the real `kubernetes` client against a fake API server that answers with
recorded-shape objects (no cluster runs here), and the ClearML sink against a real `occuloop server`."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client

from services.training_pods.kube import KubeApi
from services.training_pods.recorder import heartbeat_fresh, record_once
from services.training_pods.report import RECORDED_ANNOTATION, build_report

NS = "occ"
FAILED_TASK = "0123456789abcdef0123456789abcdef"
DONE_TASK = "fedcba9876543210fedcba9876543210"
LOG_LINES = [f"epoch {i} loss {1 / (i + 1):.4f}" for i in range(500)]


def pod(
    name: str,
    phase: str,
    *,
    terminated: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pod as the API returns it for a glue-started task (trimmed to the fields a real reply always has)."""
    status: dict[str, Any] = {"phase": phase, "startTime": "2026-11-24T08:00:00Z"}
    if terminated is not None:
        status["containerStatuses"] = [
            {
                "name": name,
                "ready": False,
                "restartCount": 0,
                "image": "occuloop-training:0.1.0",
                "imageID": "",
                "state": {"terminated": terminated},
            }
        ]
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": labels if labels is not None else {"CLEARML": "agent", "clearml-agent-queue": "training"},
            "annotations": annotations or {},
            "creationTimestamp": "2026-11-24T07:59:58Z",
        },
        "spec": {"nodeName": "node-a", "restartPolicy": "Never", "containers": [{"name": name, "image": "x"}]},
        "status": status,
    }


OOM = {
    "exitCode": 137,
    "reason": "OOMKilled",
    "startedAt": "2026-11-24T08:00:01Z",
    "finishedAt": "2026-11-24T08:04:00Z",
    "message": "memory limit 4Gi exceeded",
}
COMPLETED = {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-11-24T08:03:00Z"}

EVENTS = {
    f"clearml-id-{FAILED_TASK}": [
        {
            "type": "Normal",
            "reason": "Scheduled",
            "message": "Successfully assigned occ/pod to node-a",
            "lastTimestamp": "2026-11-24T07:59:58Z",
            "count": 1,
            "involvedObject": {"kind": "Pod"},
        },
        {
            "type": "Warning",
            "reason": "BackOff",
            "message": "Back-off pulling image",
            "lastTimestamp": "2026-11-24T08:00:00Z",
            "count": 3,
            "involvedObject": {"kind": "Pod"},
        },
        {
            "type": "Normal",
            "reason": "Pulled",
            "message": "Container image pulled",
            "lastTimestamp": "2026-11-24T07:59:59Z",
            "count": 1,
            "involvedObject": {"kind": "Pod"},
        },
    ]
}


class FakeKubeApi:
    """A tiny Kubernetes API: GET pods (labelSelector key-exists), GET events (fieldSelector on the pod name),
    GET pods/<name>/log (tailLines, container), PATCH pods/<name> (merges annotations). Requests are logged."""

    def __init__(self, pods: list[dict[str, Any]], *, logs_gone: bool = False) -> None:
        self.pods = {p["metadata"]["name"]: p for p in pods}
        self.requests: list[tuple[str, str]] = []
        self.logs_gone = logs_gone
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, body: Any, content_type: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(("GET", self.path))
                parts = url.path.strip("/").split("/")
                if parts[:4] != ["api", "v1", "namespaces", NS]:
                    return self.reply(404, {"kind": "Status", "code": 404})
                if parts[4:] == ["pods"]:
                    key = query.get("labelSelector", "")
                    items = [p for p in fake.pods.values() if not key or key in p["metadata"]["labels"]]
                    return self.reply(200, {"kind": "PodList", "apiVersion": "v1", "items": items})
                if parts[4:] == ["events"]:
                    selector = dict(kv.split("=", 1) for kv in query["fieldSelector"].split(","))
                    assert selector["involvedObject.kind"] == "Pod"
                    items = EVENTS.get(selector["involvedObject.name"], [])
                    return self.reply(200, {"kind": "EventList", "apiVersion": "v1", "items": items})
                if len(parts) == 7 and parts[4] == "pods" and parts[6] == "log":
                    if fake.logs_gone or parts[5] not in fake.pods:
                        return self.reply(404, {"kind": "Status", "code": 404, "message": "pods not found"})
                    assert query["container"] == parts[5]
                    tail = int(query["tailLines"])
                    return self.reply(200, "\n".join(LOG_LINES[-tail:]) + "\n", "text/plain")
                return self.reply(404, {"kind": "Status", "code": 404})

            def do_PATCH(self) -> None:
                fake.requests.append(("PATCH", self.path))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                name = urlparse(self.path).path.rstrip("/").split("/")[-1]
                target = fake.pods[name]
                target["metadata"]["annotations"].update(body["metadata"]["annotations"])
                self.reply(200, target)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> KubeApi:
        self.thread.start()
        config = client.Configuration()
        config.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        return KubeApi(client.CoreV1Api(client.ApiClient(config)), NS)

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class ListSink:
    def __init__(self) -> None:
        self.records: dict[str, tuple[list[str], bool]] = {}

    def write(self, task_id: str, lines: Any, *, warning: bool) -> None:
        self.records[task_id] = (list(lines), warning)


def cluster_pods() -> list[dict[str, Any]]:
    return [
        pod(f"clearml-id-{FAILED_TASK}", "Failed", terminated=OOM),
        pod(f"clearml-id-{DONE_TASK}", "Succeeded", terminated=COMPLETED),
        pod("clearml-id-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Running"),
        pod(
            "clearml-id-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "Failed",
            terminated=OOM,
            annotations={RECORDED_ANNOTATION: "true"},
        ),
        pod("occuloop-serving-5d9f", "Failed", terminated=OOM, labels={"app": "x"}),
    ]


def test_finished_glue_pods_are_recorded_once_with_reason_events_and_log_tail() -> None:
    fake = FakeKubeApi(cluster_pods())
    sink = ListSink()
    with fake as api:
        reports = record_once(api, sink, tail_lines=200)
        assert record_once(api, sink, tail_lines=200) == []  # annotated: never recorded twice

    assert sorted(r.task_id for r in reports) == sorted([FAILED_TASK, DONE_TASK])
    lines, warning = sink.records[FAILED_TASK]
    assert warning is True
    assert lines[0].startswith(f"=== k8s pod clearml-id-{FAILED_TASK} Failed on node node-a")
    assert "OOMKilled (exit 137)" in lines[0]
    assert f"container clearml-id-{FAILED_TASK} message: memory limit 4Gi exceeded" in lines
    events = lines[lines.index(f"=== k8s events of clearml-id-{FAILED_TASK} (3)") + 1 :][:3]
    assert [e.split()[2].rstrip(":") for e in events] == ["Scheduled", "Pulled", "BackOff"]  # oldest first
    assert events[2].endswith("BackOff (x3): Back-off pulling image")
    tail_at = lines.index(f"=== last 200 log lines of clearml-id-{FAILED_TASK}")
    assert lines[tail_at + 1 : tail_at + 201] == LOG_LINES[-200:]
    assert lines[-1] == f"=== end of k8s record of clearml-id-{FAILED_TASK}"
    assert sink.records[DONE_TASK][1] is False
    # Annotated after the record was written, and only the two finished glue pods.
    patched = sorted(path.split("?")[0].rsplit("/", 1)[-1] for method, path in fake.requests if method == "PATCH")
    assert patched == sorted([f"clearml-id-{FAILED_TASK}", f"clearml-id-{DONE_TASK}"])
    assert all(
        p["metadata"]["annotations"].get(RECORDED_ANNOTATION) == "true"
        for p in (fake.pods[f"clearml-id-{FAILED_TASK}"], fake.pods[f"clearml-id-{DONE_TASK}"])
    )
    assert RECORDED_ANNOTATION not in fake.pods["occuloop-serving-5d9f"]["metadata"]["annotations"]
    # The pod list is asked for with the glue's label, so other pods never leave the API server.
    assert any("labelSelector=CLEARML" in path for method, path in fake.requests if method == "GET")


def test_a_pod_whose_log_is_gone_is_still_recorded() -> None:
    fake = FakeKubeApi([pod(f"clearml-id-{FAILED_TASK}", "Failed", terminated=OOM)], logs_gone=True)
    sink = ListSink()
    with fake as api:
        (report,) = record_once(api, sink, tail_lines=50)
    assert "OOMKilled" in report.summary()
    assert any("unavailable" in line for line in sink.records[FAILED_TASK][0])


class FailingSink:
    def write(self, task_id: str, lines: Any, *, warning: bool) -> None:
        raise ConnectionError("ClearML server unreachable")


def test_a_pod_is_not_marked_recorded_when_the_task_write_fails() -> None:
    fake = FakeKubeApi([pod(f"clearml-id-{FAILED_TASK}", "Failed", terminated=OOM)])
    with fake as api:
        assert record_once(api, FailingSink(), tail_lines=10) == []
        assert RECORDED_ANNOTATION not in fake.pods[f"clearml-id-{FAILED_TASK}"]["metadata"]["annotations"]
        sink = ListSink()
        assert len(record_once(api, sink, tail_lines=10)) == 1  # retried on the next round
    assert FAILED_TASK in sink.records


def test_evicted_pod_and_waiting_container() -> None:
    evicted = pod(f"clearml-id-{FAILED_TASK}", "Failed")
    evicted["status"].update(reason="Evicted", message="The node was low on resource: memory.")
    evicted["status"]["containerStatuses"] = [
        {"name": "task", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}
    ]
    report = build_report(evicted, [], "")
    assert report.summary().startswith(f"k8s pod clearml-id-{FAILED_TASK} Failed Evicted")
    assert "task: ImagePullBackOff" in report.summary() and report.failed
    assert "pod message: The node was low on resource: memory." in report.lines()


def test_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert not heartbeat_fresh(beat, 60)
    beat.touch()
    assert heartbeat_fresh(beat, 60)
    os.utime(beat, (time.time() - 120, time.time() - 120))
    assert not heartbeat_fresh(beat, 60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from services.child_processes import inherited_environment, start_embedded_server

    running = start_embedded_server(tmp_path_factory.mktemp("server"), env=inherited_environment(os.environ))
    yield running
    running.child.stop()


@pytest.mark.contract
# clearml's own config loader calls a deprecated pyparsing API when the SDK session starts in-process.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_records_land_in_the_task_console_on_a_real_server(server: Any) -> None:
    from services.training_pods.sink import ClearMLConsoleSink
    from tests.support.clients import RawApi

    raw = RawApi(server)
    task_id = raw.ok("tasks.create", {"name": "train", "type": "training", "project": None})["id"]
    env = server.client_env
    sink = ClearMLConsoleSink(
        host=env["CLEARML_API_HOST"], access_key=env["CLEARML_API_ACCESS_KEY"], secret_key=env["CLEARML_API_SECRET_KEY"]
    )
    fake = FakeKubeApi([pod(f"clearml-id-{task_id}", "Failed", terminated=OOM)])
    with fake as api:
        (report,) = record_once(api, sink, tail_lines=700)  # more than BATCH: two add_batch calls
    log = raw.ok("events.get_task_log", {"task": task_id, "batch_size": 1000, "navigate_earlier": False})["events"]
    messages = [e["msg"] for e in log]
    assert messages == report.lines()
    assert {e["level"] for e in log} == {"warning"}
    assert not sink.worker_registered("no-such-worker")
