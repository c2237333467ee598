"""A service's settings as the parameters of its ClearML service task, and back.

Each field of the settings dataclass (nested ones flattened with dots: `rollout.gate.min_days`) becomes one
parameter `<Section>/<field>` whose value is text, so it shows and edits in any ClearML UI. The text of a value
follows its field's type: numbers as Python writes them, booleans `true`/`false`, a tuple comma-separated (pairs
as `name=value`), `None` as the empty string. Reading back checks every value against its field's type and
names the parameter when one is wrong.

This adapter only looks at `dataclasses.fields` and their types. A field's `metadata` may carry `help` (and
`env`, the variable it is read from): both go into the parameter's description, so the UI says what a value does.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, TypeVar

from ..settings import SettingsError

S = TypeVar("S")
EXPECTED = {"int": "an integer", "float": "a number", "list": "comma-separated values", "str": "text", "path": "a path"}


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
    kind: Any  # the resolved type annotation
    field: dataclasses.Field[Any]


def _leaves(cls: type, prefix: str = "") -> Iterator[_Leaf]:
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        kind = hints[item.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            yield from _leaves(kind, f"{prefix}{item.name}.")
        else:
            yield _Leaf(f"{prefix}{item.name}", kind, item)


def _value_at(settings: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        settings = getattr(settings, part)
    return settings


def _optional(kind: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); anything else -> (kind, False)."""
    if isinstance(kind, UnionType) or typing.get_origin(kind) is typing.Union:
        members = [member for member in typing.get_args(kind) if member is not NoneType]
        if len(members) == 1:
            return members[0], True
    return kind, False


def _type_name(kind: Any) -> str:
    kind, _ = _optional(kind)
    if typing.get_origin(kind) is tuple:
        return "list"
    return {bool: "bool", int: "int", float: "float", str: "str", Path: "path"}.get(kind, "str")


def _text(kind: Any, value: Any) -> str:
    kind, _ = _optional(kind)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(f"{item[0]}={item[1]!r}" if isinstance(item, tuple) else _text(str, item) for item in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _scalar(kind: Any, raw: str) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind is Path:
        path = Path(raw.strip())
        if not path.is_absolute():
            raise ValueError("expected an absolute path (clearml-agent runs the task in a directory of its own)")
        return path
    if kind is str:
        return raw
    raise TypeError(f"no text form for {kind!r}")


def _parse(kind: Any, raw: str) -> Any:
    kind, optional = _optional(kind)
    if optional and raw.strip() == "":
        return None
    if typing.get_origin(kind) is not tuple:
        return _scalar(kind, raw)
    item_kind = typing.get_args(kind)[0]
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if typing.get_origin(item_kind) is tuple:  # pairs: name=value,...
        key_kind, value_kind = typing.get_args(item_kind)
        pairs = []
        for item in items:
            name, equals, value = item.partition("=")
            if not equals:
                raise ValueError("expected name=value pairs separated by commas")
            pairs.append((_scalar(key_kind, name.strip()), _scalar(value_kind, value.strip())))
        return tuple(pairs)
    return tuple(_scalar(item_kind, item) for item in items)


def _description(field: dataclasses.Field[Any]) -> str:
    help_text = str(field.metadata.get("help") or "")
    env = field.metadata.get("env")
    return f"{help_text} (environment: {env})".strip() if env else help_text


def to_parameters(section: str, settings: Any, *, excluded: frozenset[str] = frozenset()) -> list[Parameter]:
    """Every field of `settings` (a dataclass instance) but the excluded ones, as parameters of `section`."""
    return [
        Parameter(section, leaf.name, _text(leaf.kind, _value_at(settings, leaf.name)), _type_name(leaf.kind),
                  _description(leaf.field))
        for leaf in _leaves(type(settings))
        if leaf.name not in excluded
    ]  # fmt: skip


def from_parameters(
    section: str, parameters: Mapping[str, Any], base: S, *, excluded: frozenset[str] = frozenset()
) -> S:
    """`base` with every value `parameters` (`{"Section/name": text}`) holds for its fields; a missing parameter
    keeps the base value. Raises SettingsError naming the parameter whose text does not fit its field."""
    changes: dict[str, Any] = {}
    for leaf in _leaves(type(base)):
        raw = parameters.get(f"{section}/{leaf.name}")
        if leaf.name in excluded or raw is None:
            continue
        try:
            changes[leaf.name] = _parse(leaf.kind, str(raw))
        except ValueError as error:
            detail = str(error) if "expected" in str(error) else f"expected {EXPECTED[_type_name(leaf.kind)]}"
            raise SettingsError(f"parameter {section}/{leaf.name}={raw!r}: {detail}") from None
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
