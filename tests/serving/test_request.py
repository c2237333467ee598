"""The request schema in-process: good readings become sensor rows, every bad field is named with its reason."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from serving.request import MAX_READINGS, FieldError, Readings, parse
from tests.serving.bodies import bad_fields, bodies
from training.schema import FEATURES

GOOD = {"Temperature": 23.2, "Humidity": 27.3, "Light": 426, "CO2": 721.25, "HumidityRatio": 0.00479}


def reasons(result: Readings | list[FieldError]) -> dict[str, str]:
    assert isinstance(result, list), result
    return {error.field: error.reason for error in result}


def test_one_reading_becomes_one_row_in_contract_order() -> None:
    result = parse({**GOOD, "room": "A-101", "sensor_id": 17})
    assert isinstance(result, Readings) and not result.batch
    np.testing.assert_array_equal(result.values, [[GOOD[name] for name in FEATURES]])
    assert result.echoes == ({"room": "A-101", "sensor_id": 17},)
    assert list(result.to_frame().columns) == list(FEATURES)


def test_a_batch_keeps_order_and_echoes() -> None:
    result = parse({"readings": [GOOD, {**GOOD, "Light": 0, "room": "B"}]})
    assert isinstance(result, Readings) and result.batch
    assert result.values[:, FEATURES.index("Light")].tolist() == [426.0, 0.0]
    assert result.echoes == ({}, {"room": "B"})


def test_every_wrong_field_is_reported_with_its_reason() -> None:
    body: dict[str, Any] = {
        "Humidity": 300,
        "Light": math.nan,
        "CO2": "721",
        "HumidityRatio": True,
        "C02": 700,
        "room": ["x"],
        "timestamp": "yesterday",
    }
    assert reasons(parse(body)) == {
        "Temperature": "missing",
        "Humidity": "out_of_range",
        "Light": "nan_or_inf",
        "CO2": "not_a_number",
        "HumidityRatio": "not_a_number",
        "C02": "unknown_field",
        "room": "not_a_string",
        "timestamp": "bad_timestamp",
    }


def test_the_unknown_field_message_suggests_the_contract_name() -> None:
    result = parse({**GOOD, "co2": 700})
    assert isinstance(result, list) and "did you mean 'CO2'" in result[0].message


def test_batch_errors_name_the_reading() -> None:
    result = parse({"readings": [GOOD, {**GOOD, "CO2": 1e9}, 5], "room": "A"})
    assert reasons(result) == {
        "room": "unknown_field",
        "readings[1].CO2": "out_of_range",
        "readings[2]": "not_an_object",
    }


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ([GOOD], "", "not_an_object"),
        ("text", "", "not_an_object"),
        ({"readings": GOOD}, "readings", "not_a_list"),
        ({"readings": []}, "readings", "empty"),
        ({"readings": [GOOD] * (MAX_READINGS + 1)}, "readings", "too_many"),
        ({**GOOD, "Temperature": 10**400}, "Temperature", "nan_or_inf"),
        ({**GOOD, "room": "x" * 201}, "room", "too_long"),
    ],
)
def test_body_shapes(body: Any, field: str, reason: str) -> None:
    assert reasons(parse(body)) == {field: reason}


def test_a_time_of_day_model_needs_the_timestamp() -> None:
    assert reasons(parse(GOOD, needs_timestamp=True)) == {"timestamp": "missing"}
    result = parse({**GOOD, "timestamp": "2015-02-04T17:51:00+01:00"}, needs_timestamp=True)
    assert isinstance(result, Readings) and result.timestamps == (datetime(2015, 2, 4, 17, 51),)
    assert str(result.to_frame()["date"].dtype).startswith("datetime64")


@settings(max_examples=500, deadline=None)
@given(bodies)
def test_fuzzed_bodies_name_exactly_the_wrong_fields(body: dict[str, Any]) -> None:
    result = parse(body)
    expected = bad_fields(body)
    if expected:
        assert isinstance(result, list) and {error.field for error in result} == expected
    else:
        assert isinstance(result, Readings) and np.isfinite(result.values).all()
        assert len(result.to_frame()) == len(result.values)
