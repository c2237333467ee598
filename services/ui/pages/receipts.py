"""`/receipts` (every decision, newest first) and `/receipts/{id}`: the decision, who decided, every rule with its
threshold and result, both models' metrics with 95 % CIs, the paired differences, the pinned holdout's id and
SHA-256, the forward rows (a gate's evidence on the session(s) its challenger's run held out), the pointer's move, a canary window's evidence, and "verified" only when the stored artifact's digest
equals the one the pointer or the model recorded."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from ..joins import DECISIONS, Pointer, Receipt, verify
from ..reads import reader_of
from ..rendering import NotFound, choice_param, int_param, renderer_of

PAGE_SIZE = 100


def listing(request: Request) -> Response:
    reader = reader_of(request)
    decision = choice_param(request, "decision", "all", ("all", *DECISIONS))
    page = int_param(request, "page", 0, high=100_000)
    receipts = [Receipt.of(task) for task in reader.receipt_tasks(page=page, page_size=PAGE_SIZE)]
    more = len(receipts) == PAGE_SIZE
    if decision != "all":  # the decision is a parameter value, not a field the server filters on
        receipts = [item for item in receipts if item.decision == decision]
    data = {"receipts": receipts, "decision": decision, "decisions": ("all", *DECISIONS), "page": page, "more": more}
    return renderer_of(request).page(request, "receipts.html", data, title="Decision receipts")


def detail(request: Request) -> Response:
    reader = reader_of(request)
    receipt_id = request.path_params["receipt_id"]
    task = next(iter(reader.receipt_tasks(ids=[receipt_id])), None)
    if task is None:
        raise NotFound("receipt", receipt_id)
    bare = Receipt.of(task)
    raw = reader.receipt_raw(bare.uri) if bare.uri else b""
    receipt = Receipt.of(task, reader.receipt(bare.id, bare.uri) if bare.uri else {})
    model = reader.model(receipt.model_id) if receipt.model_id else None
    check = verify(receipt.id, hashlib.sha256(raw).hexdigest(), Pointer.of(reader.pointer()), model)
    data = {"receipt": receipt, "document": receipt.document, "verification": check, "task": task}
    title = f"Receipt: {receipt.decision.replace('_', ' ')}"
    return renderer_of(request).page(request, "receipt.html", data, title=title)
