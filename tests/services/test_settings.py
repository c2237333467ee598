"""One place reads the environment; bad values fail at start-up naming the variable."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from pathlib import Path

import pytest

from services.logs import configure_logging, fields, log_event
from services.settings import LogSettings, ServerSettings, SettingsError, SyncSettings


def test_server_settings_from_env() -> None:
    settings = ServerSettings.from_env(
        {
            "OCCULOOP_DATA_DIR": "/data",
            "OCCULOOP_API_PORT": "9008",
            "OCCULOOP_FILES_AUTH": "false",
            "OCCULOOP_SERVER_FSYNC": "yes",
            "OCCULOOP_LOG_FORMAT": "json",
        }
    )
    assert settings.data_dir == Path("/data") and settings.api_port == 9008
    assert settings.files_auth is False and settings.durable is True and settings.log.format == "json"
    # the default data dir too is resolved against the working directory when read (issue 14)
    assert ServerSettings.from_env({}) == ServerSettings(data_dir=Path(".occuloop/server").resolve())


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OCCULOOP_API_PORT": "eighty"}, "OCCULOOP_API_PORT"),
        ({"OCCULOOP_API_PORT": "70000"}, "OCCULOOP_API_PORT"),
        ({"OCCULOOP_FILES_AUTH": "maybe"}, "OCCULOOP_FILES_AUTH"),
        ({"OCCULOOP_LOG_FORMAT": "xml"}, "OCCULOOP_LOG_FORMAT"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        ServerSettings.from_env(environ)


def test_validation_of_combinations() -> None:
    with pytest.raises(SettingsError, match="together"):
        dataclasses.replace(ServerSettings(), access_key="A").validate()
    with pytest.raises(SettingsError, match="must differ"):
        dataclasses.replace(ServerSettings(), api_port=9000, files_port=9000).validate()


def test_json_logs_carry_the_key_value_pairs_as_fields() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(format="json"), stream)
    try:
        logging.getLogger("occuloop.test").info("event=server_started api_url=%s data_dir=%s", "http://x:1", "/d")
        line = json.loads(stream.getvalue().strip())
        assert line["event"] == "server_started" and line["api_url"] == "http://x:1" and line["level"] == "INFO"
    finally:
        logging.getLogger().handlers.clear()


def test_log_fields_quote_free_text_and_keep_structures_one_json_value() -> None:
    line = fields(model_id="m1", reason='refused: "bad" data', weight=0.5, step=None, ok=True, facts={"a": [1, 2]})
    assert line == 'model_id=m1 reason="refused: \'bad\' data" weight=0.5 step=none ok=true facts={"a":[1,2]}'
    assert fields(detail="") == 'detail=""'


def test_a_logged_event_is_parsed_back_into_the_same_fields_by_the_json_logs() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(format="json"), stream)
    try:
        log_event(logging.getLogger("occuloop.test"), "canary_step", model_id="m2", weight=0.1, detail="a b")
        line = json.loads(stream.getvalue().strip())
        assert (line["event"], line["model_id"], line["weight"], line["detail"]) == ("canary_step", "m2", "0.1", "a b")
        assert line["logger"] == "occuloop.test"
    finally:
        logging.getLogger().handlers.clear()


def test_the_squash_depth_is_a_bounded_integer() -> None:
    assert SyncSettings.from_env({"OCCULOOP_SYNC_SQUASH_DEPTH": "12"}).squash_depth == 12
    assert SyncSettings.from_env({"OCCULOOP_SYNC_SQUASH_DEPTH": "0"}).squash_depth == 0  # never squash
    for bad in ("-1", "1001", "eight"):
        with pytest.raises(SettingsError, match="OCCULOOP_SYNC_SQUASH_DEPTH"):
            SyncSettings.from_env({"OCCULOOP_SYNC_SQUASH_DEPTH": bad})


def test_ui_settings_read_the_api_and_name_what_is_missing(tmp_path: Path) -> None:
    from services.settings import UiSettings

    settings = UiSettings.from_env({"CLEARML_API_HOST": "http://api:8008", "CLEARML_API_ACCESS_KEY": "a",
                                    "CLEARML_API_SECRET_KEY": "s", "OCCULOOP_UI_PORT": "9080",
                                    "OCCULOOP_UI_SYNC_URL": "http://sync:8090"}).validate()  # fmt: skip
    assert (settings.port, settings.api_host, settings.sync_url, settings.poll_seconds) == (
        9080, "http://api:8008", "http://sync:8090", 3.0,
    )  # fmt: skip
    with pytest.raises(SettingsError, match="CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY"):
        UiSettings.from_env({"CLEARML_API_HOST": "http://api:8008"}).validate()
    with pytest.raises(SettingsError, match="OCCULOOP_UI_POLL_SECONDS"):
        UiSettings.from_env({"OCCULOOP_UI_POLL_SECONDS": "0.1"})
    with pytest.raises(SettingsError, match="together"):
        dataclasses.replace(settings, auth_user="ops").validate()
