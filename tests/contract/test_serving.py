"""clearml-serving against occuloop server: the CLI control plane and the inference app with a canary split."""

from __future__ import annotations

import re
import shutil
import socket
import sys

import requests

from tests.support.clients import FLOWS, Clients

REQUESTS = 400


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_endpoints_canary_and_inference_app(clients: Clients) -> None:
    first = clients.flow("model_flow", "contract-serving", "model-one")["id"]
    second = clients.flow("model_flow", "contract-serving", "model-two")["id"]
    shutil.copy(FLOWS / "echo_preprocess.py", clients.workdir / "preprocess.py")
    created = clients.cli("clearml-serving", "create", "--name", "occupancy serving", "--project", "contract-serving")
    service_id = re.search(r"id=([0-9a-f]{32})", created).group(1)
    for version, model in (("1", first), ("2", second)):
        clients.cli(
            "clearml-serving", "--id", service_id, "model", "add", "--engine", "custom", "--endpoint", "occupancy",
            "--version", version, "--model-id", model, "--preprocess", "preprocess.py",
        )  # fmt: skip
    clients.cli(
        "clearml-serving", "--id", service_id, "model", "canary", "--endpoint", "occupancy_canary",
        "--weights", "0.1", "0.9", "--input-endpoints", "occupancy/2", "occupancy/1",
    )  # fmt: skip
    listing = clients.cli("clearml-serving", "--id", service_id, "model", "list")
    assert "occupancy/1" in listing and "occupancy_canary" in listing

    port = free_port()
    app = clients.spawn(
        "inference",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "clearml_serving.serving.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        {"CLEARML_SERVING_TASK_ID": service_id, "CLEARML_SERVING_POLL_FREQ": "0.02"},
    )
    base = f"http://127.0.0.1:{port}/serve"
    session = requests.Session()
    try:

        def answers() -> dict[str, object] | None:
            if not app.alive():
                raise app.failure("exited")
            try:
                response = session.post(f"{base}/occupancy/1", json={"x": 1}, timeout=10)
            except requests.ConnectionError:
                return None
            return dict(response.json()) if response.status_code == 200 else None

        assert clients.api.wait_for("the inference app", answers, timeout=120) == {
            "model": "model-one",
            "echo": {"x": 1},
        }
        assert session.post(f"{base}/occupancy/2", json={"x": 2}, timeout=10).json()["model"] == "model-two"
        counts = {"model-one": 0, "model-two": 0}
        for _ in range(REQUESTS):
            response = session.post(f"{base}/occupancy_canary", json={"x": 0}, timeout=10)
            assert response.status_code == 200
            counts[response.json()["model"]] += 1
        # weights [0.1, 0.9] go to [occupancy/2, occupancy/1]: expect 40 of 400 on model-two, sd 6
        assert 13 <= counts["model-two"] <= 67, counts
        instance = clients.api.ok("tasks.get_all", {"type": ["inference"], "only_fields": ["id", "name", "status"]})[
            "tasks"
        ]
        assert instance and instance[0]["name"].startswith("occupancy serving")
    finally:
        app.stop()
    assert "Traceback" not in app.log_path.read_text(), app.log_path.read_text()[-4000:]
