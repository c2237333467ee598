"""The clearml-serving control plane as occuloop's settings describe it: what `occuloop serving` and the rollout
controller both open (`serving.endpoints` takes plain values, since `serving/` does not import `services/`)."""

from __future__ import annotations

from serving.endpoints import ServingPlane, ensure_control_plane, find_control_plane

from .settings import ServingSettings


def engine_options(settings: ServingSettings) -> dict[str, float]:
    """What each version registered from now on reads from its endpoint options (the engine reads nothing else)."""
    return {"prediction_log_rate": settings.prediction_log_rate, "metrics_seconds": settings.metrics_seconds}


def ensure_plane(settings: ServingSettings) -> ServingPlane:
    """The control-plane task named in the settings, created with the endpoint when missing."""
    return ensure_control_plane(
        settings.service_name,
        settings.service_project,
        endpoint=settings.endpoint,
        engine_options=engine_options(settings),
    )


def find_plane(settings: ServingSettings) -> ServingPlane | None:
    return find_control_plane(settings.service_name, settings.service_project, endpoint=settings.endpoint)
