"""The rollout state as the SDK sees it: the champion pointer, models' state tags and every verified receipt."""

import json
import sys

from clearml import Model, Task

from services.rollout.registry import Registry
from services.settings import RolloutSettings

model_ids = sys.argv[1:]
registry = Registry(RolloutSettings())
pointer = registry.pointer.read()
receipts = []
for receipt_id in registry.receipts():
    receipt = registry.read_receipt(receipt_id)  # raises if the content does not match its recorded SHA-256
    task = Task.get_task(task_id=receipt_id)
    receipts.append({"id": receipt_id, "status": str(task.get_status()), "receipt": receipt})
result = {
    "pointer": {**pointer.__dict__, "history": list(pointer.history), "task_id": registry.pointer.task_id},
    "tags": {model_id: list(Model(model_id=model_id).tags) for model_id in model_ids},
    "receipts": receipts,
}
print("RESULT " + json.dumps(result, default=str))
