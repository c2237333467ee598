"""Model states as tags, and the plain record of a registered model the rollout code passes around.

A model carries exactly one state tag at a time (other tags are kept):
    candidate   registered by a training run, not yet gated
    canary      passed the gate, receiving part of the traffic while the controller ramps it
    champion    the model the champion pointer names; serving follows the pointer
    rejected    refused by the gate, or rolled back by the canary controller
    retired     was champion, replaced by a promotion or a rollback
The tag is for people and for `Model.query_models(tags=[...])`; the pointer (registry.ChampionPointer) is the
authority on which model is champion. Keeping the tag unique also means a stock clearml-serving
`model auto-update --tags champion --max-versions 1` would follow it, despite ordering by creation time (C15).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CANDIDATE, CANARY, CHAMPION, REJECTED, RETIRED = "candidate", "canary", "champion", "rejected", "retired"
STATES = (CANDIDATE, CANARY, CHAMPION, REJECTED, RETIRED)


def state_of(tags: tuple[str, ...] | list[str]) -> str | None:
    found = [tag for tag in tags if tag in STATES]
    return found[-1] if found else None


def with_state(tags: tuple[str, ...] | list[str], state: str) -> list[str]:
    """The tags with every state tag replaced by `state` (order of the other tags kept)."""
    if state not in STATES:
        raise ValueError(f"unknown model state {state!r}")
    return [tag for tag in tags if tag not in STATES] + [state]


@dataclass(frozen=True)
class ModelRecord:
    """What the rollout code needs to know about a registered model (read once, from the server)."""

    model_id: str
    name: str
    tags: tuple[str, ...]
    training_task_id: str | None
    created: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)  # the training run's model card (lineage, data size)

    @property
    def state(self) -> str | None:
        return state_of(self.tags)

    def log_fields(self, prefix: str = "") -> dict[str, Any]:
        """`model_id`, `dataset_id` and `dataset_version` for a log line, keys prefixed for a second model."""
        lineage = self.lineage()
        return {f"{prefix}{key}": lineage[key] for key in ("model_id", "dataset_id", "dataset_version")}

    def lineage(self) -> dict[str, Any]:
        card = self.card
        return {
            "model_id": self.model_id,
            "name": self.name,
            "state": self.state,
            "created": self.created,
            "training_task_id": self.training_task_id,
            "dataset_id": card.get("dataset_id", self.metadata.get("dataset_id")),
            "dataset_version": card.get("dataset_version", self.metadata.get("dataset_version")),
            "labeling_sessions": card.get("labeling_sessions"),
            "rows": card.get("rows"),
            "occupied": card.get("occupied"),
            "code_version": card.get("code_version", self.metadata.get("code_version")),
        }


def model_fields(record: ModelRecord | None, prefix: str = "") -> dict[str, Any]:
    """A model's log fields (`ModelRecord.log_fields`), or `<prefix>model_id=none` when there is none."""
    return record.log_fields(prefix) if record is not None else {f"{prefix}model_id": None}
