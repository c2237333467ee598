"""What makes a long-running service a ClearML service task: its name and parameter section, its settings type and
the module clearml-agent runs. Kept free of the service's own imports, so the services agent can register every
service without loading them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..settings import LogSettings
from .decisions import Registration
from .parameters import Parameter, to_parameters

TAG_PREFIX = "occuloop-service:"  # + the service's name, on its task: how registration finds it again


@dataclass(frozen=True)
class ServiceTaskSpec:
    name: str  # sync | trigger | rollout
    section: str  # the parameter section in the UI: Sync, Trigger, Rollout
    settings_type: type[Any]  # the frozen settings dataclass, with `from_env(environ)`
    module: str  # what clearml-agent runs: `python -m <module>`
    log_of: Callable[[Any], LogSettings]  # where its settings keep the log settings
    excluded: frozenset[str] = field(default_factory=frozenset)  # settings that are not the task's to carry

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.name}"

    @property
    def task_name(self) -> str:
        return f"occuloop {self.name}"

    def parameters(self, settings: Any) -> list[Parameter]:
        return to_parameters(self.section, settings, excluded=self.excluded)

    def registration(self, settings: Any, queue: str) -> Registration:
        return Registration({item.key: item.value for item in self.parameters(settings)}, queue)
