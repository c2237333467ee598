"""Drive the serving control plane through serving.endpoints, as the rollout controller will.

argv: service name, project, action [args]. Actions: routing | register MODEL_ID | canary V=W ... | metrics | log.
Prints `RESULT {json}`.
"""

import dataclasses
import json
import sys

from serving.endpoints import ensure_control_plane

name, project, action, *rest = sys.argv[1:]
plane = ensure_control_plane(name, project)
if action == "register":
    result = {"version": plane.register_version(rest[0])}
elif action == "canary":
    weights = {int(key): float(value) for key, value in (item.split("=") for item in rest)}
    result = dataclasses.asdict(plane.set_canary(weights))
elif action == "routing":
    result = dataclasses.asdict(plane.current_routing())
elif action == "metrics":
    result = {
        str(version): {**dataclasses.asdict(metrics), "occupied_rate": metrics.occupied_rate}
        for version, metrics in plane.read_metrics().items()
    }
elif action == "log":
    result = {"records": plane.read_prediction_log()}
else:
    raise SystemExit(f"unknown action {action}")
print("RESULT " + json.dumps(result, default=str))
