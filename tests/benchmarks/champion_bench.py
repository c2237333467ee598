"""The champion of a real loop on the days that follow (issue 21's headline): `occuloop demo --sessions 3 --fast`
plays Feb 4-6, then test 2 (Feb 11-18, never seen by the loop) and test 1 are asked through the public endpoint
in batches of 1,000 and scored next to the Light rule. Before issue 21 that champion answered test 2 at 98.00 %
against the rule's 99.31 %.

The forward section measures the training recipe in-process on every N and seed; this one checks that what the
loop actually promotes and serves behaves the same.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from tests.support.demo_loop import DemoLoop
from training.baselines import light_rule
from training.readings import uci
from training.schema import FEATURES, LABEL

SESSIONS = 3
BATCH = 1000  # the endpoint's largest batch


def _served(url: str, name: str) -> dict[str, Any]:
    rows = uci(name)
    answers: list[dict[str, Any]] = []
    for start in range(0, len(rows), BATCH):
        values = rows.iloc[start : start + BATCH][list(FEATURES)].to_numpy()
        body = {"readings": [dict(zip(FEATURES, map(float, row), strict=True)) for row in values]}
        reply = requests.post(url, json=body, timeout=120)
        reply.raise_for_status()
        answers += reply.json()
    occupied = np.array([answer["occupied"] for answer in answers])
    labels = rows[LABEL].to_numpy() == 1
    rule = np.asarray(light_rule(rows)) > 0.5
    return {
        "set": name,
        "rows": len(rows),
        "champion": float(np.mean(occupied == labels)),
        "light_rule": float(np.mean(rule == labels)),
        "agree_with_rule": float(np.mean(occupied == rule)),
        "models": sorted({str(answer["model_id"]) for answer in answers}),
        "dataset_versions": sorted({str(answer.get("dataset_version")) for answer in answers}),
    }


def run_all() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="occuloop-bench-champion-") as folder:
        loop = DemoLoop(Path(folder) / "data", sessions=SESSIONS)
        try:
            started = time.monotonic()
            loop.wait_until_played()
            played = time.monotonic() - started
            url = f"http://127.0.0.1:{loop.ports['serving']}/serve/occupancy"
            scores = [_served(url, name) for name in ("test2", "test1")]
        finally:
            code = loop.stop()
    assert code in (0, 130), f"the demo ended with {code}:\n{loop.output[-3000:]}"
    return {"sessions": SESSIONS, "played_seconds": round(played, 1), "scores": scores}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"The champion of `occuloop demo --sessions {results['sessions']} --fast` (played in "
        f"{results['played_seconds']:.0f} s), asked through the endpoint; accuracy %:",
        "",
        "| set | rows | champion | Light > 364.5 | answers equal to the rule's | champion model (dataset version) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for score in results["scores"]:
        lines.append(
            f"| {score['set']} | {score['rows']:,} | {100 * score['champion']:.2f} | {100 * score['light_rule']:.2f} "
            f"| {100 * score['agree_with_rule']:.2f} % | {', '.join(m[:12] for m in score['models'])} "
            f"({', '.join(score['dataset_versions'])}) |"
        )
    return "\n".join(lines)
