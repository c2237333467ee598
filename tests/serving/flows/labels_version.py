"""A labeling session arrives the way the sync publishes one: a finalized version of the labeled dataset, tagged
Production. argv: a session CSV[, dataset project, dataset name]. Prints `RESULT {"dataset_id": ...}`."""

import json
import sys

from clearml import Dataset

project = sys.argv[2] if len(sys.argv) > 2 else "occuloop/labels"
name = sys.argv[3] if len(sys.argv) > 3 else "labeled"
dataset = Dataset.create(dataset_project=project, dataset_name=name)
dataset.add_files(sys.argv[1])
dataset.upload()
dataset.finalize()
dataset.add_tags(["Production"])
print("RESULT " + json.dumps({"dataset_id": dataset.id}))
