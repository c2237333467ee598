"""One setting, declared once: its environment variable, default, kind (type and range) and help text.

A settings dataclass declares each field with `setting(...)`:

    quiet_seconds: float = setting("OCCULOOP_SYNC_QUIET_SECONDS", 30.0, "finalize after this long without a file")

and everything else is derived from that one line: `from_env` reads and checks the variable (a bad value fails
naming the variable, the value and what was expected), `add_flag` makes a command-line flag that overrides it (its
`--help` shows the default and the variable), `environment_help` lists a command's variables for its `--help`, and
`services/settings_reference.py` writes the README's configuration tables and the chart's `config:` values and
schema from the same declarations (tests fail when those files disagree with them).

This module only interprets text handed to it; `services/settings.py` holds the declarations and is the one
place that touches the process environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

T = TypeVar("T")
SETTING = "occuloop.setting"  # the key of a field's metadata that holds its Setting
NESTED = "occuloop.nested"  # ... or marks it as a nested settings group read from the same environment


class SettingsError(ValueError):
    """A value that cannot be used; the message names the variable (or flag), the value and what was expected."""


def absolute_path(text: str | Path) -> Path:
    """A path from the command line or the environment, resolved once against the directory the command was run
    from, before any child process starts or any working directory changes (issue 14: relative paths handed to a
    child with another `cwd` pointed somewhere else). Also the argparse `type=` of path flags."""
    return Path(text).expanduser().resolve()


# -- kinds: how a setting's text becomes a value, and back ---------------------------------------------------------


class Invalid(ValueError):
    """Raised by a kind's `parse` with a detail worth adding to "expected ..." (e.g. which item was wrong)."""


class Kind:
    """How one setting is written: `parse` turns its text into the value (ValueError when it cannot), `text`
    writes a value the way the environment holds it, `schema` is the JSON schema of the chart's value."""

    @property
    def expected(self) -> str:
        return "text"

    def parse(self, raw: str) -> Any:
        return raw

    def text(self, value: Any) -> str:
        return "" if value is None else str(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def default(self, value: Any) -> Any:
        """The declared default as the program uses it (a path is resolved when read, like a given one)."""
        return value


@dataclass(frozen=True)
class Text(Kind):
    """Any text; with `pattern`, text that matches it (`says` what that is, in words)."""

    pattern: str = ""
    says: str = "text"

    @property
    def expected(self) -> str:
        return self.says

    def parse(self, raw: str) -> str:
        if self.pattern and not re.fullmatch(self.pattern, raw):
            raise ValueError(raw)
        return raw

    def schema(self) -> dict[str, Any]:
        return {"type": "string", **({"pattern": f"^({self.pattern})?$"} if self.pattern else {})}


@dataclass(frozen=True)
class Integer(Kind):
    low: int = 0
    high: int = 65535

    @property
    def expected(self) -> str:
        return f"an integer from {self.low} to {self.high}"

    def parse(self, raw: str) -> int:
        value = int(raw)
        if not self.low <= value <= self.high:
            raise ValueError(raw)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True)
class Number(Kind):
    low: float = 0.0
    high: float | None = None

    @property
    def expected(self) -> str:
        if self.high is None:
            return f"a number >= {self.low:g}"
        return f"a number from {self.low:g} to {self.high:g}"

    def parse(self, raw: str) -> float:
        value = float(raw)
        if not (value >= self.low and (self.high is None or value <= self.high)):  # NaN fails both
            raise ValueError(raw)
        return value

    def text(self, value: Any) -> str:
        return str(int(value)) if float(value).is_integer() else repr(float(value))

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, **({"maximum": self.high} if self.high is not None else {})}


class Flag(Kind):
    TRUE = ("1", "true", "yes", "on")
    FALSE = ("0", "false", "no", "off")

    @property
    def expected(self) -> str:
        return "true or false"

    def parse(self, raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered not in (*self.TRUE, *self.FALSE):
            raise ValueError(raw)
        return lowered in self.TRUE

    def text(self, value: Any) -> str:
        return "true" if value else "false"

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class OneOf(Kind):
    choices: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        return f"one of {', '.join(self.choices)}"

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise ValueError(raw)
        return raw

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.choices)}


class Location(Kind):
    """A file-system path, resolved against the directory the command runs in (the default too)."""

    @property
    def expected(self) -> str:
        return "a path"

    def parse(self, raw: str) -> Path:
        return absolute_path(raw)

    def default(self, value: Any) -> Any:
        return absolute_path(value)


class Words(Kind):
    """Comma-separated words, e.g. `Production,reviewed` -> ("Production", "reviewed")."""

    @property
    def expected(self) -> str:
        return "comma-separated words"

    def parse(self, raw: str) -> tuple[str, ...]:
        words = tuple(word.strip() for word in raw.split(",") if word.strip())
        if not words:
            raise ValueError(raw)
        return words

    def text(self, value: Any) -> str:
        return ",".join(value)


@dataclass(frozen=True)
class Custom(Kind):
    """A kind of its own: a parser (ValueError, or Invalid with a detail, when the text is wrong), its inverse,
    what it expects in words and, for the chart's schema, a pattern of its text."""

    reader: Callable[[str], Any]
    writer: Callable[[Any], str]
    says: str
    pattern: str = ""

    @property
    def expected(self) -> str:
        return self.says

    def parse(self, raw: str) -> Any:
        return self.reader(raw)

    def text(self, value: Any) -> str:
        return self.writer(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", **({"pattern": self.pattern} if self.pattern else {})}


# -- the declaration -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    env: str
    help: str
    kind: Kind

    def read(self, environ: Mapping[str, str], default: Any) -> Any:
        """The value from `environ`; unset or empty: the default."""
        raw = environ.get(self.env)
        if raw is None or raw == "":
            return self.kind.default(default)
        return self.parse(self.env, raw)

    def parse(self, name: str, raw: str) -> Any:
        try:
            return self.kind.parse(raw)
        except Invalid as error:
            raise SettingsError(f"{name}={raw!r}: expected {self.kind.expected} ({error})") from None
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected {self.kind.expected}") from None


def _kind_for(default: Any, low: float | None, high: float | None, choices: tuple[str, ...]) -> Kind:
    if choices:
        return OneOf(choices)
    if isinstance(default, bool):
        return Flag()
    if isinstance(default, int):
        return Integer(int(low or 0), int(high if high is not None else 65535))
    if isinstance(default, float):
        return Number(float(low or 0.0), high)
    if isinstance(default, Path):
        return Location()
    if isinstance(default, tuple):
        return Words()
    return Text()


def setting(
    env: str,
    default: T,
    help: str,
    *,
    kind: Kind | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
) -> T:
    """A settings field read from `env`. The kind follows the default's type unless given: an int is an integer
    from `low` (0) to `high` (65535), a float a number >= `low` (0) and <= `high` if given, a bool true/false, a
    Path a path, a tuple comma-separated words, a str text, or one of `choices`."""
    declared = Setting(env, help, kind or _kind_for(default, low, high, choices))
    return dataclasses.field(default=default, metadata={SETTING: declared})


def nested(group: T) -> T:
    """A field holding another settings group (e.g. `log: LogSettings = nested(LogSettings())`), read from the
    same environment."""
    return dataclasses.field(default=group, metadata={NESTED: True})


class FromEnvironment:
    """The base of every settings dataclass: `from_env(environ)` reads each declared field (nested groups too)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if SETTING in field.metadata:
                values[field.name] = field.metadata[SETTING].read(environ, field.default)
            elif NESTED in field.metadata:
                group: Any = field.default
                values[field.name] = type(group).from_env(environ)
        return cls(**values)


@dataclass(frozen=True)
class Declared:
    """One declared field of a settings class: where it sits and how it is read."""

    owner: type
    name: str
    setting: Setting
    default: Any

    @property
    def env(self) -> str:
        return self.setting.env

    @property
    def default_text(self) -> str:
        return self.setting.kind.text(self.default)


def declared(owner: type, *, nested_groups: bool = True) -> Iterator[Declared]:
    """Every setting of a settings class in declaration order, with those of its nested groups."""
    for field in dataclasses.fields(owner):
        if SETTING in field.metadata:
            yield Declared(owner, field.name, field.metadata[SETTING], field.default)
        elif NESTED in field.metadata and nested_groups:
            yield from declared(type(field.default))


def declaration(owner: type, name: str) -> Declared:
    for item in declared(owner, nested_groups=False):
        if item.name == name:
            return item
    raise KeyError(f"{owner.__name__} declares no setting {name!r}")


# -- command lines -------------------------------------------------------------------------------------------------


def add_flag(
    parser: argparse.ArgumentParser | Any, owner: type, name: str, *flags: str, const: Any = None, help: str = ""
) -> None:
    """A flag that overrides the setting `owner.name`; its value is checked like the variable's. With `const`
    the flag takes no value and sets `const` (e.g. `--no-files-auth` sets a true/false setting to false)."""
    item = declaration(owner, name)
    if const is not None:
        text = f"{help or item.setting.help} (sets {item.env}={item.setting.kind.text(const)})"
        parser.add_argument(*flags, dest=name, action="store_const", const=const, default=None, help=_escaped(text))
        return
    default = f"default {item.default_text}; " if item.default_text else ""
    text = f"{help or item.setting.help} ({default}{item.env})"

    def from_flag(raw: str) -> Any:
        try:
            return item.setting.parse(flags[0], raw)
        except SettingsError as error:
            raise argparse.ArgumentTypeError(str(error).split(": ", 1)[1]) from None

    kind = item.setting.kind
    metavar = "{" + ",".join(kind.choices) + "}" if isinstance(kind, OneOf) else flags[0].lstrip("-").upper()
    parser.add_argument(
        *flags, dest=name, type=from_flag, default=None, metavar=metavar.replace("-", "_"), help=_escaped(text)
    )


def _escaped(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats help texts


def add_flags(parser: argparse.ArgumentParser | Any, owner: type, **flags: str) -> None:
    """`add_flag` for several settings of `owner`, by field name: `add_flags(parser, SyncSettings, inbox="--inbox")`."""
    for name, flag in flags.items():
        add_flag(parser, owner, name, flag)


def given_flags(args: argparse.Namespace, owner: type) -> dict[str, Any]:
    """The flags of `owner`'s settings that were given on the command line, by field name."""
    return {
        item.name: getattr(args, item.name)
        for item in declared(owner, nested_groups=False)
        if getattr(args, item.name, None) is not None
    }


def environment_help(*owners: type, intro: str = "environment (flags win):") -> str:
    """The `--help` epilog listing every variable the command reads: name, default, meaning."""
    seen: dict[str, Declared] = {}
    for owner in owners:
        for item in declared(owner):
            seen.setdefault(item.env, item)
    width = max(len(env) for env in seen) + 2
    lines = [intro]
    for env, item in seen.items():
        default = f" (default {item.default_text})" if item.default_text else ""
        lines.append(f"  {env.ljust(width)}{item.setting.help}{default}")
    return "\n".join(lines) + "\n"
