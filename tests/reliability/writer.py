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
            task_id = str(call("tasks.create", {"name": f"{prefix}-{counter}", "type": "training"})["id"])
            record({"kind": "task", "id": task_id, "name": f"{prefix}-{counter}"})
            for version in range(3):
                call("tasks.edit", {"task": task_id, "force": True, "comment": f"v{version}"})
                record({"kind": "edit", "id": task_id, "comment": f"v{version}"})
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
            content = hashlib.sha256(f"{prefix}{counter}".encode()).digest() * (size // 32 + 1)
            path = f"/{prefix}/file-{counter}.bin"
            encoder = MultipartEncoder(fields={path: (path, io.BytesIO(content[:size]), "application/octet-stream")})
            response = session.post(
                files_url + "/", data=encoder, headers={**headers, "Content-Type": encoder.content_type}, timeout=60
            )
            response.raise_for_status()
            record({"kind": "file", "path": path, "sha256": hashlib.sha256(content[:size]).hexdigest()})
    except (requests.ConnectionError, requests.HTTPError, requests.Timeout) as error:
        print(f"writer stopped after {counter} rounds: {error}", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
