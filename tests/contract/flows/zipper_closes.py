"""How often the SDK's upload closes each of its zip files: the pinned SDK (clearml 2.1.12, `ParallelZipper`) merges
the partial zips of several workers and closes each merged one twice (`close()`, then `delete()`), and a second
close can hit a descriptor another thread has opened since. `how`: `sync` uploads as the sync does
(`Draft.add_and_upload`), `workers` as the SDK does with four workers (the control: it shows the double close)."""

import json
import random
import sys
import tempfile
from pathlib import Path

from clearml.utilities.parallel import ParallelZipper

from services.clearml_gateway import DatasetGateway

closes: dict[int, int] = {}
original_close = ParallelZipper.ZipperObject.close


def counting_close(zipper: ParallelZipper.ZipperObject) -> None:
    closes[id(zipper)] = closes.get(id(zipper), 0) + 1
    original_close(zipper)


ParallelZipper.ZipperObject.close = counting_close
project, name, how = sys.argv[1:]
scratch = Path(tempfile.mkdtemp())
rows = random.Random(7)
files = {}
for day in range(6):
    path = scratch / "in" / f"day{day}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("".join(f"{day},{minute},{rows.random():.6f}\n" for minute in range(5000)))
    files[path.name] = path
draft = DatasetGateway(project, name).open_draft("zip-test")
if how == "sync":
    draft.add_and_upload(files, scratch / "batch")
else:
    draft._dataset.add_files(str(scratch / "in"), verbose=False)
    draft._dataset.upload(show_progress=False, verbose=False, max_workers=4)
counts = list(closes.values())
print("RESULT " + json.dumps({"zippers": len(counts), "closed_twice": sum(1 for count in counts if count > 1)}))
