"""Four consumers popping one queue at once: each of 500 tasks is delivered exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from services.child_processes import inherited_environment, start_embedded_server
from tests.support.clients import RawApi

CONSUMER = Path(__file__).resolve().parent / "consumer.py"
TASKS = 500
CONSUMERS = 4


def test_concurrent_consumers_get_each_task_exactly_once(tmp_path: Path) -> None:
    env = inherited_environment(os.environ)
    server = start_embedded_server(tmp_path / "server", env=env)
    try:
        api = RawApi(server)
        queue = api.ok("queues.create", {"name": "contended"})["id"]
        task_ids = []
        for n in range(TASKS):
            task_id = api.ok("tasks.create", {"name": f"t{n}", "type": "training"})["id"]
            api.ok("tasks.enqueue", {"task": task_id, "queue": queue})
            task_ids.append(task_id)
        token = api.login()
        consumers = [
            subprocess.Popen(
                [sys.executable, str(CONSUMER), server.api_url, token, queue], stdout=subprocess.PIPE, env=env
            )
            for _ in range(CONSUMERS)
        ]
        results = [json.loads(process.communicate(timeout=300)[0]) for process in consumers]
        delivered = Counter(task for popped in results for task in popped)
        assert sorted(delivered) == sorted(task_ids)
        assert set(delivered.values()) == {1}
        assert all(popped for popped in results), "every consumer should have won some pops"
        for popped in results:  # each consumer sees the queue's order
            assert popped == sorted(popped, key=task_ids.index)
    finally:
        server.child.stop()
