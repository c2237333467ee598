"""A queue consumer for test_queue_concurrency.py: pops until the queue stays empty, prints every task it got."""

from __future__ import annotations

import json
import sys

import requests


def main(api_url: str, token: str, queue: str, wait_for_go: str = "") -> int:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    if wait_for_go:  # benchmarks start the clock only when every consumer is up
        print("READY", flush=True)
        sys.stdin.readline()
    popped, empty_polls = [], 0
    while empty_polls < 3:
        response = session.post(f"{api_url}/queues.get_next_task", json={"queue": queue}, headers=headers, timeout=30)
        response.raise_for_status()
        entry = response.json()["data"].get("entry")
        if entry:
            popped.append(entry["task"])
            empty_polls = 0
        else:
            empty_polls += 1
    print(json.dumps(popped))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
