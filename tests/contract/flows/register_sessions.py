"""Register labeling-session CSV files as one finalized dataset version (parent: the latest finalized one)."""

import json
import sys

from clearml import Dataset

project, name, *files = sys.argv[1:]
version = Dataset.get(dataset_project=project, dataset_name=name, auto_create=True, writable_copy=True)
for path in files:
    version.add_files(path)
version.upload()
version.finalize()
print("RESULT " + json.dumps({"id": version.id, "version": version.version}))
