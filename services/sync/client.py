"""What a labeling tool needs to hand its work to occuloop: finish a session file, press "upload".

    from services.sync.client import finish_session, request_sync

    finish_session("labels/2015-02-05.csv", inbox="/mnt/inbox")   # atomic: the sync never sees half a file
    request_sync("http://occuloop-sync:8090")                     # the "upload" button: finalize now

Graceful shutdown of a labeling tool (finalize whatever it delivered before it goes away):

    import atexit
    atexit.register(request_sync, "http://occuloop-sync:8090", 30)

The functions use only the standard library, so a labeling tool can also copy this file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def finish_session(source: str | Path, inbox: str | Path, name: str | None = None) -> Path:
    """Copy a finished labeling-session CSV into the inbox under a temporary name, then rename it into place:
    the sync service only ever sees complete files. Returns the final path."""
    inbox_path = Path(inbox)
    target = inbox_path / (name or Path(source).name)
    descriptor, temporary = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=inbox_path)
    os.close(descriptor)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target


def request_sync(url: str, wait_seconds: float = 60.0) -> dict[str, Any]:
    """Press the "upload" button: ask the sync service to finalize what it has now. Returns its answer, e.g.
    {"status": "synced", "dataset_id": ..., "version": "1.0.3", "files": [...]} or {"status": "nothing to sync"}."""
    request = urllib.request.Request(f"{url.rstrip('/')}/sync?wait={wait_seconds:g}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=wait_seconds + 10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        return {"status": "error", "http_status": error.code, "detail": error.read().decode(errors="replace")}
