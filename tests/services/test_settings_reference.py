"""Settings are the single source: the README's tables, the chart's `config:` values and schema, and every
`--help` follow the declarations in services/settings.py."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from services import settings_reference
from services.setting import Location, SettingsError, add_flag, declared, given_flags
from services.settings import (
    GROUPS,
    CanarySettings,
    GateSettings,
    ServerSettings,
    SyncSettings,
    TriggerSettings,
    with_flags,
)
from services.settings_reference import CHART_SETS, configurable


def test_readme_and_chart_values_and_schema_are_written_from_the_settings() -> None:
    stale = [str(path.relative_to(settings_reference.ROOT)) for path in settings_reference.stale()]
    assert not stale, f"{stale} disagree with services/settings.py: run `make settings-reference`"


def test_every_setting_can_be_set_on_kubernetes_and_every_threshold_through_config() -> None:
    every = {item.env for group in GROUPS for item in declared(group)}
    assert set(CHART_SETS) <= every, f"CHART_SETS names variables nobody reads: {set(CHART_SETS) - every}"
    assert every == set(configurable()) | set(CHART_SETS)
    thresholds = {env for env in every if env.startswith(("OCCULOOP_GATE_", "OCCULOOP_CANARY_"))}
    derived = {"OCCULOOP_CANARY_PROBE_URL", "OCCULOOP_GATE_ON_PASS"}  # the serving Service; whether rollout runs
    assert thresholds - derived <= set(configurable())


def test_a_variable_read_by_several_groups_means_one_thing() -> None:
    readers = defaultdict(list)
    for group in GROUPS:
        for item in declared(group):
            readers[item.env].append(item)
    for env, items in readers.items():
        assert len({(item.default, type(item.setting.kind)) for item in items}) == 1, f"{env} has two defaults"


def test_every_default_reads_back_from_its_own_text() -> None:
    for group in GROUPS:
        for item in declared(group):
            if item.default_text:
                assert item.setting.read({item.env: item.default_text}, None) == item.setting.kind.default(
                    item.default
                ), item.env


def test_the_chart_values_read_back_as_the_defaults() -> None:
    values = yaml.safe_load(settings_reference.VALUES.read_text())
    environ = {
        env: str(value).lower() if isinstance(value, bool) else str(value) for env, value in values["config"].items()
    }
    for group in GROUPS:
        assert group.from_env(environ) == group.from_env({}), group.__name__


def test_a_flag_is_checked_like_its_variable_and_its_help_shows_default_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="occuloop sync")
    add_flag(parser, SyncSettings, "http_port", "--port")
    add_flag(parser, SyncSettings, "quiet_seconds", "--quiet-seconds")
    add_flag(parser, SyncSettings, "completion", "--completion")
    assert "(default 8090; OCCULOOP_SYNC_PORT)" in " ".join(parser.format_help().split())
    args = parser.parse_args(["--quiet-seconds", "2.5"])
    assert given_flags(args, SyncSettings) == {"quiet_seconds": 2.5}
    assert (
        with_flags(
            SyncSettings.from_env({"OCCULOOP_SYNC_QUIET_SECONDS": "9"}), **given_flags(args, SyncSettings)
        ).quiet_seconds
        == 2.5
    )
    for argv, expected in (
        (["--port", "70000"], "an integer from 0 to 65535"),
        (["--completion", "x"], "one of auto, marker"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert f"argument {argv[0]}: expected {expected}" in capsys.readouterr().err


def test_bad_values_name_the_variable_the_value_and_the_expectation() -> None:
    with pytest.raises(SettingsError, match=r"OCCULOOP_CANARY_MAX_ERROR_RATE='2': expected a number from 0 to 1"):
        CanarySettings.from_env({"OCCULOOP_CANARY_MAX_ERROR_RATE": "2"})
    with pytest.raises(SettingsError, match=r"OCCULOOP_TRIGGER_PARAMETER='dataset_id': expected Section/name"):
        TriggerSettings.from_env({"OCCULOOP_TRIGGER_PARAMETER": "dataset_id"})
    with pytest.raises(SettingsError, match="unknown slice 'noon'"):
        GateSettings.from_env({"OCCULOOP_GATE_SLICE_MARGINS": "noon=0.1"})


def test_paths_are_resolved_when_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(next(i for i in declared(ServerSettings) if i.name == "data_dir").setting.kind, Location)
    assert ServerSettings.from_env({"OCCULOOP_DATA_DIR": "srv"}).data_dir == tmp_path.resolve() / "srv"


def test_the_trigger_service_task_carries_every_setting_as_its_parameters() -> None:
    from services.service_tasks.parameters import from_parameters
    from services.trigger.remote import SPEC

    changed = TriggerSettings(tags=("A", "B"), poll_seconds=1.5, http_port=0, coalesce_seconds=3.0, remote_queue="q")
    parameters = {item.key: item.value for item in SPEC.parameters(changed)}
    assert parameters["Trigger/http_port"] == "0" and parameters["Trigger/tags"] == "A,B"
    carried = from_parameters(SPEC.section, parameters, TriggerSettings(), excluded=SPEC.excluded)
    assert carried == dataclasses.replace(changed, remote_queue=None)
    with pytest.raises(SettingsError, match=r"Trigger/poll_seconds='fast': expected a number >= 0\.1"):
        from_parameters(SPEC.section, {"Trigger/poll_seconds": "fast"}, TriggerSettings())


def test_defaults_the_readme_prose_mentions_are_the_declared_ones() -> None:
    """`OCCULOOP_X` (30), `..._X`, 0.01 and the like outside the generated tables: a changed default fails here."""
    readme = settings_reference.README.read_text()
    begin, end = settings_reference.README_MARKERS
    prose = readme.split(begin)[0] + readme.split(end)[1]
    defaults = {item.env: item.default for group in GROUPS for item in declared(group)}
    mentions = re.findall(r"`(OCCULOOP_[A-Z0-9_]+|\.\.\._[A-Z0-9_]+)`(?: \(|, )(\d+(?:\.\d+)?)(?=[ s),;:])", prose)
    assert len(mentions) >= 10
    for name, value in mentions:
        [env] = [env for env in defaults if env == name or (name.startswith("...") and env.endswith(name[3:]))]
        assert float(value) == float(defaults[env]), f"README says {name} defaults to {value}: {defaults[env]}"
