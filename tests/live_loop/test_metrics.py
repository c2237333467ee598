"""Every process's `/metrics` while the whole loop runs: the live loop of this folder (`occuloop demo --sessions 3
--fast --keep-running` on free ports; the default ones belong to test_demo.py), scraped as each session row is
printed and at the end, parsed with prometheus_client's parser. Three accepted sessions and one quarantined
delivery must move the counters by exactly that: one more finalized version and one more fired run per accepted
session, one quarantine with its reason, one training duration per run, the gate's receipts, the promotions, the
served version's requests; and every name the dashboard and the alert rules use is exposed by a process."""

from __future__ import annotations

import pytest

from tests.support.demo_loop import DemoLoop
from tests.support.metrics import PROCESSES, check_loop_metrics

pytestmark = pytest.mark.timeout(1800)
ACCEPTED = ("2015-02-04", "2015-02-05", "2015-02-06")  # --sessions 3: day 2 delivered flipped first (quarantined)


def test_every_process_exposes_metrics_that_move_with_the_loop(played: DemoLoop) -> None:
    scrapes = played.scrapes
    assert [row.split()[0] for row, *_ in scrapes.rows] == ["2015-02-04", "2015-02-05", "2015-02-05", "2015-02-06"]
    final = check_loop_metrics(scrapes, accepted=len(ACCEPTED), quarantined={"label_disagreement": 1})
    assert all(final[p].value("process_start_time_seconds") > 0 for p in PROCESSES)
