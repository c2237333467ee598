"""The occupancy endpoint for real: `occuloop server`, two tiny trained models registered as training does,
`occuloop serving setup`, and clearml-serving's inference app started by `occuloop serving run`.

The tests run in file order and build on each other: one version serves first; then a second version is added, and
the canary splits traffic between them.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.child_processes import Child
from tests.serving.bodies import bad_fields, bodies
from tests.support.clients import RESULT_PREFIX, Clients
from tests.support.metrics import scrape

pytestmark = pytest.mark.contract

FLOWS = Path(__file__).resolve().parent / "flows"
OCCULOOP = str(Path(sys.executable).parent / "occuloop")
SERVICE = ("--name", "occuloop serving", "--project", "occuloop/serving")
LINEAGE_HEADERS = (
    "X-Occuloop-Model-Id",
    "X-Occuloop-Model-Version",
    "X-Occuloop-Dataset-Id",
    "X-Occuloop-Dataset-Version",
)


@dataclass
class Deployment:
    clients: Clients
    app: Child
    url: str  # http://127.0.0.1:<port>/serve
    models: list[dict[str, Any]]  # model_id, card, offline predictions of the probe readings
    readings: list[dict[str, float]]
    session: requests.Session

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(f"{self.url}/{path}", data=json.dumps(body), headers=JSON, timeout=30)

    def setup(self, *args: str) -> dict[str, Any]:
        output = self.clients.run([OCCULOOP, "serving", *SERVICE, "setup", *args])
        summary, _ = json.JSONDecoder().raw_decode(output[output.index('{\n  "service_id"') :])  # logs follow
        return dict(summary)

    def plane(self, *args: str) -> Any:
        return _flow(self.clients, "plane.py", "occuloop serving", "occuloop/serving", *args)


JSON = {"Content-Type": "application/json"}


def _flow(clients: Clients, name: str, *args: str) -> Any:
    shutil.copy(FLOWS / name, clients.workdir / name)
    output = clients.run([sys.executable, name, *args], timeout=300)
    line = next(line for line in reversed(output.splitlines()) if line.startswith(RESULT_PREFIX))
    return json.loads(line[len(RESULT_PREFIX) :])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def deployment(clients: Clients) -> Iterator[Deployment]:
    trained = _flow(clients, "tiny_models.py", "occuloop/training", "1,2")
    port = _free_port()
    first = trained["models"][0]["model_id"]
    clients.run(
        [OCCULOOP, "serving", *SERVICE, "setup", "--model-id", first, "--metrics-seconds", "1", "--log-rate", "1"]
    )
    app = clients.spawn("inference", [OCCULOOP, "serving", *SERVICE, "run", "--port", str(port), "--poll-seconds", "1"])
    deployment = Deployment(clients, app, f"http://127.0.0.1:{port}/serve", trained["models"], trained["readings"],
                            requests.Session())  # fmt: skip

    def answers() -> bool:
        if not app.alive():
            raise app.failure("exited")
        try:
            return deployment.post("occupancy", trained["readings"][0]).status_code == 200
        except requests.ConnectionError:
            return False

    clients.api.wait_for("the inference app", answers, timeout=120)
    try:
        yield deployment
    finally:
        app.stop()
    log = app.log_path.read_text()
    assert "Traceback" not in log, log[-4000:]


def test_one_reading_and_a_batch_answer_like_the_model_offline(deployment: Deployment) -> None:
    model = deployment.models[0]
    for index in range(4):
        reading = {**deployment.readings[index], "room": f"room-{index}", "sensor_id": index}
        response = deployment.post("occupancy", reading)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["probability"] == pytest.approx(model["offline"][index], abs=1e-6)
        assert answer["occupied"] == (model["offline"][index] > 0.5)
        assert answer["room"] == f"room-{index}" and answer["sensor_id"] == index
        assert answer["model_id"] == model["model_id"] and answer["model_version"] == "1"
        assert answer["dataset_id"] == model["card"]["dataset_id"]
        assert answer["dataset_version"] == model["card"]["dataset_version"]
        assert [response.headers[name] for name in LINEAGE_HEADERS] == [
            model["model_id"], "1", model["card"]["dataset_id"], model["card"]["dataset_version"],
        ]  # fmt: skip
        assert answer["runtime"] == response.headers["X-Occuloop-Runtime"] == "onnxruntime"  # the package's graph

    batch = deployment.post("occupancy/1", {"readings": deployment.readings})
    assert batch.status_code == 200, batch.text
    answers = batch.json()
    assert isinstance(answers, list) and len(answers) == len(deployment.readings)
    assert [answer["probability"] for answer in answers] == pytest.approx(model["offline"], abs=1e-6)
    assert {answer["occupied"] for answer in answers} == {True, False}  # the probe holds both classes


def test_each_bad_field_is_named_in_a_422_and_never_reaches_the_model(deployment: Deployment) -> None:
    body = {"Temperature": 21, "Humidity": 300, "CO2": "x", "HumidityRatio": 0.004, "Light": 1e9, "C02": 1}
    response = deployment.post("occupancy", body)
    assert response.status_code == 422
    assert {item["field"]: item["reason"] for item in response.json()["detail"]} == {
        "Humidity": "out_of_range",
        "CO2": "not_a_number",
        "Light": "out_of_range",
        "C02": "unknown_field",
    }
    assert response.headers["X-Occuloop-Model-Version"] == "1"  # which version refused it
    nan = deployment.session.post(f"{deployment.url}/occupancy", data='{"Temperature": NaN}', headers=JSON)
    assert (
        nan.status_code == 422
        and {"field": "Temperature", "reason": "nan_or_inf"}.items() <= nan.json()["detail"][0].items()
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_fuzzed_requests_never_get_a_5xx_and_every_bad_field_is_named(deployment: Deployment, body: Any) -> None:
    response = deployment.post("occupancy", body)
    expected = bad_fields(body)
    if expected:
        assert response.status_code == 422, response.text
        assert {item["field"] for item in response.json()["detail"]} == expected
    else:
        assert response.status_code == 200, response.text
        answers = response.json() if "readings" in body else [response.json()]
        assert all(0.0 <= answer["probability"] <= 1.0 for answer in answers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode)))
@example(raw=b"Infinity")  # JSON to Python's parser, but not an object: once a 500 from the stock error handler
@example(raw=b"NaN")
@example(raw=b"[1e999]")
def test_arbitrary_bytes_get_a_4xx(deployment: Deployment, raw: bytes) -> None:
    response = deployment.session.post(f"{deployment.url}/occupancy", data=raw, headers=JSON, timeout=30)
    assert 400 <= response.status_code < 500, response.text


def _control_plane_state(clients: Clients) -> dict[str, Any]:
    service_id = clients.api.ok("tasks.get_all", {"system_tags": ["serving-control-plane"], "only_fields": ["id"]})[
        "tasks"
    ][0]["id"]
    task = clients.api.task(service_id)
    return {key: task.get(key) for key in ("configuration", "execution", "models", "hyperparams", "tags")}


def test_running_setup_again_changes_nothing(deployment: Deployment) -> None:
    before = _control_plane_state(deployment.clients)
    again = deployment.setup("--model-id", deployment.models[0]["model_id"])
    assert again["versions"] == {"1": deployment.models[0]["model_id"]} and again["weights"] == {"1": 1.0}
    assert _control_plane_state(deployment.clients) == before


def test_a_new_version_is_served_within_seconds(deployment: Deployment) -> None:
    second = deployment.models[1]
    started = time.monotonic()
    result = deployment.plane("register", second["model_id"])
    assert result == {"version": 2}
    assert deployment.plane("register", second["model_id"]) == {"version": 2}  # idempotent per model id

    def served() -> bool:
        response = deployment.post("occupancy/2", deployment.readings[0])
        return response.status_code == 200 and response.json()["model_id"] == second["model_id"]

    # how soon is a benchmark's question (BENCHMARKS.md); here only that it happens, with a bound for a hang
    deployment.clients.api.wait_for("version 2", served, timeout=120, interval=0.2)
    print(f"version 2 answered {time.monotonic() - started:.1f} s after register_version was called")
    routing = deployment.plane("routing")
    assert routing["weights"] == {"1": 1.0}  # a new version gets no public traffic until the canary says so


def test_canary_weights_split_traffic_within_tolerance(deployment: Deployment) -> None:
    first, second = (model["model_id"] for model in deployment.models)
    routing = deployment.setup("--model-id", first, "--model-id", second, "--weights", "0.9", "0.1")
    assert routing["weights"] == {"1": 0.9, "2": 0.1}

    def versions(count: int) -> list[str]:
        return [deployment.post("occupancy", deployment.readings[0]).headers["X-Occuloop-Model-Version"]
                for _ in range(count)]  # fmt: skip

    deployment.clients.api.wait_for("the canary to reach the app", lambda: "2" in versions(20), timeout=30)
    seen = versions(600)
    # binomial(600, 0.1): mean 60, sd 7.3; the band is +-3.5 sd
    assert 34 <= seen.count("2") <= 86, seen.count("2")
    assert seen.count("1") + seen.count("2") == 600


def test_unknown_versions_and_bad_weights_are_refused(deployment: Deployment) -> None:
    with pytest.raises(AssertionError, match="not registered"):
        deployment.plane("canary", "7=1.0")
    assert deployment.plane("routing")["weights"] == {"1": 0.9, "2": 0.1}


def test_metrics_and_the_prediction_log_trace_answers_to_model_and_dataset(deployment: Deployment) -> None:
    def metrics() -> dict[str, Any] | None:
        values: dict[str, Any] = deployment.plane("metrics")
        return values if values.get("1", {}).get("rejected") and values.get("2", {}).get("requests") else None

    per_version = deployment.clients.api.wait_for("metrics of both versions", metrics, timeout=30, interval=1)
    assert per_version["1"]["requests"] > per_version["2"]["requests"] > 0
    assert per_version["1"]["failed"] == 0 and per_version["1"]["latency_p99_ms"] > 0
    assert 0.0 <= per_version["1"]["occupied_rate"] <= 1.0

    records = deployment.plane("log")["records"]
    by_model = {model["model_id"]: model["card"] for model in deployment.models}
    predictions = [record for record in records if record["kind"] == "prediction"]
    assert predictions and {record["model_version"] for record in predictions} == {"1", "2"}
    for record in predictions:
        card = by_model[record["model_id"]]
        assert (record["dataset_id"], record["dataset_version"]) == (card["dataset_id"], card["dataset_version"])
        assert len(record["inputs"]) == len(record["outputs"]) >= 1
    loads = {record["model_id"]: record for record in records if record["kind"] == "model_loaded"}
    assert set(loads) == set(by_model)
    assert all(loads[model_id]["labeling_sessions"] == card["labeling_sessions"] for model_id, card in by_model.items())


def test_prometheus_metrics_count_each_version_and_show_the_canary_weights(deployment: Deployment) -> None:
    """The app's GET /metrics (serving/metrics.py): the counts the ClearML scalars report, per version, plus the
    routing's weights; they only grow, and a request more shows at once (no reporting interval)."""
    base = deployment.url.removesuffix("/serve")
    before = scrape(base)
    assert before.value("occuloop_serving_canary_weight_ratio", endpoint="occupancy", version="1") == 0.9
    assert before.value("occuloop_serving_canary_weight_ratio", endpoint="occupancy", version="2") == 0.1
    assert before.value("occuloop_serving_rejected_total", version="1") >= 1  # the fuzzed 422s
    assert before.value("occuloop_serving_failed_total") == 0
    scalars = deployment.plane("metrics")
    for version in ("1", "2"):
        counted = before.value("occuloop_serving_requests_total", endpoint="occupancy", version=version)
        assert counted >= scalars[version]["requests"] > 0  # the scalars are a report behind
        assert before.value("occuloop_serving_request_duration_seconds_count", version=version) == counted
        assert before.value("occuloop_serving_readings_total", version=version) >= before.value(
            "occuloop_serving_occupied_readings_total", version=version
        )
    answer = deployment.post("occupancy/1", deployment.readings[0])
    assert answer.status_code == 200
    after = scrape(base)
    assert (
        after.value("occuloop_serving_requests_total", version="1")
        == before.value("occuloop_serving_requests_total", version="1") + 1
    )
