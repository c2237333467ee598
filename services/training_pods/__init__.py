"""Training pods on Kubernetes: the clearml-agent k8s glue launcher and the recorder that keeps their logs.

The k8s glue deletes finished training pods, and `kubectl logs` of a failed one is lost with it. The recorder
(`record`) copies each finished pod's termination reason, events and last log lines into the pod's ClearML task
console first, then marks the pod as recorded. Modules: `report` (pure: pod JSON -> report lines), `kube` (the
Kubernetes API through the `kubernetes` client), `sink` (the ClearML side), `recorder` (the loop), `glue` (the
clearml-agent K8sIntegration launcher) and `command` (the `python -m services.training_pods` entry point).
"""
