"""Two dataset versions (the second a child of the first), tags, merged local copy, listing."""

import json
import os
import sys
from pathlib import Path

from clearml import Dataset

project, name = sys.argv[1], sys.argv[2]
work = Path("dataset-files")
(work / "v1").mkdir(parents=True, exist_ok=True)
(work / "v2").mkdir(parents=True, exist_ok=True)
(work / "v1" / "day1.csv").write_text("date,Occupancy\n2015-02-04 17:51:00,1\n")
(work / "v2" / "day2.csv").write_text("date,Occupancy\n2015-02-05 00:00:00,0\n")

first = Dataset.get(dataset_project=project, dataset_name=name, auto_create=True, writable_copy=True)
first.add_files(str(work / "v1"))
first.upload()
first.tags = ["Production"]
first.finalize(auto_upload=True)

second = Dataset.get(dataset_project=project, dataset_name=name, auto_create=True, writable_copy=True)
inherited_tags = list(second.tags)
second.add_files(str(work / "v2"))
second.finalize(auto_upload=True)

merged = Dataset.get(dataset_id=second.id).get_local_copy()
latest = Dataset.get(dataset_project=project, dataset_name=name, only_completed=True)
listed = Dataset.list_datasets(dataset_project=project)
result = {
    "first": first.id,
    "second": second.id,
    "second_parents": Dataset.get(dataset_id=second.id)._get_parents(),
    "inherited_tags": inherited_tags,
    "merged_files": sorted(os.listdir(merged)),
    "latest": latest.id,
    "latest_version": latest.version,
    "listed": sorted((item["id"], item["version"]) for item in listed),
}
print("RESULT " + json.dumps(result, default=str))
