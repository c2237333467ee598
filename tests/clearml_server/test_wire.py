"""Framing of calls: paths, bodies, envelopes, typed field access."""

from __future__ import annotations

import pytest

from services.clearml_server.wire import (
    API_VERSION,
    INVALID_TASK_ID,
    ApiError,
    Body,
    envelope,
    parse_body,
    parse_call_path,
)


@pytest.mark.parametrize(
    ("path", "endpoint", "version"),
    [
        ("/v2.23/tasks.get_all", "tasks.get_all", "2.23"),
        ("/v2.5/queues.get_next_task", "queues.get_next_task", "2.5"),
        ("/auth.login", "auth.login", None),
        ("/auth.login?expiration_sec=60", "auth.login", None),
        ("/api/v2.23/tasks.edit", "tasks.edit", "2.23"),
    ],
)
def test_versioned_and_unversioned_paths_name_the_same_endpoint(path: str, endpoint: str, version: str | None) -> None:
    call = parse_call_path(path)
    assert call is not None and call.endpoint == endpoint and call.version == version


@pytest.mark.parametrize("path", ["/", "/projects/x/experiments/y", "/v2.23/", "/tasks", "/../tasks.get_all"])
def test_paths_that_are_not_calls(path: str) -> None:
    assert parse_call_path(path) is None


def test_body_is_json_whatever_the_content_type_says() -> None:
    assert parse_body(b'{"a": 1}', "application/x-www-form-urlencoded") == {"a": 1}
    assert parse_body(b"", "application/json") == {}


def test_json_lines_batches_parse_into_a_list() -> None:
    raw = b'{"type": "log", "task": "t"}\n{"type": "log", "task": "u"}\n'
    assert parse_body(raw, "application/json-lines") == [{"type": "log", "task": "t"}, {"type": "log", "task": "u"}]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[" * 100_000])
def test_malformed_bodies_are_400_not_crashes(raw: bytes) -> None:
    with pytest.raises(ApiError) as error:
        parse_body(raw, "application/json")
    assert error.value.code.http == 400


def test_body_accessors_name_the_wrong_field() -> None:
    body = Body({"task": 5, "tags": ["a", 1], "force": "yes", "method": "get"})
    for access in (lambda: body.string("task"), lambda: body.strings("tags"), lambda: body.boolean("force")):
        with pytest.raises(ApiError) as error:
            access()
        assert error.value.code.http == 400
    with pytest.raises(ApiError, match="'task'"):
        body.string("task")
    with pytest.raises(ApiError, match="missing required field 'queue'"):
        Body({}).required_string("queue")


def test_body_must_be_an_object() -> None:
    with pytest.raises(ApiError):
        Body([1, 2])


def test_envelope_status_equals_result_code() -> None:
    status, document = envelope("tasks.get_by_id", "2.23", None, ApiError(INVALID_TASK_ID, "id=x"))
    assert status == 400 == document["meta"]["result_code"]
    assert document["meta"]["result_subcode"] == 101
    assert "invalid task id" in document["meta"]["result_msg"]
    ok_status, ok = envelope("tasks.get_all", None, {"tasks": []})
    assert ok_status == 200 and ok["data"] == {"tasks": []}
    assert ok["meta"]["endpoint"]["actual_version"] == API_VERSION
