"""The Kubernetes side of the recorder: pods, events and logs through the official `kubernetes` client.

Responses are read as raw JSON (`_preload_content=False`), so `report` sees exactly the API's camelCase
objects, whether they come from a cluster, a recorded response or a test server.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, config

from .report import RECORDED_ANNOTATION


def connect(kubeconfig: str | None = None) -> client.CoreV1Api:
    """In a pod: the service account; elsewhere: a kubeconfig file (or the default one)."""
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    else:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.CoreV1Api()


class KubeApi:
    """The five calls the recorder makes; each maps to one rule of the glue's namespaced Role."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core = core
        self.namespace = namespace

    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def list_pods(self, label_selector: str) -> list[dict[str, Any]]:
        reply = self.core.list_namespaced_pod(self.namespace, label_selector=label_selector, _preload_content=False)
        return list(self._json(reply).get("items") or [])

    def list_events(self, pod_name: str) -> list[dict[str, Any]]:
        reply = self.core.list_namespaced_event(
            self.namespace,
            field_selector=f"involvedObject.kind=Pod,involvedObject.name={pod_name}",
            _preload_content=False,
        )
        return list(self._json(reply).get("items") or [])

    def read_log(self, pod_name: str, container: str, tail_lines: int) -> str:
        reply: Any = self.core.read_namespaced_pod_log(
            pod_name, self.namespace, container=container, tail_lines=tail_lines, _preload_content=False
        )
        return bytes(reply.data).decode("utf-8", errors="replace")

    def mark_recorded(self, pod_name: str) -> None:
        body = {"metadata": {"annotations": {RECORDED_ANNOTATION: "true"}}}
        self.core.patch_namespaced_pod(pod_name, self.namespace, body)
