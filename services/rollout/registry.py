"""The rollout code's edge to the ClearML server: models and their state tags, their holdout predictions, the
champion pointer, the canary controller's progress and the write-once decision receipts. The other modules of
services/rollout that talk to ClearML are `live_labels.py` (the labeled dataset) and `command.py` (the gate task,
the control plane); the controller reaches the server only through its seams (seams.py), decisions.py only
through a Registry it is given, and the rules, receipts, states and assessments are plain data and pure functions.

Where the champion pointer lives. ClearML has no model alias, and clearml-serving's auto-update picks models by
creation time (C15), so "the champion" must be a record of its own on the server. It is a dedicated draft task,
`champion <model name>` in the rollout project (tag `champion-pointer`), whose hyper-parameter section `Champion`
holds `model_id`, `revision`, `decision_id` (the receipt task of the move), `receipt_sha256`, `updated` and
`history` (earlier champions, newest last). Why a task: it survives server restarts, works unchanged against
a real ClearML server (a draft task's parameters are editable through the ordinary API), is visible and
diffable in the UI, and reading it is one cheap call that serving can poll every few seconds. The model's
`champion` tag mirrors it for people; the pointer is the authority.

Moves are compare-and-set on `revision`: read, check the revision the decision was taken against, write, read
back. ClearML offers no atomic conditional update, so two writers within the same instant could both succeed;
decisions are serialised in practice by running gates from one queue (see README, "Gate and promotion").

Receipts. Each decision is its own task in `<project>/receipts` (type qc): the receipt JSON as artifact `receipt`
(canonical bytes, so the SHA-256 the SDK records equals `receipts.digest`), a table plot, then the task is
completed and published (read-only). A receipt is written once: sealing refuses a task that already has one.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from clearml import InputModel, Model, Task

from training.forward import FORWARD_ARTIFACT
from training.holdout import Holdout, ensure_holdout, load_holdout
from training.schema import TIMESTAMP

from ..settings import RolloutSettings
from . import receipts
from .assessment import CHALLENGER as CHALLENGER_ROLE
from .assessment import CHAMPION as CHAMPION_ROLE
from .assessment import ForwardRows
from .states import CANARY, CANDIDATE, ModelRecord, with_state

logger = logging.getLogger(__name__)

POINTER_SECTION = "Champion"
POINTER_TAG = "champion-pointer"
RECEIPT_ARTIFACT = "receipt"
PROGRESS = "canary_progress"  # model metadata the canary controller keeps: ramping | rolling_back | done
STEPS = "canary_steps"  # ... and the steps it took, JSON [{"weight": 0.1, "at": ISO time}, ...], for people (the UI)
HISTORY_LIMIT = 100
GATE_DECISIONS = ("gate_passed", "gate_failed")


class RolloutError(RuntimeError):
    """A decision cannot be taken (unknown model, wrong state, nothing to roll back to); the message says why."""


class PointerConflict(RolloutError):
    """The champion pointer moved since the decision read it; the decision must be re-taken."""


@dataclass(frozen=True)
class PointerState:
    model_id: str | None
    revision: int
    decision_id: str | None
    receipt_sha256: str | None
    updated: str | None
    history: tuple[str, ...]  # earlier champions, newest last


class ChampionPointer:
    """The explicit champion pointer (see the module docstring for why a draft task)."""

    def __init__(self, project: str, model_name: str) -> None:
        self.project = project
        self.name = f"champion {model_name}"
        self._task_id: str | None = None

    def _task(self) -> Any:
        if self._task_id is None:
            self._task_id = self._find() or self._create()
        return Task.get_task(task_id=self._task_id)

    def _find(self) -> str | None:
        found: list[Any] = Task.get_tasks(
            project_name=self.project,
            task_name=f"^{self.name}$",
            tags=[POINTER_TAG],
            task_filter={"order_by": ["created"], "only_fields": ["id", "created"]},
        )
        return str(found[0].id) if found else None  # the oldest, if two processes raced to create it

    def _create(self) -> str:
        task: Any = Task.create(
            project_name=self.project,
            task_name=self.name,
            task_type="controller",
            detect_repository=False,
            packages=[],
            add_task_init_call=False,
        )
        task.set_tags([POINTER_TAG])
        task.set_parameters(_pointer_parameters(PointerState(None, 0, None, None, None, ())))
        logger.info("event=pointer_created pointer_task=%s name=%s", task.id, self.name)
        return self._find() or str(task.id)

    @property
    def task_id(self) -> str:
        return str(self._task().id)

    def read(self) -> PointerState:
        values = self._task().get_parameters(cast=False) or {}

        def get(key: str) -> str:
            return str(values.get(f"{POINTER_SECTION}/{key}") or "")

        history = json.loads(get("history") or "[]")
        return PointerState(
            model_id=get("model_id") or None,
            revision=int(get("revision") or 0),
            decision_id=get("decision_id") or None,
            receipt_sha256=get("receipt_sha256") or None,
            updated=get("updated") or None,
            history=tuple(str(item) for item in history),
        )

    def move(self, expected_revision: int, model_id: str, decision_id: str, receipt_sha256: str) -> PointerState:
        current = self.read()
        if current.revision != expected_revision:
            raise PointerConflict(
                f"champion pointer is at revision {current.revision} ({current.model_id}), the decision was taken "
                f"at revision {expected_revision}"
            )
        history = list(current.history)
        if current.model_id and current.model_id != model_id:
            history = [*history, current.model_id][-HISTORY_LIMIT:]
        moved = PointerState(
            model_id=model_id,
            revision=expected_revision + 1,
            decision_id=decision_id,
            receipt_sha256=receipt_sha256,
            updated=datetime.now(UTC).isoformat(timespec="seconds"),
            history=tuple(history),
        )
        self._task().set_parameters(_pointer_parameters(moved))
        after = self.read()
        if after.decision_id != decision_id or after.revision != moved.revision:
            raise PointerConflict(f"champion pointer was moved concurrently (now {after.model_id}, {after.revision})")
        return after


def _pointer_parameters(state: PointerState) -> dict[str, str]:
    values = {
        "model_id": state.model_id or "",
        "revision": str(state.revision),
        "decision_id": state.decision_id or "",
        "receipt_sha256": state.receipt_sha256 or "",
        "updated": state.updated or "",
        "history": json.dumps(list(state.history)),
    }
    return {f"{POINTER_SECTION}/{key}": value for key, value in values.items()}


class Registry:
    """Models, predictions, the pointer and receipts on one ClearML server, for one model name."""

    def __init__(self, settings: RolloutSettings) -> None:
        self.settings = settings
        self.pointer = ChampionPointer(settings.project, settings.model_name)
        self._holdout: Holdout | None = None

    # -- models ------------------------------------------------------------------------------------------------

    def model(self, model_id: str) -> ModelRecord:
        model = Model(model_id=model_id)
        if model._get_model_data() is None:  # the SDK logs the 400 and returns nothing for an unknown id
            raise RolloutError(f"no model {model_id} on the server")
        name = str(model.name)
        task_id = str(model.task) if model.task else None
        created: Any = getattr(model._get_model_data(), "created", None)
        metadata = {key: str(entry.get("value")) for key, entry in (model.get_all_metadata() or {}).items()}
        return ModelRecord(
            model_id=str(model.id),
            name=name,
            tags=tuple(model.tags or ()),
            training_task_id=task_id,
            created=created.isoformat() if hasattr(created, "isoformat") else None,
            metadata=metadata,
            card=self._card(task_id),
        )

    def _card(self, task_id: str | None) -> dict[str, Any]:
        if not task_id:
            return {}
        artifact: Any = Task.get_task(task_id=task_id).artifacts.get("model_card")
        card = artifact.get() if artifact is not None else None
        return dict(card) if isinstance(card, dict) else {}

    def latest_candidate(self) -> ModelRecord | None:
        """The newest model still tagged `candidate` (the one a just-finished training run registered)."""
        found = Model.query_models(model_name=self.settings.model_name, tags=[CANDIDATE], max_results=1)
        return self.model(str(found[0].id)) if found else None

    def canaries(self) -> list[str]:
        """The models tagged `canary`, newest first."""
        found = Model.query_models(model_name=self.settings.model_name, tags=[CANARY], max_results=20)
        return [str(model.id) for model in found]

    def progress(self, model_id: str) -> str:
        """The canary controller's progress with a model (metadata `canary_progress`): ramping | rolling_back |
        done, or "" when it never ramped."""
        return str(Model(model_id=model_id).get_metadata(PROGRESS) or "")

    def set_progress(self, model_id: str, value: str) -> None:
        Model(model_id=model_id).set_metadata(PROGRESS, value, "str")

    def record_step(self, model_id: str, weight: float) -> None:
        """Append a step the canary began to the model's `canary_steps` (its time is the wall clock's now)."""
        model = Model(model_id=model_id)
        steps = json.loads(str(model.get_metadata(STEPS) or "[]"))
        steps.append({"weight": weight, "at": datetime.now(UTC).isoformat(timespec="seconds")})
        model.set_metadata(STEPS, json.dumps(steps, separators=(",", ":")), "str")

    def set_state(self, record: ModelRecord, state: str, decision_id: str) -> None:
        model = Model(model_id=record.model_id)
        model.tags = with_state(list(model.tags or ()), state)
        model.set_metadata("state", state, "str")
        model.set_metadata("state_decision_id", decision_id, "str")
        logger.info("event=model_state model_id=%s state=%s decision_id=%s", record.model_id, state, decision_id)

    # -- holdout and predictions -------------------------------------------------------------------------------

    def holdout(self) -> Holdout:
        if self._holdout is None:
            self._holdout = load_holdout(ensure_holdout(self.settings.holdout_project))
        return self._holdout

    def predictions(self, record: ModelRecord, *, rescore: bool = False) -> tuple[npt.NDArray[np.float64], str]:
        """P(occupied) per pinned-holdout row, and where it came from.

        A training run stores its model's predictions on the holdout it was scored on (artifact
        `holdout_predictions`); when that holdout is byte-identical to the pinned one (same SHA-256, so same rows
        in the same order) those predictions are the model's, and reusing them spares a 3-4 s TensorFlow import
        and ~600 MB per gate (the training contract test checks that the SavedModel reproduces them to 1e-5).
        Otherwise — another holdout version, no artifact, or `rescore` — the package is loaded and run."""
        holdout = self.holdout()
        same_holdout = (record.card.get("holdout") or {}).get("sha256") == holdout.sha256
        if same_holdout and not rescore and record.training_task_id:
            artifact: Any = Task.get_task(task_id=record.training_task_id).artifacts.get("holdout_predictions")
            stored = artifact.get() if artifact is not None else None
            if isinstance(stored, dict) and len(stored.get("probabilities", ())) == len(holdout.readings):
                return np.asarray(stored["probabilities"], dtype=np.float64), "holdout_predictions artifact"
        return self._score_package(record.model_id, holdout.readings), "SavedModel package"

    @staticmethod
    def _score_package(model_id: str, readings: pd.DataFrame) -> npt.NDArray[np.float64]:
        from training.model import load_package  # TensorFlow: only when a model really has to be run

        folder = Path(InputModel(model_id=model_id).get_local_copy(extract_archive=True))
        package = load_package(folder)
        return package.predict(package.spec.transform(readings))

    def forward_rows(self, challenger: ModelRecord, champion: ModelRecord | None) -> ForwardRows | str:
        """The newest session(s) the challenger's training run held out of fitting, with the challenger's and the
        champion's predictions there; or why there are none.

        The training run stores its rows and predictions (artifact `forward_predictions`), and the champion's too
        when it found one by its `champion` tag. If that is not the champion the pointer names now (it moved
        meanwhile), the champion's SavedModel is loaded and run on the rows here (TensorFlow: 3-4 s, ~600 MB)."""
        summary = challenger.card.get("forward")
        if not isinstance(summary, dict):
            return "the challenger's training run predates the forward hold-out"
        if not summary.get("sessions"):
            return str(summary.get("reason") or "the training run held no session out")
        if not challenger.training_task_id:
            return "the challenger has no training task to read its forward rows from"
        artifact: Any = Task.get_task(task_id=challenger.training_task_id).artifacts.get(FORWARD_ARTIFACT)
        stored = artifact.get() if artifact is not None else None
        if not isinstance(stored, dict) or not stored.get("readings"):
            return f"the training run stored no {FORWARD_ARTIFACT} artifact"
        readings = pd.DataFrame(stored["readings"])
        readings[TIMESTAMP] = pd.to_datetime(readings[TIMESTAMP])
        sessions = tuple(str(name) for name in stored["sessions"])
        sources = {CHALLENGER_ROLE: f"{FORWARD_ARTIFACT} artifact ({stored['challenger_model']})"}
        notes: list[str] = []
        theirs = None
        if champion is not None:
            kept = stored.get("champion") or {}
            if kept.get("model_id") == champion.model_id and len(kept.get("probabilities", ())) == len(readings):
                theirs, sources[CHAMPION_ROLE] = (
                    np.asarray(kept["probabilities"], dtype=np.float64),
                    f"{FORWARD_ARTIFACT} artifact",
                )
            else:
                theirs, sources[CHAMPION_ROLE] = self._score_package(champion.model_id, readings), "SavedModel package"
            trained_on = set(champion.card.get("labeling_sessions") or ()) & set(sessions)
            if trained_on:
                notes.append(
                    f"the champion was trained on {', '.join(sorted(trained_on))}: its forward score is not forward"
                )
        return ForwardRows(
            sessions=sessions,
            sha256=str(stored.get("sha256", "")),
            readings=readings,
            challenger=np.asarray(stored["challenger"], dtype=np.float64),
            challenger_model=str(stored["challenger_model"]),
            champion=theirs,
            sources=sources,
            notes=tuple(notes),
        )

    # -- receipts ----------------------------------------------------------------------------------------------

    def open_receipt(self, decision: str, model_id: str) -> Any:
        """A draft task that will hold the receipt; its id is the decision id the pointer records."""
        task: Any = Task.create(
            project_name=f"{self.settings.project}/receipts",
            task_name=f"{decision} {model_id}",
            task_type="qc",
            detect_repository=False,
            packages=[],
            add_task_init_call=False,
        )
        task.set_tags([decision])
        return task

    def seal_receipt(self, task: Any, receipt: dict[str, Any], model_id: str) -> str:
        """Store the receipt once, render it, and make the task read-only. Returns the receipt's SHA-256."""
        task.reload()
        if RECEIPT_ARTIFACT in task.artifacts:
            raise RolloutError(f"receipt task {task.id} already holds a receipt; receipts are written once")
        content = receipts.canonical(receipt)
        with tempfile.TemporaryDirectory(prefix="occuloop-receipt-") as folder:
            path = Path(folder) / "receipt.json"
            path.write_bytes(content)
            task.upload_artifact(RECEIPT_ARTIFACT, artifact_object=path, wait_on_upload=True)
        task.get_logger().report_table("receipt", receipt["decision"], iteration=0, table_plot=receipts.table(receipt))
        task.set_parameters(
            {"Receipt/decision": receipt["decision"], "Receipt/model_id": model_id, "Receipt/rule": receipt["rule"]}
        )
        task.flush(wait_for_uploads=True)
        task.mark_completed(force=True, status_message=receipt["rule"])
        task.publish(ignore_errors=False)
        # a second copy of the digest outside the receipt task: the SDK edits artifacts with force=True, which
        # publication does not stop, so the task's own record is not the only evidence
        digest = receipts.digest(receipt)
        model = Model(model_id=model_id)
        model.set_metadata("last_receipt", str(task.id), "str")
        model.set_metadata("last_receipt_sha256", digest, "str")
        return digest

    def discard_receipt(self, task: Any) -> None:
        """A decision that lost a race leaves no half-written receipt behind."""
        task.delete(raise_on_error=False)

    def read_receipt(self, receipt_task_id: str) -> dict[str, Any]:
        """The stored receipt, checked against the SHA-256 recorded in the (published) task."""
        artifact: Any = Task.get_task(task_id=receipt_task_id).artifacts[RECEIPT_ARTIFACT]
        content = Path(artifact.get_local_copy()).read_bytes()
        receipt = dict(json.loads(content))
        if artifact.hash and receipts.digest(receipt) != artifact.hash:
            raise RolloutError(f"receipt {receipt_task_id} does not match its recorded SHA-256")
        return receipt

    def gate_receipts(self) -> dict[tuple[str, str], int]:
        """How many sealed gate receipts the server holds, by (decision, deciding rule): the gate's record, which
        the canary controller exports (services/rollout/metrics.py)."""
        found: list[Any] = Task.query_tasks(
            project_name=f"{self.settings.project}/receipts",
            tags=list(GATE_DECISIONS),  # a plain list: any of them
            task_filter={"status": ["published"]},
            additional_return_fields=["tags", "hyperparams"],
        )
        counts: dict[tuple[str, str], int] = {}
        for task in found:
            decision = next((tag for tag in task.get("tags") or () if tag in GATE_DECISIONS), None)
            if decision is None:
                continue
            rule = ((task.get("hyperparams") or {}).get("Receipt") or {}).get("rule")  # the SDK's ParamsItem
            value = rule.get("value") if isinstance(rule, dict) else getattr(rule, "value", None)
            key = (decision, str(value or "unknown"))
            counts[key] = counts.get(key, 0) + 1
        return counts

    def receipts(self, model_id: str | None = None) -> list[str]:
        """Receipt task ids, oldest first (optionally only those about one model)."""
        found: list[Any] = Task.get_tasks(
            project_name=f"{self.settings.project}/receipts",
            task_name=f" {model_id}$" if model_id else None,
            task_filter={"order_by": ["created"], "status": ["published"], "only_fields": ["id", "created"]},
        )
        return [str(task.id) for task in found]
