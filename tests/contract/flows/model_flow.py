"""OutputModel upload + publish + tags, Model.query_models, InputModel.get_local_copy."""

import json
import sys
from pathlib import Path

from clearml import InputModel, Model, OutputModel, Task

project, payload = sys.argv[1], sys.argv[2]
task = Task.init(
    project_name=project,
    task_name="train-model",
    output_uri=True,
    auto_connect_frameworks=False,
    auto_resource_monitoring=False,
)
with open("model.bin", "w") as handle:
    handle.write(payload)
output = OutputModel(task=task, name="occupancy", framework="Keras", tags=["candidate"])
output.update_weights("model.bin")
output.wait_for_uploads()  # the upload finishes in the background and then rewrites the model's fields
output.publish()
Model(output.id).tags = ["candidate", "champion"]
found = Model.query_models(project_name=project, model_name="occupancy", tags=["champion"], only_published=True)
local = InputModel(output.id).get_local_copy()
result = {
    "id": output.id,
    "url": output.url,
    "found": [model.id for model in found],
    "tags": Model(output.id).tags,
    "published": Model(output.id).published,
    "content": Path(local).read_text(),
}
task.close()
print("RESULT " + json.dumps(result))
