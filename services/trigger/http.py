"""The trigger service's HTTP port: the sync's push notification and the service's health.

POST /notify    {"dataset_id": "...", "version": "..."} (both optional): a version was finalized, look now (202)
GET  /status    watching | backoff, the template and scheduler task ids, runs fired, the last one
GET  /healthz   liveness
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from ..http_base import ServiceHandler


class TriggerHandler(ServiceHandler):
    post_hint = "POST /notify"

    def do_POST(self) -> None:
        body = self.read_body(1 << 16)
        if urlparse(self.path).path != "/notify":
            self.reply_json(404, {"error": "unknown path; try POST /notify"})
            return
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self.reply_json(400, {"error": 'the body must be JSON, e.g. {"dataset_id": "..."}'})
            return
        dataset_id = payload.get("dataset_id") if isinstance(payload, dict) else None
        if dataset_id is not None and not isinstance(dataset_id, str):
            self.reply_json(400, {"error": "dataset_id must be a string", "field": "dataset_id"})
            return
        self.service.notify(dataset_id)
        self.reply_json(202, {"status": "accepted"})
