"""All of occuloop's own configuration, read from the environment in one place.

`XSettings.from_env(os.environ)` is called once in a command's entry point; the frozen result is passed down.
No other module reads `os.environ` (CI greps for it). Command-line flags override the environment through
`dataclasses.replace`. A bad value fails at start-up naming the variable, the value and what was expected.

The ClearML clients keep reading their own `CLEARML_*` variables; occuloop never parses those itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    pass


def _int(environ: Mapping[str, str], key: str, default: int, *, low: int = 0, high: int = 65535) -> int:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{key}={raw!r}: expected an integer from {low} to {high}")
    return value


def _bool(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key}={raw!r}: expected true or false")


def _choice(environ: Mapping[str, str], key: str, default: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(key) or default
    if raw not in choices:
        raise SettingsError(f"{key}={raw!r}: expected one of {', '.join(choices)}")
    return raw


@dataclass(frozen=True)
class LogSettings:
    format: str = "text"  # "text" on a terminal, "json" in the cluster
    level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LogSettings:
        return cls(
            format=_choice(environ, "OCCULOOP_LOG_FORMAT", "text", ("text", "json")),
            level=_choice(environ, "OCCULOOP_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        )


@dataclass(frozen=True)
class ServerSettings:
    """`occuloop server`: the embedded ClearML-compatible API and file server."""

    data_dir: Path = Path(".occuloop/server")
    host: str = "127.0.0.1"
    api_port: int = 8008
    files_port: int = 8081
    access_key: str | None = None
    secret_key: str | None = None
    public_host: str | None = None  # host name put in the printed CLEARML_* URLs (default: the bind host)
    durable: bool = False  # fsync every commit and upload: survives power loss, not only process crashes
    files_auth: bool = True  # the file server requires the same bearer token as the API
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServerSettings:
        return cls(
            data_dir=Path(environ.get("OCCULOOP_DATA_DIR") or cls.data_dir),
            host=environ.get("OCCULOOP_SERVER_HOST") or cls.host,
            api_port=_int(environ, "OCCULOOP_API_PORT", cls.api_port),
            files_port=_int(environ, "OCCULOOP_FILES_PORT", cls.files_port),
            access_key=environ.get("OCCULOOP_SERVER_ACCESS_KEY") or None,
            secret_key=environ.get("OCCULOOP_SERVER_SECRET_KEY") or None,
            public_host=environ.get("OCCULOOP_SERVER_PUBLIC_HOST") or None,
            durable=_bool(environ, "OCCULOOP_SERVER_FSYNC", cls.durable),
            files_auth=_bool(environ, "OCCULOOP_FILES_AUTH", cls.files_auth),
            log=LogSettings.from_env(environ),
        )

    def validate(self) -> ServerSettings:
        if bool(self.access_key) != bool(self.secret_key):
            raise SettingsError("OCCULOOP_SERVER_ACCESS_KEY and OCCULOOP_SERVER_SECRET_KEY must be set together")
        for key, port in (("api port", self.api_port), ("files port", self.files_port)):
            if not 0 <= port <= 65535:
                raise SettingsError(f"{key}={port}: expected 0..65535")
        if self.api_port and self.api_port == self.files_port:
            raise SettingsError(f"the api port and the files port must differ (both {self.api_port})")
        return self


def _float(environ: Mapping[str, str], key: str, default: float, *, low: float = 0.0) -> float:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected a number") from None
    if not value >= low:
        raise SettingsError(f"{key}={raw!r}: expected a number >= {low:g}")
    return value


@dataclass(frozen=True)
class SyncSettings:
    """`occuloop sync`: labeling-tool output folder -> validated ClearML Dataset versions."""

    inbox: Path = Path(".occuloop/inbox")
    dataset_project: str = "occuloop/labels"
    dataset_name: str = "labeled"
    production_tag: str = "Production"  # set only on finalized, fully validated versions: the trigger listens to it
    quiet_seconds: float = 30.0  # finalize when no file arrived for this long
    batch_size: int = 50  # ... or when this many files are pending
    completion: str = "auto"  # auto: a .done marker or a file unchanged for settle_seconds; marker: markers only
    settle_seconds: float = 2.0
    poll_seconds: float = 1.0
    http_host: str = "127.0.0.1"
    http_port: int = 8090  # POST /sync (the labeling tool's upload button), GET /status, GET /healthz
    trigger_url: str | None = None  # POST {dataset_id} here after each finalized version (the trigger's push path)
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SyncSettings:
        return cls(
            inbox=Path(environ.get("OCCULOOP_SYNC_INBOX") or cls.inbox),
            dataset_project=environ.get("OCCULOOP_DATASET_PROJECT") or cls.dataset_project,
            dataset_name=environ.get("OCCULOOP_DATASET_NAME") or cls.dataset_name,
            production_tag=environ.get("OCCULOOP_PRODUCTION_TAG") or cls.production_tag,
            quiet_seconds=_float(environ, "OCCULOOP_SYNC_QUIET_SECONDS", cls.quiet_seconds),
            batch_size=_int(environ, "OCCULOOP_SYNC_BATCH_SIZE", cls.batch_size, low=1, high=100_000),
            completion=_choice(environ, "OCCULOOP_SYNC_COMPLETION", cls.completion, ("auto", "marker")),
            settle_seconds=_float(environ, "OCCULOOP_SYNC_SETTLE_SECONDS", cls.settle_seconds),
            poll_seconds=_float(environ, "OCCULOOP_SYNC_POLL_SECONDS", cls.poll_seconds, low=0.05),
            http_host=environ.get("OCCULOOP_SYNC_HOST") or cls.http_host,
            http_port=_int(environ, "OCCULOOP_SYNC_PORT", cls.http_port),
            trigger_url=environ.get("OCCULOOP_TRIGGER_URL") or None,
            log=LogSettings.from_env(environ),
        )


def process_environment() -> Mapping[str, str]:
    """The environment of this process; entry points call this once and pass the mapping on."""
    return os.environ
