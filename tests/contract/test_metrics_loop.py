"""Every process's `/metrics` while the whole loop runs: `occuloop demo --sessions 2 --fast --keep-running` on free
ports (the default ones belong to test_demo.py), scraped after each session row and at the end, parsed with
prometheus_client's parser. Two accepted sessions and one quarantined delivery must move the counters by exactly
that: one more finalized version and one more fired run per accepted session, one quarantine with its reason, one
training duration per run, the gate's two receipts, one promotion, the served version's requests.

`check_loop_metrics` and `LoopScrapes` are written so that test_demo.py can call them on its own run instead."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.metrics import CHART, DASHBOARD, Scrape, dashboard_expressions, names_in, scrape

pytestmark = [pytest.mark.contract, pytest.mark.timeout(1800)]
OCCULOOP = str(Path(sys.executable).parent / "occuloop")
PROCESSES = ("server", "sync", "trigger", "rollout", "serving")
ACCEPTED = ("2015-02-04", "2015-02-05")  # --sessions 2: day 1, day 2 flipped (quarantined), day 2 corrected


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LoopScrapes:
    """The loop's processes by their base URLs, and what each said when."""

    urls: dict[str, str]  # process -> http://127.0.0.1:<port> (the server: its API port)
    rows: list[tuple[str, Scrape, Scrape]] = field(default_factory=list)  # (row, sync, trigger) after each row

    def after_row(self, row: str) -> None:
        self.rows.append((row, scrape(self.urls["sync"]), scrape(self.urls["trigger"])))

    def eventually(self, process: str, holds: Callable[[Scrape], bool], timeout: float = 90) -> Scrape:
        """The process's metrics once `holds` is true of them (the ledger-derived ones follow a poll behind)."""
        deadline = time.monotonic() + timeout
        while True:
            found = scrape(self.urls[process])
            if holds(found) or time.monotonic() > deadline:
                return found
            time.sleep(2)


def check_loop_metrics(scrapes: LoopScrapes, accepted: int, quarantined: dict[str, int]) -> dict[str, Scrape]:
    """What a finished run of the loop must show; returns the final scrapes by process."""
    done = 0
    for row, sync, trigger in scrapes.rows:  # one more version and one more run per accepted session, in order
        done += row.split()[1] != "(flipped)"
        assert sync.value("occuloop_sync_versions_finalized_total") == done, row
        assert sync.value("occuloop_sync_files_accepted_total") == done, row
        assert trigger.value("occuloop_trigger_runs_fired_total") == done, row
    sync = scrape(scrapes.urls["sync"])
    assert sync.value("occuloop_sync_files_accepted_total") == accepted
    assert sync.value("occuloop_sync_versions_finalized_total") == accepted
    assert sync.value("occuloop_sync_versions_finalized_total", reason="requested") == accepted  # the upload button
    for reason, count in quarantined.items():
        assert sync.value("occuloop_sync_files_quarantined_total", reason=reason) == count
    assert sync.value("occuloop_sync_backlog_files") == 0
    assert sync.value("occuloop_sync_last_finalize_timestamp_seconds") > time.time() - 3600
    assert sync.value("occuloop_sync_server_call_duration_seconds_count", operation="finalize") == accepted

    trigger = scrapes.eventually(
        "trigger", lambda f: f.value("occuloop_training_run_duration_seconds_count") == accepted
    )
    assert trigger.value("occuloop_trigger_runs_fired_total") == accepted
    assert trigger.value("occuloop_trigger_versions") == accepted
    assert trigger.value("occuloop_trigger_versions_pending") == 0
    assert trigger.value("occuloop_trigger_lag_seconds_count") == accepted
    assert trigger.value("occuloop_trigger_notifications_total") >= accepted  # the sync's push per version
    assert trigger.value("occuloop_training_runs", status="completed") == accepted
    assert trigger.value("occuloop_training_run_duration_seconds_count", status="completed") == accepted
    assert trigger.value("occuloop_training_run_duration_seconds_sum") > 0

    rollout = scrapes.eventually(
        "rollout", lambda f: f.value("occuloop_gate_receipts") == accepted, timeout=60
    )  # counted every 30 s
    assert rollout.value("occuloop_gate_receipts", decision="gate_failed", rule="training_data") == 1
    assert rollout.value("occuloop_gate_receipts", decision="gate_passed") == accepted - 1
    assert rollout.value("occuloop_rollout_decisions_total", decision="promoted") == accepted - 1
    assert rollout.value("occuloop_rollout_decisions_total", decision="rolled_back") == 0
    assert (
        rollout.value("occuloop_rollout_canary_step") == 0
        and rollout.value("occuloop_rollout_canary_weight_ratio") == 0
    )

    serving = scrapes.eventually("serving", lambda f: f.value("occuloop_serving_requests_total") > 0)
    versions = serving.labels("occuloop_serving_requests_total", "version")
    assert versions and versions <= {str(n) for n in range(1, accepted + 1)}, versions
    assert serving.value("occuloop_serving_failed_total") == 0
    assert sum(serving.value("occuloop_serving_canary_weight_ratio", version=v) for v in versions) == pytest.approx(1)

    server = scrape(scrapes.urls["server"])
    # each run and each gate task went through the training queue, and nothing waits there any more
    assert server.value("occuloop_server_requests_total", endpoint="tasks.enqueue", status="200") >= 2 * accepted
    assert server.value("occuloop_server_queue_entries", queue="training") == 0
    assert server.value("occuloop_server_request_duration_seconds_count", endpoint="queues.get_next_task") > 0

    final = {"sync": sync, "trigger": trigger, "rollout": rollout, "serving": serving, "server": server}
    exposed = set().union(*(found.names for found in final.values()))
    rules = (CHART / "templates" / "prometheusrule.yaml").read_text()
    used = names_in(dashboard_expressions(json.loads(DASHBOARD.read_text()))) | names_in([rules])
    assert not used - exposed, f"used by the dashboard or the alerts, exposed by no process: {sorted(used - exposed)}"
    return final


def test_every_process_exposes_metrics_that_move_with_the_loop(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("api", "files", "sync", "trigger", "rollout", "serving")}
    argv = [OCCULOOP, "demo", "--sessions", "2", "--fast", "--keep-running", "--data-dir", str(tmp_path / "demo")]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLEARML_")}
    env["OCCULOOP_CANARY_MAX_RATE_SHIFT"] = "0.6"  # as test_demo.py: the chain is under test, not that rule
    env["PYTHONUNBUFFERED"] = "1"  # the demo's lines as it prints them, through the pipe
    urls = {process: f"http://127.0.0.1:{ports['api' if process == 'server' else process]}" for process in PROCESSES}
    scrapes = LoopScrapes(urls)
    demo = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("2015-"):
                scrapes.after_row(line)
            if line.startswith("Everything keeps running"):
                break
        else:
            pytest.fail("the demo ended early:\n" + "".join(lines) + _logs(tmp_path / "demo"))
        assert [row.split()[0] for row, *_ in scrapes.rows] == ["2015-02-04", "2015-02-05", "2015-02-05"]
        final = check_loop_metrics(scrapes, accepted=len(ACCEPTED), quarantined={"label_disagreement": 1})
        assert all(final[p].value("process_start_time_seconds") > 0 for p in PROCESSES)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(timeout=180)
        if demo.stdout is not None:
            demo.stdout.close()


def _logs(data_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((data_dir / "logs").glob("*.log")))
