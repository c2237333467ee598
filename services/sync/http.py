"""The sync service's HTTP port: the labeling tool's "upload" button and the service's health.

POST /sync[?wait=60]   finalize what is pending now; answers with the new version (200), "nothing to sync"
                       (200), or 202 if it takes longer than `wait` seconds (the version still comes)
GET  /status           what the service is doing: idle | collecting | squashing | waiting_for_server | backoff,
                       staged files, the last version
GET  /quarantine       every rejected file, newest first: reasons, validation report, quarantined_at, and the
                       corrected file that superseded it (quarantine.py); what the UI's quarantine page reads
GET  /healthz          liveness
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlparse

from ..http_base import ServiceHandler
from . import quarantine

DEFAULT_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 600.0


class SyncHandler(ServiceHandler):
    post_hint = "POST /sync"

    def do_GET(self) -> None:
        if urlparse(self.path).path == "/quarantine":
            found = quarantine.entries(self.service.inbox.quarantine_dir, self.service.journal)
            self.reply_json(200, {"quarantine": found, "count": len(found)})
            return
        super().do_GET()

    def do_POST(self) -> None:
        url = urlparse(self.path)
        self.read_body(1 << 16)  # the button sends no body; read whatever came so the connection stays usable
        if url.path != "/sync":
            self.reply_json(404, {"error": "unknown path; try POST /sync"})
            return
        try:
            wait = float(parse_qs(url.query).get("wait", [DEFAULT_WAIT_SECONDS])[0])
        except ValueError:
            self.reply_json(400, {"error": "wait must be a number of seconds"})
            return
        before = self.service.outcome_count()
        self.service.request_sync()
        outcome = self.service.wait_for_outcome(before, max(0.0, min(wait, MAX_WAIT_SECONDS)))
        if outcome is None:
            self.reply_json(202, {"status": "finalizing", **self.service.status()})
        else:
            self.reply_json(
                200, {"status": "synced" if outcome.dataset_id else outcome.reason, **dataclasses.asdict(outcome)}
            )
