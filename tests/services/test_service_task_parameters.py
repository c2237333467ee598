"""The services' settings as ClearML task parameters and back: every field of every service's settings, nested ones
included, survives the round trip through text; a wrong value names its parameter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.rollout.remote import SPEC as ROLLOUT
from services.service_tasks.parameters import differing, from_parameters, to_parameters
from services.service_tasks.spec import ServiceTaskSpec
from services.settings import CanarySettings, SettingsError, SyncSettings, TriggerSettings
from services.sync.remote import SPEC as SYNC
from services.trigger.remote import SPEC as TRIGGER

CHANGED_ENV = {
    "OCCULOOP_SYNC_INBOX": "/mnt/labels",
    "OCCULOOP_TRIGGER_URL": "http://trigger:8091/notify",
    "OCCULOOP_SYNC_QUIET_SECONDS": "12.5",
    "OCCULOOP_TRIGGER_TAGS": "Production,approved",
    "OCCULOOP_CANARY_STEPS": "5,25,100",
    "OCCULOOP_GATE_SLICE_MARGINS": "night=0.01,day=0.03",
    "OCCULOOP_GATE_MIN_DAYS": "3",
    "OCCULOOP_SERVING_PORT": "9999",
    "OCCULOOP_LOG_FORMAT": "json",
}


def as_map(section: str, settings: object) -> dict[str, str]:
    return {item.key: item.value for item in to_parameters(section, settings)}


@pytest.mark.parametrize("spec", [SYNC, TRIGGER, ROLLOUT], ids=lambda spec: spec.name)
def test_every_field_survives_the_round_trip(spec: ServiceTaskSpec) -> None:
    settings = spec.settings_type.from_env(CHANGED_ENV)
    parameters = as_map(spec.section, settings)
    assert spec.settings_type() != settings  # the test would prove nothing otherwise
    assert from_parameters(spec.section, parameters, spec.settings_type()) == settings


def test_names_types_and_text_forms() -> None:
    params = {item.key: item for item in to_parameters("Rollout", CanarySettings.from_env(CHANGED_ENV))}
    assert params["Rollout/steps"].value == "5,25,100"  # percent, as the variable holds them
    assert params["Rollout/rollout.gate.slice_margins"].value == "night=0.01,day=0.03"
    assert (
        params["Rollout/rollout.gate.min_days"].value == "3" and params["Rollout/rollout.gate.min_days"].type == "int"
    )
    assert params["Rollout/serving.port"].value == "9999"
    assert params["Rollout/rollout.log.format"].value == "json"
    sync = {item.key: item for item in to_parameters("Sync", SyncSettings())}
    assert sync["Sync/trigger_url"].value == ""  # None
    assert sync["Sync/inbox"].type == "path"


def test_an_edited_parameter_changes_only_its_field() -> None:
    base = TriggerSettings()
    edited = from_parameters("Trigger", {"Trigger/poll_seconds": "2.5", "Trigger/tags": "a, b,"}, base)
    assert edited == dataclasses.replace(base, poll_seconds=2.5, tags=("a", "b"))
    nested = from_parameters("Rollout", {"Rollout/rollout.gate.min_days": "1"}, CanarySettings())
    assert nested.rollout.gate.min_days == 1 and nested.rollout.gate.min_occupied == 200
    assert from_parameters("Sync", {"Sync/trigger_url": ""}, SyncSettings(trigger_url="x")).trigger_url is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("Sync/batch_size", "many", "Sync/batch_size='many': expected an integer"),
        ("Sync/inbox", "relative/inbox", "expected an absolute path"),
        ("Sync/quiet_seconds", "soon", "expected a number"),
        ("Rollout/rollout.gate.slice_margins", "night", "expected slice=margin pairs"),
        ("Trigger/poll_seconds", "0.01", "Trigger/poll_seconds='0.01': expected a number >= 0.1"),
    ],
)
def test_a_wrong_value_names_its_parameter(key: str, value: str, message: str) -> None:
    section = key.split("/")[0]
    base = {"Sync": SyncSettings(), "Rollout": CanarySettings(), "Trigger": TriggerSettings()}[section]
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        from_parameters(section, {key: value}, base)


def test_excluded_fields_are_not_carried_and_differences_are_named() -> None:
    assert "Trigger/remote_queue" not in {item.key for item in TRIGGER.parameters(TriggerSettings())}
    registration = SYNC.registration(SyncSettings(inbox=Path("/inbox")), "services")
    assert registration.parameters["Sync/inbox"] == "/inbox" and registration.queue == "services"
    assert differing({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ["b", "c"]


def test_the_description_says_what_the_value_does_and_its_variable() -> None:
    params = {item.key: item for item in to_parameters("Trigger", TriggerSettings())}
    assert params["Trigger/poll_seconds"].description == (
        "polling interval, the safety net behind the sync's push (environment: OCCULOOP_TRIGGER_POLL_SECONDS)"
    )
    assert params["Trigger/coalesce_seconds"].value == "0"
    # an emptied value is the declared default, as for an empty variable
    assert from_parameters("Trigger", {"Trigger/coalesce_seconds": ""}, TriggerSettings(coalesce_seconds=3.0)) == (
        TriggerSettings()
    )
