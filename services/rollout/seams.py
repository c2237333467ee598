"""What the canary controller talks to, as Protocols: the serving plane, the model registry, the promoter and the
live labels. The production implementations are `serving.endpoints.ServingPlane`, `registry.Registry`,
`decisions.Rollout` and `live_labels.DatasetLabels`; the controller's unit tests pass fakes of these, so the
controller itself runs unchanged against a fake clock. Nothing here does anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from serving.endpoints import Routing, VersionMetrics

    from .decisions import Outcome
    from .registry import PointerState
    from .states import ModelRecord


class ServingPlane(Protocol):
    """The clearml-serving control plane: versions `<endpoint>/<n>`, the public endpoint's weights, live metrics."""

    @property
    def service_id(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    def current_routing(self) -> Routing: ...

    def register_version(self, model_id: str) -> int: ...

    def set_canary(self, weights: Mapping[int, float]) -> Routing: ...

    def read_metrics(self) -> dict[int, VersionMetrics]: ...

    def read_served_minutes(self, limit: int = ...) -> dict[int, list[dict[str, Any]]]: ...


class PointerReader(Protocol):
    def read(self) -> PointerState: ...


class ReceiptTask(Protocol):
    @property
    def id(self) -> str: ...


class CanaryRegistry(Protocol):
    """Models, their state tags and ramp progress, the champion pointer and the receipts, on the server."""

    @property
    def pointer(self) -> PointerReader: ...

    def model(self, model_id: str) -> ModelRecord: ...

    def canaries(self) -> list[str]: ...

    def progress(self, model_id: str) -> str: ...

    def set_progress(self, model_id: str, value: str) -> None: ...

    def record_step(self, model_id: str, weight: float) -> None: ...

    def set_state(self, record: ModelRecord, state: str, decision_id: str) -> None: ...

    def open_receipt(self, decision: str, model_id: str) -> Any: ...

    def seal_receipt(self, task: Any, receipt: dict[str, Any], model_id: str) -> str: ...

    def gate_receipts(self) -> dict[tuple[str, str], int]: ...


class Promoter(Protocol):
    """Makes a model champion with a receipt (decisions.Rollout.promote)."""

    def promote(self, model_id: str, reason: str = ..., *, rule: str = ...) -> Outcome: ...


class LabelSource(Protocol):
    """minute -> label of the served minutes whose labels have arrived (live_labels.DatasetLabels)."""

    def current(self) -> Mapping[str, int]: ...
