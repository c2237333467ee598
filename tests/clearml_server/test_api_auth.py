"""auth.login, tokens and the error envelope."""

from __future__ import annotations

import time

import jwt

from tests.clearml_server.conftest import InProcessApi


def test_login_returns_a_token_with_the_claims_the_sdk_reads(api: InProcessApi) -> None:
    claims = jwt.decode(api.token, options={"verify_signature": False})
    assert claims["api_version"] == "2.23"
    assert claims["feature_set"] == "basic"
    assert tuple(int(part) for part in claims["server_version"].split(".")) >= (1, 16, 3)
    assert claims["exp"] > time.time() + 3600


def test_login_honours_expiration_sec_from_the_query_string(api: InProcessApi) -> None:
    status, document = api.raw("/auth.login?expiration_sec=120", headers={"Authorization": api.basic()})
    claims = jwt.decode(document["data"]["token"], options={"verify_signature": False})
    assert status == 200 and claims["exp"] - claims["iat"] == 120


def test_wrong_secret_or_unknown_key_is_401(api: InProcessApi) -> None:
    for header in (api.basic(secret="wrong"), api.basic(access="NOPE"), "Basic !!!", "Digest x"):
        status, document = api.raw("/auth.login", headers={"Authorization": header})
        assert status == 401 == document["meta"]["result_code"]


def test_calls_without_or_with_a_bad_token_are_401(api: InProcessApi) -> None:
    assert api.raw("/v2.23/tasks.get_all", {})[0] == 401
    forged = jwt.encode(
        {"exp": int(time.time()) + 60, "access_key": api.access_key},
        "a-32-byte-key-that-is-not-the-servers",
        algorithm="HS256",
    )
    assert api.raw("/v2.23/tasks.get_all", {}, {"Authorization": f"Bearer {forged}"})[0] == 401


def test_expired_token_is_401(api: InProcessApi) -> None:
    key = api.state.server.store.read().meta.get("jwt_secret")
    expired = jwt.encode({"exp": int(time.time()) - 5, "access_key": api.access_key}, key, algorithm="HS256")
    status, document = api.raw("/v2.23/tasks.get_all", {}, {"Authorization": f"Bearer {expired}"})
    assert status == 401 and "expired" in document["meta"]["result_msg"]


def test_revoked_credentials_invalidate_their_tokens(api: InProcessApi) -> None:
    created = api.ok("auth.create_credentials", {"label": "ci"})["credentials"]
    status, document = api.raw(
        "/auth.login", headers={"Authorization": api.basic(created["access_key"], created["secret_key"])}
    )
    assert status == 200
    token = document["data"]["token"]
    assert api.ok("auth.revoke_credentials", {"access_key": created["access_key"]})["revoked"] == 1
    assert api.raw("/v2.23/tasks.get_all", {}, {"Authorization": f"Bearer {token}"})[0] == 401


def test_a_bearer_token_can_log_in_again(api: InProcessApi) -> None:
    status, document = api.raw("/auth.login", headers={"Authorization": f"Bearer {api.token}"})
    assert status == 200 and document["data"]["token"]


def test_unknown_endpoint_is_400_subcode_1_like_the_real_server(api: InProcessApi) -> None:
    meta = api.fails("tasks.no_such_action", {}, match="endpoint is not supported")
    assert meta["result_subcode"] == 1
    api.fails("workers.get_runtime_properties", {"worker": "w"}, match="not supported")


def test_unversioned_and_versioned_calls_behave_the_same(api: InProcessApi) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    assert api.raw("/tasks.get_all", {}, headers)[0] == 200
    assert api.raw("/v2.5/tasks.get_all", {}, headers)[0] == 200


def test_malformed_bodies_get_an_envelope_not_a_crash(api: InProcessApi) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    for raw in (b"{", b"\xff", b"[1, 2]", b'"text"'):
        status, document = api.raw("/v2.23/tasks.get_all", raw, headers)
        assert status == 400 and document["meta"]["result_msg"]


def test_extra_method_key_and_unknown_keys_are_ignored(api: InProcessApi) -> None:
    task_id = api.task()
    rows = api.ok("tasks.get_all", {"id": [task_id], "method": "get", "whatever": 1})["tasks"]
    assert [row["id"] for row in rows] == [task_id]


def test_debug_ping_needs_no_token(api: InProcessApi) -> None:
    assert api.raw("/debug.ping", {})[0] == 200
