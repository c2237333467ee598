"""A client that writes as fast as it can and journals every write the server acknowledged (HTTP 200).

Run as a subprocess by test_crash_durability.py, which kills the server under it. Each journal line is flushed
and fsynced before the next write starts, so the journal is the ground truth of what was acknowledged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys

import requests
from clearml.utilities.requests_toolbelt import MultipartEncoder


def main(api_url: str, files_url: str, token: str, journal_path: str, prefix: str) -> int:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    journal = open(journal_path, "a")  # noqa: SIM115 - kept open for the whole run

    def record(entry: dict[str, object]) -> None:
        journal.write(json.dumps(entry) + "\n")
        journal.flush()
        os.fsync(journal.fileno())

    def call(endpoint: str, body: dict[str, object]) -> dict[str, object]:
        response = session.post(f"{api_url}/{endpoint}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return dict(response.json()["data"])

    counter = 0
    try:
        while True:
            counter += 1
            name = f"{prefix}-{counter}"
            project = str(call("projects.create", {"name": f"{prefix}/p{counter}"})["id"])
            record({"kind": "project", "id": project, "name": f"{prefix}/p{counter}"})
            task_id = str(call("tasks.create", {"name": name, "type": "training", "project": project})["id"])
            record({"kind": "task", "id": task_id, "name": name})
            for version in range(3):
                call("tasks.edit", {"task": task_id, "force": True, "comment": f"v{version}"})
                record({"kind": "edit", "id": task_id, "comment": f"v{version}"})
            call(
                "tasks.edit_hyper_params",
                {"task": task_id, "hyperparams": [{"section": "General", "name": "lr", "value": str(counter)}]},
            )
            record({"kind": "hyperparam", "id": task_id, "value": str(counter)})
            call(
                "tasks.edit_configuration",
                {"task": task_id, "configuration": [{"name": "cfg", "value": json.dumps({"n": counter})}]},
            )
            record({"kind": "configuration", "id": task_id, "value": json.dumps({"n": counter})})
            events = [
                {
                    "type": "training_stats_scalar",
                    "task": task_id,
                    "metric": "m",
                    "variant": "v",
                    "value": float(n),
                    "iter": n,
                }
                for n in range(5)
            ]
            call("events.add_batch", {"requests": events})
            record({"kind": "scalars", "id": task_id, "last_iteration": 4})
            size = (counter % 7) * 300_000 + 10
            content = hashlib.sha256(name.encode()).digest() * (size // 32 + 1)
            path = f"/{prefix}/file-{counter}.bin"
            encoder = MultipartEncoder(fields={path: (path, io.BytesIO(content[:size]), "application/octet-stream")})
            response = session.post(
                files_url + "/", data=encoder, headers={**headers, "Content-Type": encoder.content_type}, timeout=60
            )
            response.raise_for_status()
            record({"kind": "file", "path": path, "sha256": hashlib.sha256(content[:size]).hexdigest()})
            artifact = {
                "key": "payload",
                "type": "custom",
                "uri": files_url + path,
                "hash": hashlib.sha256(content[:size]).hexdigest(),
            }
            call("tasks.add_or_update_artifacts", {"task": task_id, "artifacts": [artifact]})
            record({"kind": "artifact", "id": task_id, "uri": artifact["uri"]})
            model = str(
                call("models.create", {"name": name, "uri": files_url + path, "task": task_id, "project": project})[
                    "id"
                ]
            )
            call("models.edit", {"model": model, "tags": ["candidate"]})
            record({"kind": "model", "id": model, "tags": ["candidate"]})
            queue = str(call("queues.create", {"name": f"{prefix}-q{counter}"})["id"])
            call("tasks.enqueue", {"task": task_id, "queue": queue})
            record({"kind": "queued", "id": task_id, "queue": queue})
    # any failed request ends the run, including a reply cut off mid-body (ChunkedEncodingError: the kill landed
    # while the server was writing it), which is not a ConnectionError: none of them was acknowledged
    except requests.RequestException as error:
        print(f"writer stopped after {counter} rounds: {error}", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
