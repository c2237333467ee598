"""The clearml-agent k8s glue, started with occuloop's pod template (clearml-agent ships the class, not a CLI).

`K8sIntegration` pulls the training queue and, per task, `kubectl apply`s a pod built from the template (image,
resources, nodeSelector, tolerations, security context, credentials via secretKeyRef) into one namespace.
"""

from __future__ import annotations

from pathlib import Path


def run_glue(*, queue: str, namespace: str, template: Path, max_pods: int) -> int:
    from clearml_agent.glue.k8s import K8sIntegration  # type: ignore[import-untyped]  # only in the glue container

    if not template.is_file():
        raise FileNotFoundError(f"pod template {template} not found (the chart mounts it from a ConfigMap)")
    glue = K8sIntegration(template_yaml=str(template), namespace=namespace, max_pods_limit=max_pods)
    glue.k8s_daemon(queue, create_queue=True)  # runs until the pod is stopped
    return 0
