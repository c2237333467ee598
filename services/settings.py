"""All of occuloop's own configuration, read from the environment in one place.

`XSettings.from_env(os.environ)` is called once in a command's entry point; the frozen result is passed down.
No other module reads `os.environ` (`make lint` greps for it, and CI runs `make lint`). Command-line flags override the environment through
`with_flags`. A bad value fails at start-up naming the variable, the value and what was expected.

The ClearML clients keep reading their own `CLEARML_*` variables; occuloop never parses those itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    S = TypeVar("S", bound=DataclassInstance)


class SettingsError(ValueError):
    pass


def with_flags(settings: S, **flags: Any) -> S:
    """The settings with the command-line flags that were given (not None): flags win over the environment."""
    return dataclasses.replace(settings, **{name: value for name, value in flags.items() if value is not None})


def absolute_path(text: str | Path) -> Path:
    """A path from the command line or the environment, resolved once against the directory the command was run
    from, before any child process starts or any working directory changes (issue 14: relative paths handed to a
    child with another `cwd` pointed somewhere else). Also the argparse `type=` of every path flag."""
    return Path(text).expanduser().resolve()


def _path(environ: Mapping[str, str], key: str, default: Path) -> Path:
    return absolute_path(environ.get(key) or default)


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
            data_dir=_path(environ, "OCCULOOP_DATA_DIR", cls.data_dir),
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
    feed_chunk: int = 100  # a step taking in more files uploads each chunk of this many while the next validate
    completion: str = "auto"  # auto: a .done marker or a file unchanged for settle_seconds; marker: markers only
    settle_seconds: float = 2.0
    poll_seconds: float = 1.0
    http_host: str = "127.0.0.1"
    http_port: int = 8090  # POST /sync (the labeling tool's upload button), GET /status, GET /healthz
    trigger_url: str | None = None  # POST {dataset_id} here after each finalized version (the trigger's push path)
    stale_draft_seconds: float = 6 * 3600.0  # untagged unfinished versions older than this are deleted at start-up
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SyncSettings:
        return cls(
            inbox=_path(environ, "OCCULOOP_SYNC_INBOX", cls.inbox),
            dataset_project=environ.get("OCCULOOP_DATASET_PROJECT") or cls.dataset_project,
            dataset_name=environ.get("OCCULOOP_DATASET_NAME") or cls.dataset_name,
            production_tag=environ.get("OCCULOOP_PRODUCTION_TAG") or cls.production_tag,
            quiet_seconds=_float(environ, "OCCULOOP_SYNC_QUIET_SECONDS", cls.quiet_seconds),
            batch_size=_int(environ, "OCCULOOP_SYNC_BATCH_SIZE", cls.batch_size, low=1, high=100_000),
            feed_chunk=_int(environ, "OCCULOOP_SYNC_FEED_CHUNK", cls.feed_chunk, low=1, high=100_000),
            completion=_choice(environ, "OCCULOOP_SYNC_COMPLETION", cls.completion, ("auto", "marker")),
            settle_seconds=_float(environ, "OCCULOOP_SYNC_SETTLE_SECONDS", cls.settle_seconds),
            poll_seconds=_float(environ, "OCCULOOP_SYNC_POLL_SECONDS", cls.poll_seconds, low=0.05),
            http_host=environ.get("OCCULOOP_SYNC_HOST") or cls.http_host,
            http_port=_int(environ, "OCCULOOP_SYNC_PORT", cls.http_port),
            trigger_url=environ.get("OCCULOOP_TRIGGER_URL") or None,
            stale_draft_seconds=_float(environ, "OCCULOOP_SYNC_STALE_DRAFT_SECONDS", cls.stale_draft_seconds),
            log=LogSettings.from_env(environ),
        )


@dataclass(frozen=True)
class TriggerSettings:
    """`occuloop trigger`: one training run for every new Production version of the labeled data."""

    dataset_project: str = "occuloop/labels"  # every dataset name under it is watched, also names created later
    tags: tuple[str, ...] = ("Production",)  # a version triggers when it carries these tags ...
    tag_match: str = "all"  # ... all of them, or any of them
    template_project: str = "occuloop/training"  # the training template: found by project, name and tag ...
    template_name: str = "train occupancy model"
    template_tag: str = "template"  # ... and created from training/train.py on first start if missing
    training_project: str = "occuloop/training"  # where the runs go
    queue: str = "training"
    parameter: str = "General/dataset_id"  # the template's dataset-id parameter, overridden with '${dataset.id}'
    poll_seconds: float = 5.0  # the safety net behind the sync's push notification
    coalesce_seconds: float = 0.0  # > 0: during a burst, train only the newest version once it is this quiet
    stale_clone_seconds: float = 60.0  # a clone nobody enqueued for this long is enqueued by whoever sees it
    services_project: str = "occuloop/services"
    http_host: str = "127.0.0.1"
    http_port: int = 8091  # POST /notify (the sync's push), GET /status, GET /healthz
    remote_queue: str | None = None  # run as a ClearML service task on this queue (start_remotely)
    template_parameters: str = ""  # "Section/name=value,..." set on the template when the trigger creates it
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TriggerSettings:
        tags = tuple(tag.strip() for tag in (environ.get("OCCULOOP_TRIGGER_TAGS") or "").split(",") if tag.strip())
        return cls(
            dataset_project=environ.get("OCCULOOP_DATASET_PROJECT") or cls.dataset_project,
            tags=tags or cls.tags,
            tag_match=_choice(environ, "OCCULOOP_TRIGGER_TAG_MATCH", cls.tag_match, ("all", "any")),
            template_project=environ.get("OCCULOOP_TEMPLATE_PROJECT") or cls.template_project,
            template_name=environ.get("OCCULOOP_TEMPLATE_NAME") or cls.template_name,
            template_tag=environ.get("OCCULOOP_TEMPLATE_TAG") or cls.template_tag,
            training_project=environ.get("OCCULOOP_TRAINING_PROJECT") or cls.training_project,
            queue=environ.get("OCCULOOP_TRAINING_QUEUE") or cls.queue,
            parameter=environ.get("OCCULOOP_TRIGGER_PARAMETER") or cls.parameter,
            poll_seconds=_float(environ, "OCCULOOP_TRIGGER_POLL_SECONDS", cls.poll_seconds, low=0.1),
            coalesce_seconds=_float(environ, "OCCULOOP_TRIGGER_COALESCE_SECONDS", cls.coalesce_seconds),
            stale_clone_seconds=_float(environ, "OCCULOOP_TRIGGER_STALE_CLONE_SECONDS", cls.stale_clone_seconds),
            services_project=environ.get("OCCULOOP_SERVICES_PROJECT") or cls.services_project,
            http_host=environ.get("OCCULOOP_TRIGGER_HOST") or cls.http_host,
            http_port=_int(environ, "OCCULOOP_TRIGGER_PORT", cls.http_port),
            remote_queue=environ.get("OCCULOOP_TRIGGER_REMOTE_QUEUE") or None,
            template_parameters=environ.get("OCCULOOP_TEMPLATE_PARAMETERS") or cls.template_parameters,
            log=LogSettings.from_env(environ),
        )


def process_environment() -> Mapping[str, str]:
    """The environment of this process; entry points call this once and pass the mapping on."""
    return os.environ


@dataclass(frozen=True)
class ServingSettings:
    """`occuloop serving setup|run`: the clearml-serving control plane, the occupancy endpoints, the inference app."""

    service_name: str = "occuloop serving"  # the control-plane task (found by name, created when missing)
    service_project: str = "occuloop/serving"
    endpoint: str = "occupancy"  # public canary endpoint; versions are served at <endpoint>/<n>
    model_project: str = "occuloop/training"  # where `setup` without --model-id finds the newest model
    model_name: str = "occupancy"
    host: str = "127.0.0.1"
    port: int = 9090
    poll_seconds: float = 5.0  # the app re-reads the control plane this often (clearml-serving default: 5 min)
    prediction_log_rate: float = 0.01  # share of requests written to the prediction log
    metrics_seconds: float = 5.0  # per-version request metrics are reported this often
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServingSettings:
        rate = _float(environ, "OCCULOOP_SERVING_LOG_RATE", cls.prediction_log_rate)
        if rate > 1.0:
            raise SettingsError(f"OCCULOOP_SERVING_LOG_RATE={rate:g}: expected a share from 0 to 1")
        return cls(
            service_name=environ.get("OCCULOOP_SERVING_NAME") or cls.service_name,
            service_project=environ.get("OCCULOOP_SERVING_PROJECT") or cls.service_project,
            endpoint=environ.get("OCCULOOP_SERVING_ENDPOINT") or cls.endpoint,
            model_project=environ.get("OCCULOOP_MODEL_PROJECT") or cls.model_project,
            model_name=environ.get("OCCULOOP_MODEL_NAME") or cls.model_name,
            host=environ.get("OCCULOOP_SERVING_HOST") or cls.host,
            port=_int(environ, "OCCULOOP_SERVING_PORT", cls.port),
            poll_seconds=_float(environ, "OCCULOOP_SERVING_POLL_SECONDS", cls.poll_seconds, low=0.1),
            prediction_log_rate=rate,
            metrics_seconds=_float(environ, "OCCULOOP_SERVING_METRICS_SECONDS", cls.metrics_seconds, low=0.1),
            log=LogSettings.from_env(environ),
        )


def _slice_margins(environ: Mapping[str, str], key: str) -> tuple[tuple[str, float], ...]:
    """`night=0.01,day=0.03` -> (("night", 0.01), ("day", 0.03)); slice names must be known."""
    from training.schema import SLICES  # numpy: only the gate's settings pay for it

    pairs: list[tuple[str, float]] = []
    for item in (environ.get(key) or "").split(","):
        if not item.strip():
            continue
        name, _, raw = item.partition("=")
        if name.strip() not in SLICES:
            raise SettingsError(f"{key}={environ[key]!r}: unknown slice {name.strip()!r} (expected {SLICES})")
        pairs.append((name.strip(), _float({key: raw.strip()}, key, 0.0)))
    return tuple(pairs)


@dataclass(frozen=True)
class GateSettings:
    """The gate's thresholds, in one place. Accuracies and margins are fractions (0.005 = 0.5 points)."""

    champion_margin: float = 0.005  # lower 95 % bound of (challenger - champion) accuracy must be >= -this
    baseline_margin: float = 0.01  # challenger accuracy >= Light-rule accuracy - this
    forward_margin: float = 0.002  # on the newest session(s), held out of fitting: >= Light rule - this
    slice_margin: float = 0.02  # no slice may lose more than this against the champion ...
    slice_margins: tuple[tuple[str, float], ...] = ()  # ... unless overridden per slice, e.g. (("night", 0.01),)
    min_days: int = 2  # labeling sessions (one a day) the challenger was trained on
    min_occupied: int = 200  # occupied rows it was trained on
    bootstrap_samples: int = 2000

    def margin_for(self, slice_name: str) -> float:
        return dict(self.slice_margins).get(slice_name, self.slice_margin)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GateSettings:
        return cls(
            champion_margin=_float(environ, "OCCULOOP_GATE_CHAMPION_MARGIN", cls.champion_margin),
            baseline_margin=_float(environ, "OCCULOOP_GATE_BASELINE_MARGIN", cls.baseline_margin),
            forward_margin=_float(environ, "OCCULOOP_GATE_FORWARD_MARGIN", cls.forward_margin),
            slice_margin=_float(environ, "OCCULOOP_GATE_SLICE_MARGIN", cls.slice_margin),
            slice_margins=_slice_margins(environ, "OCCULOOP_GATE_SLICE_MARGINS"),
            min_days=_int(environ, "OCCULOOP_GATE_MIN_DAYS", cls.min_days, high=100_000),
            min_occupied=_int(environ, "OCCULOOP_GATE_MIN_OCCUPIED", cls.min_occupied, high=10**9),
            bootstrap_samples=_int(environ, "OCCULOOP_GATE_BOOTSTRAP_SAMPLES", cls.bootstrap_samples, low=100),
        )


@dataclass(frozen=True)
class RolloutSettings:
    """`occuloop gate`, `promote`, `rollback`: where decisions are recorded and what a passed gate does."""

    project: str = "occuloop/rollout"  # the champion pointer and the decision receipts live here
    model_name: str = "occupancy"  # the registered models the pointer chooses among
    holdout_project: str = "occuloop/holdout"  # the pinned holdout (training/holdout.py)
    on_pass: str = "promote"  # promote: champion now; hold: stays a candidate; canary: `occuloop rollout` ramps it
    gate: GateSettings = GateSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RolloutSettings:
        return cls(
            project=environ.get("OCCULOOP_ROLLOUT_PROJECT") or cls.project,
            model_name=environ.get("OCCULOOP_MODEL_NAME") or cls.model_name,
            holdout_project=environ.get("OCCULOOP_HOLDOUT_PROJECT") or cls.holdout_project,
            on_pass=_choice(environ, "OCCULOOP_GATE_ON_PASS", cls.on_pass, ("promote", "hold", "canary")),
            gate=GateSettings.from_env(environ),
            log=LogSettings.from_env(environ),
        )


def _steps(environ: Mapping[str, str], key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """`10,50,100` (percent) -> (0.1, 0.5, 1.0); increasing, ending at 100."""
    raw = environ.get(key) or ""
    if not raw.strip():
        return default
    try:
        steps = tuple(float(item) / 100.0 for item in raw.split(",") if item.strip())
    except ValueError:
        raise SettingsError(f"{key}={raw!r}: expected percentages such as 10,50,100") from None
    if not steps or steps[-1] != 1.0 or any(not a < b for a, b in zip((0.0, *steps), steps, strict=False)):
        raise SettingsError(f"{key}={raw!r}: expected increasing percentages above 0 ending at 100")
    return steps


@dataclass(frozen=True)
class CanarySettings:
    """`occuloop rollout`: the canary controller's ramp and its live-health thresholds (per evaluation window)."""

    poll_seconds: float = 1.0  # how often the controller reads pointer, tags, routing and metrics
    steps: tuple[float, ...] = (0.1, 0.5, 1.0)  # canary share of the public endpoint at each step
    window_seconds: float = 30.0  # a step is judged on at least this long a window ...
    min_requests: int = 50  # ... holding at least this many canary requests (otherwise it waits for traffic)
    max_error_rate: float = 0.01  # failed / requests of the canary in the window
    max_p99_ms: float = 250.0  # the canary's engine p99 latency, worst report in the window
    max_rate_shift: float = 0.15  # |canary - champion| share of readings predicted occupied, same window
    silence_seconds: float = 30.0  # the champion is busy but the canary counts nothing this long: it is failing
    max_accuracy_drop: float = 0.05  # champion - canary live accuracy on served minutes labeled since ...
    min_labeled: int = 50  # ... once each has at least this many labeled readings
    labels_seconds: float = 30.0  # during a ramp, how often to look for a newer labeled dataset version
    labels_project: str = SyncSettings.dataset_project  # the labeled dataset the sync writes (its labels arrive
    labels_name: str = SyncSettings.dataset_name  # after the minutes they describe were served)
    probe_url: str = ""  # the inference app (e.g. http://occuloop-serving:9090): a new version must answer a
    # reading on its own endpoint before it gets user traffic; empty: no probe
    probe_seconds: float = 30.0  # ... within this long (the app picks new versions up on its next poll)
    http_host: str = "127.0.0.1"
    http_port: int = 8092  # GET /status, GET /healthz
    rollout: RolloutSettings = RolloutSettings()
    serving: ServingSettings = ServingSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CanarySettings:
        return cls(
            poll_seconds=_float(environ, "OCCULOOP_CANARY_POLL_SECONDS", cls.poll_seconds, low=0.05),
            steps=_steps(environ, "OCCULOOP_CANARY_STEPS", cls.steps),
            window_seconds=_float(environ, "OCCULOOP_CANARY_WINDOW_SECONDS", cls.window_seconds, low=0.1),
            min_requests=_int(environ, "OCCULOOP_CANARY_MIN_REQUESTS", cls.min_requests, low=1, high=10**9),
            max_error_rate=_float(environ, "OCCULOOP_CANARY_MAX_ERROR_RATE", cls.max_error_rate),
            max_p99_ms=_float(environ, "OCCULOOP_CANARY_MAX_P99_MS", cls.max_p99_ms, low=0.1),
            max_rate_shift=_float(environ, "OCCULOOP_CANARY_MAX_RATE_SHIFT", cls.max_rate_shift),
            silence_seconds=_float(environ, "OCCULOOP_CANARY_SILENCE_SECONDS", cls.silence_seconds, low=0.1),
            max_accuracy_drop=_float(environ, "OCCULOOP_CANARY_MAX_ACCURACY_DROP", cls.max_accuracy_drop),
            min_labeled=_int(environ, "OCCULOOP_CANARY_MIN_LABELED", cls.min_labeled, low=1, high=10**9),
            labels_seconds=_float(environ, "OCCULOOP_CANARY_LABELS_SECONDS", cls.labels_seconds, low=0.1),
            labels_project=environ.get("OCCULOOP_DATASET_PROJECT") or cls.labels_project,
            labels_name=environ.get("OCCULOOP_DATASET_NAME") or cls.labels_name,
            probe_url=environ.get("OCCULOOP_CANARY_PROBE_URL") or cls.probe_url,
            probe_seconds=_float(environ, "OCCULOOP_CANARY_PROBE_SECONDS", cls.probe_seconds, low=1.0),
            http_host=environ.get("OCCULOOP_ROLLOUT_HOST") or cls.http_host,
            http_port=_int(environ, "OCCULOOP_ROLLOUT_PORT", cls.http_port),
            rollout=RolloutSettings.from_env(environ),
            serving=ServingSettings.from_env(environ),
        )
