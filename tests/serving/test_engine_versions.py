"""Engine code and image cannot drift apart: a registered version stores only an entry point, so it answers with the
engine of the image that serves it, and a version whose stored entry point does not fit that engine is refused.

The "image" here is the inference app started by `occuloop serving run` with an engine change on PYTHONPATH (a copy
of serving/ whose answers carry one more field), after the version was registered by this checkout's code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from serving.endpoints import ENGINE_FILE
from serving.engine_identity import engine_code
from tests.serving.test_endpoint import OCCULOOP, SERVICE, _flow, _free_port
from tests.support.clients import Clients

pytestmark = pytest.mark.contract

SERVING = Path(__file__).resolve().parents[2] / "serving"
CHANGE = ('"occupied": p > THRESHOLD,', '"occupied": p > THRESHOLD, "engine": "changed",')


def _changed_engine(folder: Path) -> Path:
    """A copy of serving/ whose answers carry `"engine": "changed"`: the engine of a newer image."""
    shutil.copytree(SERVING, folder / "serving", ignore=shutil.ignore_patterns("__pycache__"))
    engine = folder / "serving" / "engine.py"
    source = engine.read_text()
    assert CHANGE[0] in source
    engine.write_text(source.replace(*CHANGE))
    return folder


def test_a_version_answers_with_the_engine_of_the_image_and_a_stale_entry_point_is_refused(
    clients: Clients, tmp_path: Path
) -> None:
    trained = _flow(clients, "tiny_models.py", "occuloop/engine", "3")
    model_id = trained["models"][0]["model_id"]
    output = clients.run([OCCULOOP, "serving", *SERVICE, "setup", "--model-id", model_id])
    summary, _ = json.JSONDecoder().raw_decode(output[output.index('{\n  "service_id"') :])
    service_id = summary["service_id"]
    stale = clients.workdir / "stale_preprocess.py"  # an entry point an engine of another entry version wrote
    stale.write_text(ENGINE_FILE.read_text().replace("engine_for(1)", "engine_for(0)"))
    clients.cli(
        "clearml-serving", "--id", service_id, "model", "add", "--engine", "custom", "--endpoint", "occupancy",
        "--version", "2", "--model-id", model_id, "--preprocess", str(stale),
    )  # fmt: skip

    port = _free_port()
    overlay = _changed_engine(tmp_path / "image")
    argv = [OCCULOOP, "serving", *SERVICE, "run", "--port", str(port), "--poll-seconds", "1"]
    app = clients.spawn("inference-changed", argv, {"PYTHONPATH": str(overlay)})
    url = f"http://127.0.0.1:{port}/serve/occupancy"
    try:

        def first_version() -> requests.Response | None:
            if not app.alive():
                raise app.failure("exited")
            try:
                return requests.post(f"{url}/1", json=trained["readings"][0], timeout=30)
            except requests.ConnectionError:
                return None

        answer = clients.api.wait_for("version 1", first_version, timeout=120)
        assert answer.status_code == 200 and answer.json()["engine"] == "changed"  # the image's engine, not its own
        assert answer.json()["model_id"] == model_id
        refused = requests.post(f"{url}/2", json=trained["readings"][0], timeout=30)
        assert refused.status_code == 422 and "registered with engine entry point 0" in refused.text, refused.text

        def loaded() -> dict[str, str] | None:
            records = _flow(clients, "plane.py", "occuloop serving", "occuloop/serving", "log")["records"]
            found = [r for r in records if r.get("kind") == "model_loaded" and r.get("endpoint") == "occupancy/1"]
            return found[-1] if found else None

        record = clients.api.wait_for("the model_loaded record", loaded, timeout=60, interval=2)
        assert record["registered_with_engine_code"] == engine_code() != record["engine_code"]  # this checkout's
    finally:
        app.stop()
