"""A service's settings as the parameters of its ClearML service task, and back.

Each declared setting (services/setting.py; nested groups flattened with dots: `rollout.gate.min_days`) becomes one
parameter `<Section>/<field>` whose value is the text the environment would hold, written and read by the setting's
own kind, so a value edited in any ClearML UI is checked exactly like the variable, and a wrong one names its
parameter. The description says what the value does and which variable it stands for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..setting import NESTED, SETTING, Flag, Integer, Location, Number, Setting, SettingsError, Words

S = TypeVar("S")


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter as ClearML stores it (`{section, name, value, type, description}`)."""

    section: str
    name: str
    value: str
    type: str
    description: str

    @property
    def key(self) -> str:
        return f"{self.section}/{self.name}"


@dataclass(frozen=True)
class _Leaf:
    name: str  # dotted path below the section
    setting: Setting
    default: Any


def _leaves(cls: type, prefix: str = "") -> Iterator[_Leaf]:
    for item in dataclasses.fields(cls):
        if SETTING in item.metadata:
            yield _Leaf(f"{prefix}{item.name}", item.metadata[SETTING], item.default)
        elif NESTED in item.metadata:
            yield from _leaves(type(item.default), f"{prefix}{item.name}.")


def _value_at(settings: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        settings = getattr(settings, part)
    return settings


def _type_name(setting: Setting) -> str:
    kinds = ((Flag, "bool"), (Integer, "int"), (Number, "float"), (Location, "path"), (Words, "list"))
    return next((name for kind, name in kinds if isinstance(setting.kind, kind)), "str")


def _parse(key: str, leaf: _Leaf, raw: str) -> Any:
    if raw.strip() == "":
        return leaf.setting.kind.default(leaf.default)  # as for an empty variable: the declared default
    if isinstance(leaf.setting.kind, Location) and not raw.strip().startswith("/"):
        # clearml-agent runs the task in a directory of its own: a relative path would point somewhere else
        raise SettingsError(f"{key}={raw!r}: expected an absolute path")
    return leaf.setting.parse(key, raw.strip())


def to_parameters(section: str, settings: Any, *, excluded: frozenset[str] = frozenset()) -> list[Parameter]:
    """Every declared setting of `settings` but the excluded ones, as parameters of `section`."""
    return [
        Parameter(
            section,
            leaf.name,
            leaf.setting.kind.text(_value_at(settings, leaf.name)),
            _type_name(leaf.setting),
            f"{leaf.setting.help} (environment: {leaf.setting.env})",
        )
        for leaf in _leaves(type(settings))
        if leaf.name not in excluded
    ]


def from_parameters(
    section: str, parameters: Mapping[str, Any], base: S, *, excluded: frozenset[str] = frozenset()
) -> S:
    """`base` with every value `parameters` (`{"Section/name": text}`) holds for its settings; a missing parameter
    keeps the base value. Raises SettingsError naming the parameter whose text does not fit its setting."""
    changes: dict[str, Any] = {}
    for leaf in _leaves(type(base)):
        key = f"{section}/{leaf.name}"
        raw = parameters.get(key)
        if leaf.name not in excluded and raw is not None:
            changes[leaf.name] = _parse(key, leaf, str(raw))
    return _replace(base, changes)


def _replace(settings: S, changes: Mapping[str, Any]) -> S:
    """`dataclasses.replace` for dotted names, rebuilding each nested dataclass that changes."""
    direct = {name: value for name, value in changes.items() if "." not in name}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in changes.items():
        if "." in name:
            head, rest = name.split(".", 1)
            nested.setdefault(head, {})[rest] = value
    for head, below in nested.items():
        direct[head] = _replace(getattr(settings, head), below)
    replace: Callable[..., S] = dataclasses.replace
    return replace(settings, **direct)


def differing(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The parameter keys whose values differ between two `{"Section/name": text}` maps (either side missing
    counts), sorted."""
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
