"""The pinned holdout: test 1, registered once as its own published (read-only) ClearML dataset version.

Why test 1: it is the published test set, it precedes every labeling session, and it holds the bright-daylight
occupied minutes that separate models which extrapolate in Light from those which do not. Every gate decision is
made on exactly these 2,665 rows, identified by the dataset id and by the SHA-256 of the file.

Finding or creating it is idempotent: an existing published version whose content hash matches is reused; two
processes racing to create it both end up using the oldest matching version.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from clearml import Dataset

from .readings import read_readings, uci
from .schema import COLUMNS, TIMESTAMP

logger = logging.getLogger(__name__)

HOLDOUT_NAME = "holdout-test1"
HOLDOUT_TAG = "holdout"
HOLDOUT_FILE = "test1.csv"


@dataclass(frozen=True)
class Holdout:
    dataset_id: str
    sha256: str
    readings: pd.DataFrame


def holdout_csv() -> bytes:
    """Test 1 as a labeling-session CSV, byte for byte the same on every machine."""
    out = uci("test1")[list(COLUMNS)].copy()
    out[TIMESTAMP] = out[TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def ensure_holdout(project: str) -> str:
    """The id of the published holdout version in `project`, registering it on first use."""
    content = holdout_csv()
    digest = hashlib.sha256(content).hexdigest()
    existing = _matching_versions(project, digest)
    if existing:
        return existing[0]
    with tempfile.TemporaryDirectory(prefix="occuloop-holdout-") as folder:
        path = Path(folder) / HOLDOUT_FILE
        path.write_bytes(content)
        version = Dataset.create(dataset_project=project, dataset_name=HOLDOUT_NAME, dataset_tags=[HOLDOUT_TAG])
        version.add_files(str(path))
        version.set_metadata({"sha256": digest, "rows": content.count(b"\n") - 1, "source": "UCI datatest.txt"})
        version.upload()
        version.finalize()
        version.publish()
    logger.info("event=holdout_registered dataset_id=%s sha256=%s", version.id, digest)
    return _matching_versions(project, digest)[0]  # the oldest, if another process registered one meanwhile


def _matching_versions(project: str, digest: str) -> list[str]:
    listed = Dataset.list_datasets(
        dataset_project=project, partial_name=HOLDOUT_NAME, tags=[HOLDOUT_TAG], only_completed=True
    )
    matching = []
    for item in sorted(listed, key=lambda entry: entry["created"]):
        if item["name"] != HOLDOUT_NAME:
            continue
        metadata = Dataset.get(dataset_id=item["id"]).get_metadata()
        if isinstance(metadata, dict) and metadata.get("sha256") == digest:
            matching.append(str(item["id"]))
    return matching


def load_holdout(dataset_id: str) -> Holdout:
    folder = Path(Dataset.get(dataset_id=dataset_id).get_local_copy())
    content = (folder / HOLDOUT_FILE).read_bytes()
    return Holdout(dataset_id, hashlib.sha256(content).hexdigest(), read_readings(folder / HOLDOUT_FILE))
