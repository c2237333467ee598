"""Every request the real clients sent while recording (3,583 API calls, 94 file calls) is accepted here too.

Ids are mapped from our server's replies (see tests/support/recorded_traffic.py). A request may fail only where
the recording shows the real server answering an error, or where the protocol doc says it does.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from clearml.utilities.requests_toolbelt import MultipartEncoder

from services.child_processes import EmbeddedServer, inherited_environment, start_embedded_server
from tests.support.clients import RawApi
from tests.support.recorded_traffic import CREATES, LOOKUPS, IdMap, Record, body_of, plan, records


def test_every_recorded_request_is_accepted(tmp_path: Path) -> None:
    all_records = list(records())
    replay_plan = plan(all_records)
    assert len(replay_plan.restart_before) == 4 and len(replay_plan.parent_after_child) == 2
    session = requests.Session()
    unexpected: list[str] = []
    counts: Counter[str] = Counter()
    server: EmbeddedServer | None = None
    for record in all_records:
        if server is None or record.index in replay_plan.restart_before:
            if server is not None:
                assert server.child.stop() == 0
            # the recorder restarted its in-memory server here: continue on a fresh one
            server = start_embedded_server(tmp_path / f"server-{record.index}", env=inherited_environment(os.environ))
            api = RawApi(server)
            token = api.login()
            ids = IdMap(default_queue=api.ok("queues.get_default", {})["id"])
        expected_error = record.expected_error() or record.index in replay_plan.parent_after_child
        if record.kind == "api":
            status, message, token = _replay_api(session, server, api, ids, record, token)
        else:
            status, message = _replay_file(session, server, token, ids, record)
        counts[record.kind] += 1
        failed = status >= 400
        if failed != expected_error:
            where = record.data.get("endpoint") or f"FILES {record.data['method']} {record.data.get('path')}"
            unexpected.append(f"#{record.index} [{record.segment}] {where}: HTTP {status} {message}")
    assert server is not None and server.child.stop() == 0
    assert counts == {"api": 3583, "files": 94}
    assert not unexpected, f"{len(unexpected)} requests answered unlike the real server:\n" + "\n".join(unexpected[:30])


def _replay_api(
    session: requests.Session, server: EmbeddedServer, api: RawApi, ids: IdMap, record: Record, token: str
) -> tuple[int, str, str]:
    data = record.data
    endpoint = data["endpoint"]
    path = f"/v{data['version']}/{endpoint}" if data.get("version") else f"/{endpoint}"
    if endpoint == "auth.login":
        response = session.get(server.api_url + path, headers={"Authorization": api.basic}, timeout=30)
        document = response.json()
        return response.status_code, document["meta"]["result_msg"], document["data"].get("token", token)
    body = ids.translate(body_of(record), endpoint)
    content_type = data["headers"].get("Content-Type") or data["headers"].get("Content-type") or "application/json"
    if isinstance(body, list):
        payload = "\n".join(json.dumps(item) for item in body).encode()
    else:
        payload = json.dumps(body).encode()
    response = session.request(
        data["method"],
        server.api_url + path,
        data=payload,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=60,
    )
    document = response.json()
    assert response.status_code == document["meta"]["result_code"]
    if response.status_code == 200 and endpoint in CREATES:
        ids.created(CREATES[endpoint], document["data"]["id"])
    if response.status_code == 200 and endpoint in LOOKUPS:
        key, kind = LOOKUPS[endpoint]
        if len(document["data"][key]) == 1:
            ids.found(kind, document["data"][key][0]["id"])
    return response.status_code, document["meta"]["result_msg"], token


def _replay_file(
    session: requests.Session, server: EmbeddedServer, token: str, ids: IdMap, record: Record
) -> tuple[int, str]:
    data = record.data
    headers = {"Authorization": f"Bearer {token}"}
    if data["method"] == "POST":
        fields: dict[str, Any] = {}
        for part in data["fields"]:
            name = ids.translate(part["field"], "files")
            fields[name] = (name, io.BytesIO(b"recorded upload stand-in"), part["ctype"])
        encoder = MultipartEncoder(fields=fields)
        response = session.post(
            server.files_url + data["path"],
            data=encoder,
            headers={**headers, "Content-Type": encoder.content_type},
            timeout=60,
        )
    else:
        response = session.get(server.files_url + ids.translate(data["path"], "files"), headers=headers, timeout=60)
    return response.status_code, response.text[:200]
