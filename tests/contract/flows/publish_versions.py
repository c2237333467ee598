"""Finalize dataset versions one after another, at random moments, as a sync service would: each one a child of
the latest, its inherited tags replaced by `tags` (comma-separated; empty for none) after finalizing.

    publish_versions.py PROJECT NAMES COUNT MAX_PAUSE SEED TAGS     # NAMES: comma-separated, used in turn
"""

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from clearml import Dataset

project, names, count, max_pause, seed, tags = sys.argv[1:]
rng = random.Random(int(seed))
folder = Path(tempfile.mkdtemp())
published = []
for index in range(int(count)):
    name = names.split(",")[index % len(names.split(","))]
    version = Dataset.get(dataset_project=project, dataset_name=name, auto_create=True, writable_copy=True)
    version.tags = []
    sample = folder / f"session-{index}.csv"
    sample.write_text(f"date,Occupancy\n2015-03-01 00:{index % 60:02d}:00,0\n")
    version.add_files(str(sample))
    version.upload()
    version.finalize()
    version.tags = [tag for tag in tags.split(",") if tag]
    published.append({"id": version.id, "name": name})
    print(f"published {index} {version.id}", flush=True)
    time.sleep(rng.uniform(0, float(max_pause)))
print("RESULT " + json.dumps({"versions": published}))
