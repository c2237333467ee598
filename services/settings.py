"""All of occuloop's own configuration, declared in one place and read from the environment in one place.

Each field names its environment variable, default, kind (type and range) and help once (`setting(...)`, see
`services/setting.py`). `XSettings.from_env(environ)` is called once in a command's entry point with the mapping
`process_environment()` returns; the frozen result is passed down. No other module reads `os.environ` (`make lint`
greps for it). Command-line flags made with `setting.add_flag` override the environment through `with_flags`. A bad
value fails at start-up naming the variable (or flag), the value and what was expected. The README's configuration
tables and the chart's `config:` values and schema are generated from these declarations
(`make settings-reference`), and tests fail when they disagree.

The ClearML clients read their own `CLEARML_*` variables. occuloop declares none of them: it passes them on to the
processes it starts, and `occuloop status` and `occuloop ui` read the server's address and key pair from them to ask
it directly (or from the `clearml.env` an embedded server writes, `read_env_file`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .setting import Custom, FromEnvironment, Invalid, Text, Words, environment_help, nested, setting
from .setting import SettingsError as SettingsError
from .setting import absolute_path as absolute_path

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    S = TypeVar("S", bound=DataclassInstance)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ENV_FILE = "clearml.env"  # the CLEARML_* variables an embedded server writes into its data dir


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of an env file written by the server (comments skipped); {} when it does not exist."""
    if not path.is_file():
        return {}
    pairs = {}
    for line in path.read_text().splitlines():
        key, separator, value = line.partition("=")
        if separator and not key.startswith("#"):
            pairs[key.strip()] = value.strip()
    return pairs


def process_environment() -> Mapping[str, str]:
    """The environment of this process; entry points call this once and pass the mapping on."""
    return os.environ


def with_flags(settings: S, **flags: Any) -> S:
    """The settings with the command-line flags that were given (not None): flags win over the environment."""
    return dataclasses.replace(settings, **{name: value for name, value in flags.items() if value is not None})


@dataclass(frozen=True)
class LogSettings(FromEnvironment):
    """How every occuloop process logs."""

    format: str = setting(
        "OCCULOOP_LOG_FORMAT", "text", "text on a terminal, json in the cluster", choices=("text", "json")
    )
    level: str = setting("OCCULOOP_LOG_LEVEL", "INFO", "the lowest level logged", choices=LEVELS)


@dataclass(frozen=True)
class ServerSettings(FromEnvironment):
    """`occuloop server`: the embedded ClearML-compatible API and file server."""

    data_dir: Path = setting("OCCULOOP_DATA_DIR", Path(".occuloop/server"), "the database and files")
    host: str = setting("OCCULOOP_SERVER_HOST", "127.0.0.1", "the interface both ports bind (0.0.0.0 in a container)")
    api_port: int = setting("OCCULOOP_API_PORT", 8008, "the API port (0 picks a free one)")
    files_port: int = setting("OCCULOOP_FILES_PORT", 8081, "the file server port (0 picks a free one)")
    access_key: str | None = setting(
        "OCCULOOP_SERVER_ACCESS_KEY", None, "accept this access key (with the secret key) instead of a generated pair"
    )
    secret_key: str | None = setting("OCCULOOP_SERVER_SECRET_KEY", None, "the secret key of that access key")
    public_host: str | None = setting(
        "OCCULOOP_SERVER_PUBLIC_HOST", None, "the host name in the printed CLEARML_* URLs; unset: the bind host"
    )
    web_host: str | None = setting(
        "OCCULOOP_SERVER_WEB_HOST",
        None,
        "the UI's URL (`occuloop ui`): CLEARML_WEB_HOST, and where web paths are redirected; unset: the API's URL",
    )
    durable: bool = setting(
        "OCCULOOP_SERVER_FSYNC", False, "fsync every commit and upload: survives power loss, not only crashes"
    )
    files_auth: bool = setting("OCCULOOP_FILES_AUTH", True, "the file server requires the API's bearer token")
    log: LogSettings = nested(LogSettings())

    def validate(self) -> ServerSettings:
        if bool(self.access_key) != bool(self.secret_key):
            raise SettingsError("OCCULOOP_SERVER_ACCESS_KEY and OCCULOOP_SERVER_SECRET_KEY must be set together")
        if self.api_port and self.api_port == self.files_port:
            raise SettingsError(f"the api port and the files port must differ (both {self.api_port})")
        return self


@dataclass(frozen=True)
class SyncSettings(FromEnvironment):
    """`occuloop sync`: labeling-tool output folder -> validated ClearML Dataset versions."""

    inbox: Path = setting("OCCULOOP_SYNC_INBOX", Path(".occuloop/inbox"), "the labeling tool's output folder")
    dataset_project: str = setting("OCCULOOP_DATASET_PROJECT", "occuloop/labels", "project of the labeled dataset")
    dataset_name: str = setting("OCCULOOP_DATASET_NAME", "labeled", "name of the labeled dataset")
    production_tag: str = setting(
        "OCCULOOP_PRODUCTION_TAG", "Production", "set on finalized, fully validated versions (the trigger listens)"
    )
    quiet_seconds: float = setting("OCCULOOP_SYNC_QUIET_SECONDS", 30.0, "finalize after this long without a new file")
    batch_size: int = setting(
        "OCCULOOP_SYNC_BATCH_SIZE", 50, "finalize when this many files are pending", low=1, high=100_000
    )
    feed_chunk: int = setting(
        "OCCULOOP_SYNC_FEED_CHUNK",
        100,
        "upload taken-in files in chunks of this many while the next validate",
        low=1,
        high=100_000,
    )
    completion: str = setting(
        "OCCULOOP_SYNC_COMPLETION",
        "auto",
        "auto: a .done marker or a settled file; marker: markers only",
        choices=("auto", "marker"),
    )
    settle_seconds: float = setting(
        "OCCULOOP_SYNC_SETTLE_SECONDS", 2.0, "a file unchanged this long is finished (completion auto)"
    )
    poll_seconds: float = setting("OCCULOOP_SYNC_POLL_SECONDS", 1.0, "how often the inbox is looked at", low=0.05)
    http_host: str = setting("OCCULOOP_SYNC_HOST", "127.0.0.1", "the HTTP interface (POST /sync, GET /status)")
    http_port: int = setting("OCCULOOP_SYNC_PORT", 8090, "the HTTP port (0 picks a free one)")
    trigger_url: str | None = setting(
        "OCCULOOP_TRIGGER_URL", None, "POST each new version here (the trigger's push endpoint)"
    )
    stale_draft_seconds: float = setting(
        "OCCULOOP_SYNC_STALE_DRAFT_SECONDS", 6 * 3600.0, "untagged unfinished versions older than this are deleted"
    )
    log: LogSettings = nested(LogSettings())


PARAMETER = r"[^,=/]+/[^,=]+"  # Section/name of a ClearML task parameter


@dataclass(frozen=True)
class TriggerSettings(FromEnvironment):
    """`occuloop trigger`: one training run for every new Production version of the labeled data."""

    dataset_project: str = setting(
        "OCCULOOP_DATASET_PROJECT", SyncSettings.dataset_project, "watch every dataset under this project"
    )
    tags: tuple[str, ...] = setting(
        "OCCULOOP_TRIGGER_TAGS", ("Production",), "a version triggers when it has these tags"
    )
    tag_match: str = setting(
        "OCCULOOP_TRIGGER_TAG_MATCH", "all", "a version needs all of those tags, or any of them", choices=("all", "any")
    )
    template_project: str = setting("OCCULOOP_TEMPLATE_PROJECT", "occuloop/training", "the training template's project")
    template_name: str = setting("OCCULOOP_TEMPLATE_NAME", "train occupancy model", "the training template's name")
    template_tag: str = setting(
        "OCCULOOP_TEMPLATE_TAG",
        "template",
        "the training template's tag (the trigger creates it from training/train.py if missing)",
    )
    training_project: str = setting("OCCULOOP_TRAINING_PROJECT", "occuloop/training", "where the runs go")
    queue: str = setting("OCCULOOP_TRAINING_QUEUE", "training", "the queue runs are enqueued on")
    parameter: str = setting(
        "OCCULOOP_TRIGGER_PARAMETER",
        "General/dataset_id",
        "the template's dataset-id parameter",
        kind=Text(PARAMETER, "Section/name"),
    )
    poll_seconds: float = setting(
        "OCCULOOP_TRIGGER_POLL_SECONDS", 5.0, "polling interval, the safety net behind the sync's push", low=0.1
    )
    coalesce_seconds: float = setting(
        "OCCULOOP_TRIGGER_COALESCE_SECONDS", 0.0, "> 0: in a burst, train only the newest version once quiet this long"
    )
    stale_clone_seconds: float = setting(
        "OCCULOOP_TRIGGER_STALE_CLONE_SECONDS", 60.0, "a clone nobody enqueued for this long is enqueued by anyone"
    )
    services_project: str = setting(
        "OCCULOOP_SERVICES_PROJECT", "occuloop/services", "the project of the trigger's own scheduler task"
    )
    http_host: str = setting("OCCULOOP_TRIGGER_HOST", "127.0.0.1", "the HTTP interface (POST /notify, GET /status)")
    http_port: int = setting("OCCULOOP_TRIGGER_PORT", 8091, "the HTTP port (0 picks a free one)")
    remote_queue: str | None = setting(
        "OCCULOOP_TRIGGER_REMOTE_QUEUE", None, "run as a ClearML service task on this queue instead"
    )
    template_parameters: str = setting(
        "OCCULOOP_TEMPLATE_PARAMETERS",
        "",
        "parameters set on a template the trigger creates",
        kind=Text(f"{PARAMETER}=[^,]*(,{PARAMETER}=[^,]*)*", "Section/name=value pairs, comma-separated"),
    )
    log: LogSettings = nested(LogSettings())


@dataclass(frozen=True)
class ServingSettings(FromEnvironment):
    """`occuloop serving setup|run`: the clearml-serving control plane, the occupancy endpoints, the inference app."""

    service_name: str = setting(
        "OCCULOOP_SERVING_NAME", "occuloop serving", "the control-plane task (found by name, created when missing)"
    )
    service_project: str = setting("OCCULOOP_SERVING_PROJECT", "occuloop/serving", "the control plane's project")
    endpoint: str = setting(
        "OCCULOOP_SERVING_ENDPOINT", "occupancy", "the public canary endpoint; versions are <endpoint>/<n>"
    )
    model_project: str = setting(
        "OCCULOOP_MODEL_PROJECT", "occuloop/training", "where `setup` without --model-id finds the newest model"
    )
    model_name: str = setting("OCCULOOP_MODEL_NAME", "occupancy", "the name of the registered models")
    host: str = setting("OCCULOOP_SERVING_HOST", "127.0.0.1", "the inference app's interface")
    port: int = setting("OCCULOOP_SERVING_PORT", 9090, "the inference app's port")
    poll_seconds: float = setting(
        "OCCULOOP_SERVING_POLL_SECONDS", 5.0, "the app re-reads the control plane this often", low=0.1
    )
    prediction_log_rate: float = setting(
        "OCCULOOP_SERVING_LOG_RATE", 0.01, "share of requests written to the prediction log", high=1.0
    )
    metrics_seconds: float = setting(
        "OCCULOOP_SERVING_METRICS_SECONDS", 5.0, "per-version request metrics are reported this often", low=0.1
    )
    log: LogSettings = nested(LogSettings())


def _slice_margins(raw: str) -> tuple[tuple[str, float], ...]:
    """`night=0.01,day=0.03` -> (("night", 0.01), ("day", 0.03)); slice names must be known."""
    from training.schema import SLICES  # numpy: only the gate's settings pay for it

    pairs: list[tuple[str, float]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, margin = item.partition("=")
        if name.strip() not in SLICES:
            raise Invalid(f"unknown slice {name.strip()!r}; the slices are {', '.join(SLICES)}")
        value = float(margin)
        if not value >= 0:
            raise ValueError(raw)
        pairs.append((name.strip(), value))
    return tuple(pairs)


@dataclass(frozen=True)
class GateSettings(FromEnvironment):
    """The gate's thresholds, in one place. Accuracies and margins are fractions (0.005 = 0.5 points)."""

    champion_margin: float = setting(
        "OCCULOOP_GATE_CHAMPION_MARGIN", 0.005, "lower 95 % bound of (challenger - champion) accuracy >= -this"
    )
    baseline_margin: float = setting(
        "OCCULOOP_GATE_BASELINE_MARGIN", 0.01, "challenger accuracy >= Light-rule accuracy - this"
    )
    forward_margin: float = setting(
        "OCCULOOP_GATE_FORWARD_MARGIN",
        0.002,
        "on the newest session(s), held out of fitting by the training run: accuracy >= Light-rule accuracy - this",
    )
    slice_margin: float = setting(
        "OCCULOOP_GATE_SLICE_MARGIN", 0.02, "no slice may lose more accuracy than this against the champion"
    )
    slice_margins: tuple[tuple[str, float], ...] = setting(
        "OCCULOOP_GATE_SLICE_MARGINS",
        (),
        "per-slice overrides of the slice margin",
        kind=Custom(
            _slice_margins,
            lambda pairs: ",".join(f"{name}={margin:g}" for name, margin in pairs),
            "slice=margin pairs, e.g. night=0.01,day=0.03",
        ),
    )
    min_days: int = setting(
        "OCCULOOP_GATE_MIN_DAYS", 2, "labeling sessions (one a day) the challenger was trained on", high=100_000
    )
    min_occupied: int = setting("OCCULOOP_GATE_MIN_OCCUPIED", 200, "occupied rows it was trained on", high=10**9)
    bootstrap_samples: int = setting(
        "OCCULOOP_GATE_BOOTSTRAP_SAMPLES", 2000, "bootstrap resamples of the accuracy intervals", low=100, high=100_000
    )

    def margin_for(self, slice_name: str) -> float:
        return dict(self.slice_margins).get(slice_name, self.slice_margin)


@dataclass(frozen=True)
class RolloutSettings(FromEnvironment):
    """`occuloop gate`, `promote`, `rollback`: where decisions are recorded and what a passed gate does."""

    project: str = setting(
        "OCCULOOP_ROLLOUT_PROJECT", "occuloop/rollout", "the champion pointer and the decision receipts live here"
    )
    model_name: str = setting("OCCULOOP_MODEL_NAME", ServingSettings.model_name, "the name of the registered models")
    holdout_project: str = setting("OCCULOOP_HOLDOUT_PROJECT", "occuloop/holdout", "the pinned holdout's project")
    on_pass: str = setting(
        "OCCULOOP_GATE_ON_PASS",
        "promote",
        "promote: champion now; hold: stays a candidate; canary: ramped",
        choices=("promote", "hold", "canary"),
    )
    gate: GateSettings = nested(GateSettings())
    log: LogSettings = nested(LogSettings())


def _steps(raw: str) -> tuple[float, ...]:
    """`10,50,100` (percent) -> (0.1, 0.5, 1.0); increasing, ending at 100."""
    steps = tuple(float(item) / 100.0 for item in raw.split(",") if item.strip())
    if not steps or steps[-1] != 1.0 or any(not a < b for a, b in zip((0.0, *steps), steps, strict=False)):
        raise Invalid("increasing, above 0, ending at 100")
    return steps


@dataclass(frozen=True)
class CanarySettings(FromEnvironment):
    """`occuloop rollout`: the canary controller's ramp and its live-health thresholds (per evaluation window)."""

    poll_seconds: float = setting(
        "OCCULOOP_CANARY_POLL_SECONDS", 1.0, "how often pointer, tags, routing and metrics are read", low=0.05
    )
    steps: tuple[float, ...] = setting(
        "OCCULOOP_CANARY_STEPS",
        (0.1, 0.5, 1.0),
        "the canary's share of the public endpoint at each step",
        kind=Custom(
            _steps,
            lambda steps: ",".join(f"{step * 100:g}" for step in steps),
            "percentages such as 10,50,100",
            pattern=r"^[0-9., ]+$",
        ),
    )
    window_seconds: float = setting(
        "OCCULOOP_CANARY_WINDOW_SECONDS", 30.0, "a canary step is judged on a window at least this long", low=0.1
    )
    min_requests: int = setting(
        "OCCULOOP_CANARY_MIN_REQUESTS",
        50,
        "a window must hold this many canary requests (else it waits for traffic)",
        low=1,
        high=10**9,
    )
    max_error_rate: float = setting(
        "OCCULOOP_CANARY_MAX_ERROR_RATE", 0.01, "failed / requests of the canary in the window", high=1.0
    )
    max_p99_ms: float = setting(
        "OCCULOOP_CANARY_MAX_P99_MS", 250.0, "the canary's engine p99 latency, worst report in the window", low=0.1
    )
    max_rate_shift: float = setting(
        "OCCULOOP_CANARY_MAX_RATE_SHIFT", 0.15, "|canary - champion| share of readings predicted occupied", high=1.0
    )
    silence_seconds: float = setting(
        "OCCULOOP_CANARY_SILENCE_SECONDS",
        30.0,
        "the champion is busy but the canary counts nothing this long: failing",
        low=0.1,
    )
    max_accuracy_drop: float = setting(
        "OCCULOOP_CANARY_MAX_ACCURACY_DROP",
        0.05,
        "roll back when champion - canary live accuracy on labeled served minutes exceeds this",
        high=1.0,
    )
    min_labeled: int = setting(
        "OCCULOOP_CANARY_MIN_LABELED",
        50,
        "live accuracy is judged once each has this many labeled readings",
        low=1,
        high=10**9,
    )
    labels_seconds: float = setting(
        "OCCULOOP_CANARY_LABELS_SECONDS", 30.0, "during a ramp, how often to look for newer labels", low=0.1
    )
    labels_project: str = setting(
        "OCCULOOP_DATASET_PROJECT", SyncSettings.dataset_project, "the labeled dataset the sync writes: its project"
    )
    labels_name: str = setting("OCCULOOP_DATASET_NAME", SyncSettings.dataset_name, "the labeled dataset's name")
    probe_url: str = setting(
        "OCCULOOP_CANARY_PROBE_URL", "", "the inference app: a new version must answer a reading there first"
    )
    probe_seconds: float = setting(
        "OCCULOOP_CANARY_PROBE_SECONDS",
        30.0,
        "how long a new version may take to answer the probe (the app loads it on its next poll)",
        low=1.0,
    )
    http_host: str = setting("OCCULOOP_ROLLOUT_HOST", "127.0.0.1", "the HTTP interface (GET /status, GET /healthz)")
    http_port: int = setting("OCCULOOP_ROLLOUT_PORT", 8092, "the HTTP port (0 picks a free one)")
    rollout: RolloutSettings = nested(RolloutSettings())
    serving: ServingSettings = nested(ServingSettings())


SERVICES = ("sync", "trigger", "rollout")


def _services(raw: str) -> tuple[str, ...]:
    chosen = Words().parse(raw)
    unknown = sorted(set(chosen) - set(SERVICES))
    if unknown:
        raise Invalid(f"unknown {', '.join(unknown)}")
    return chosen


@dataclass(frozen=True)
class ServiceTaskSettings(FromEnvironment):
    """`occuloop sync|trigger|rollout --remote QUEUE` and `occuloop services-agent`: the services as ClearML service
    tasks run by one clearml-agent in services mode."""

    project: str = setting(
        "OCCULOOP_SERVICES_PROJECT", "occuloop/services", "where the service tasks live (also the trigger's scheduler)"
    )
    queue: str = setting("OCCULOOP_SERVICES_QUEUE", "occuloop-services", "the services agent's queue")
    worker_id: str = setting(
        "OCCULOOP_SERVICES_WORKER_ID",
        "occuloop-services-agent",
        "the services agent's worker id: keep it across restarts",
    )
    services: tuple[str, ...] = setting(
        "OCCULOOP_SERVICES",
        SERVICES,
        "what the services agent registers and runs",
        kind=Custom(
            _services,
            ",".join,
            "a comma-separated subset of sync, trigger, rollout",
            "^(sync|trigger|rollout)(,(sync|trigger|rollout))*$",
        ),
    )
    stop_seconds: float = setting(
        "OCCULOOP_SERVICES_STOP_SECONDS",
        90.0,
        "a replaced task's time to stop cleanly (the SDK's abort poll + the service's bound)",
        low=1.0,
    )
    log: LogSettings = nested(LogSettings())


@dataclass(frozen=True)
class UiSettings(FromEnvironment):
    """`occuloop ui`: the read-only web UI over a ClearML server and the loop's services.

    It is a plain REST client of the ClearML API (no SDK), so it takes the API's address and a key pair from the
    standard `CLEARML_API_HOST`, `CLEARML_API_ACCESS_KEY`, `CLEARML_API_SECRET_KEY` (its own read credentials on a
    cluster); they never reach the browser. Like every ClearML client's, those are not occuloop's declared
    settings: `from_env` reads them beside the declared ones."""

    host: str = setting("OCCULOOP_UI_HOST", "127.0.0.1", "the UI's interface (0.0.0.0 in a container)")
    port: int = setting(
        "OCCULOOP_UI_PORT", 8080, "the UI's port (8080: the web port the ClearML SDK derives from an API on 8008)"
    )
    poll_seconds: float = setting(
        "OCCULOOP_UI_POLL_SECONDS", 3.0, "live regions re-poll this often (paused while the tab is hidden)", low=0.5
    )
    sync_url: str = setting(
        "OCCULOOP_UI_SYNC_URL", f"http://127.0.0.1:{SyncSettings.http_port}", "the sync's HTTP API (status, quarantine)"
    )
    trigger_url: str = setting(
        "OCCULOOP_UI_TRIGGER_URL", f"http://127.0.0.1:{TriggerSettings.http_port}", "the trigger's HTTP API (status)"
    )
    rollout_url: str = setting(
        "OCCULOOP_UI_ROLLOUT_URL",
        f"http://127.0.0.1:{CanarySettings.http_port}",
        "the canary controller's HTTP API (status)",
    )
    # where the services keep the loop's records: their own settings, read from the same variables
    dataset_project: str = setting(
        "OCCULOOP_DATASET_PROJECT", SyncSettings.dataset_project, "project of the labeled dataset"
    )
    training_project: str = setting(
        "OCCULOOP_TRAINING_PROJECT", TriggerSettings.training_project, "where the training runs are"
    )
    rollout_project: str = setting(
        "OCCULOOP_ROLLOUT_PROJECT", RolloutSettings.project, "the champion pointer and the decision receipts"
    )
    serving_project: str = setting(
        "OCCULOOP_SERVING_PROJECT", ServingSettings.service_project, "the serving control plane's project"
    )
    auth_user: str | None = setting("OCCULOOP_UI_USER", None, "built-in basic auth: the user (with the password)")
    auth_password: str | None = setting("OCCULOOP_UI_PASSWORD", None, "built-in basic auth: the password")
    log: LogSettings = nested(LogSettings())
    api_host: str = ""  # CLEARML_API_HOST and the key pair (see above)
    access_key: str = ""
    secret_key: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        return dataclasses.replace(
            super().from_env(environ),
            api_host=environ.get("CLEARML_API_HOST") or "",
            access_key=environ.get("CLEARML_API_ACCESS_KEY") or "",
            secret_key=environ.get("CLEARML_API_SECRET_KEY") or "",
        )

    def validate(self) -> UiSettings:
        missing = [
            name
            for name, value in (
                ("CLEARML_API_HOST", self.api_host),
                ("CLEARML_API_ACCESS_KEY", self.access_key),
                ("CLEARML_API_SECRET_KEY", self.secret_key),
            )
            if not value
        ]
        if missing:
            raise SettingsError(f"set {', '.join(missing)} (the ClearML API the UI reads), or pass --data-dir")
        if bool(self.auth_user) != bool(self.auth_password):
            raise SettingsError("OCCULOOP_UI_USER and OCCULOOP_UI_PASSWORD must be set together")
        return self


# Every settings group, for the reference tables and the chart (services/settings_reference.py).
GROUPS: tuple[type[FromEnvironment], ...] = (
    ServerSettings,
    SyncSettings,
    TriggerSettings,
    ServingSettings,
    RolloutSettings,
    GateSettings,
    CanarySettings,
    ServiceTaskSettings,
    UiSettings,
    LogSettings,
)


def environment_epilog(*groups: type[FromEnvironment], clearml: bool = True) -> str:
    """The `--help` epilog of a command reading these groups: every variable with its meaning and default."""
    text = environment_help(*groups)
    if clearml:
        text += "  plus the ClearML clients' own CLEARML_API_HOST, CLEARML_FILES_HOST, CLEARML_API_ACCESS_KEY and\n"
        text += "  CLEARML_API_SECRET_KEY (the server to talk to)\n"
    return text
