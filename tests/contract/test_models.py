"""OutputModel / Model / InputModel against occuloop server."""

from __future__ import annotations

from tests.support.clients import Clients


def test_output_model_upload_publish_tag_query_and_download(clients: Clients) -> None:
    result = clients.flow("model_flow", "contract-models", "weights-v1")
    assert result["url"].startswith(clients.server.files_url + "/contract-models/")
    assert result["found"] == [result["id"]]
    assert result["tags"] == ["candidate", "champion"] and result["published"] is True
    assert result["content"] == "weights-v1"
    model = clients.api.ok("models.get_by_id", {"model": result["id"]})["model"]
    assert model["ready"] is True and model["framework"] == "Keras" and model["task"]
