"""The README stays true: its quick start is the two commands, and it lists every endpoint the server has."""

from __future__ import annotations

import re
from pathlib import Path

from services.clearml_server.endpoints import ENDPOINTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_every_endpoint_is_listed() -> None:
    section = README.split("### Endpoints implemented", 1)[1]
    listed = set()
    for row in re.findall(r"^\| ([a-z, ]+?)(?: \(\d+\))? \| (.+) \|$", section, re.MULTILINE):
        service = row[0].split(",")[0].strip()
        for name in re.findall(r"`([a-z_.]+)`", row[1]):
            listed.add(name if "." in name else f"{service}.{name}")
    missing = sorted(set(ENDPOINTS) - listed)
    assert not missing, f"README does not list {missing}"
    assert {"auth.login", "debug.ping"} <= listed
    count = int(re.search(r"### Endpoints implemented \((\d+)\)", README).group(1))
    assert count == len(ENDPOINTS) + 2  # plus auth.login and debug.ping, answered before the endpoint table


def test_every_metric_is_in_the_metrics_table() -> None:
    from tests.support.metrics import defined

    section = README.split("## Metrics and alerts", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(occuloop_[a-z0-9_]+)` \|", section, re.MULTILINE))
    known = defined()
    families = {name for name in known.families if name.startswith("occuloop_")}
    missing = {f for f in families if f not in listed and f"{f}_total" not in listed}  # histograms by base name
    assert not missing, f"README's metrics table does not list {sorted(missing)}"
    assert listed <= known.names, sorted(listed - known.names)
