"""The users of the public endpoint, for tests and benchmarks: a request loop that records every answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

JSON = {"Content-Type": "application/json"}


@dataclass
class Traffic:
    """Posts the readings in turn, one at a time, `pause` seconds apart, until `stop`; records (clock(), status,
    model id) per answer. `clock`: time.monotonic to compare with the caller's own timings, time.time to compare
    with log timestamps."""

    url: str
    readings: list[dict[str, Any]]
    pause: float = 0.01
    clock: Callable[[], float] = time.monotonic
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        session = requests.Session()
        index = 0
        while not self.stop.is_set():
            body = json.dumps(self.readings[index % len(self.readings)])
            index += 1
            try:
                response = session.post(self.url, data=body, headers=JSON, timeout=30)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            model = response.headers.get("X-Occuloop-Model-Id", "") if response.status_code == 200 else ""
            self.answers.append((self.clock(), response.status_code, model))
            time.sleep(self.pause)

    def since(self, start: float) -> list[tuple[float, int, str]]:
        return [answer for answer in list(self.answers) if answer[0] >= start]
