"""The configuration reference, written from the declarations in `services/settings.py`: the README's tables and
the chart's `config:` values (with `@param` comments) and their schema.

`make settings-reference` (`python -m services.settings_reference`) rewrites the generated parts of README.md,
helm/occuloop/values.yaml and helm/occuloop/values.schema.json; `--check` only says whether they are current, and
tests/services/test_settings_reference.py fails when they are not. A new setting therefore needs no hand-written
documentation: declare it, run the target, commit what changed.

On Kubernetes every setting is set one of two ways. Most go through the chart's `config:` map, keyed by variable
and rendered into the ConfigMap; the few the chart derives from its own values (ports, hosts, the inbox mount, the
services' URLs) are listed in CHART_SETS with where they come from, and `config:` refuses them (its schema lists
only the others), so no value is set twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .setting import Declared, Flag, Integer, Number, declared
from .settings import GROUPS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
VALUES = ROOT / "helm" / "occuloop" / "values.yaml"
SCHEMA = ROOT / "helm" / "occuloop" / "values.schema.json"
BEGIN, END = "settings reference: begin (make settings-reference writes this part)", "settings reference: end"
README_MARKERS = (f"<!-- {BEGIN} -->", f"<!-- {END} -->")
VALUES_MARKERS = (f"# -- {BEGIN}", f"# -- {END}")


@dataclass(frozen=True)
class ChartSets:
    """How the chart sets a variable itself: `how` is `configmap` (a ConfigMap key), `env` (a container's env
    entry), `flag --x` (a command-line flag in the container's args) or `never` (not a pod's to set); `source` says
    from what."""

    how: str
    source: str
    values_key: str = ""  # the values.yaml key it comes from, when there is one


CHART_SETS = {
    "OCCULOOP_DATA_DIR": ChartSets("flag --data-dir", "`/data`, the server's volume"),
    "OCCULOOP_SERVER_HOST": ChartSets("flag --host", "`0.0.0.0`"),
    "OCCULOOP_API_PORT": ChartSets("flag --api-port", "`server.service.apiPort`", "server.service.apiPort"),
    "OCCULOOP_FILES_PORT": ChartSets("flag --files-port", "`server.service.filesPort`", "server.service.filesPort"),
    "OCCULOOP_SERVER_PUBLIC_HOST": ChartSets("flag --public-host", "the server Service's name"),
    "OCCULOOP_SERVER_ACCESS_KEY": ChartSets("env", "the credentials Secret (`clearml.*`)", "clearml.secretKeys"),
    "OCCULOOP_SERVER_SECRET_KEY": ChartSets("env", "the credentials Secret (`clearml.*`)", "clearml.secretKeys"),
    "OCCULOOP_SERVER_FSYNC": ChartSets("env", "`server.fsync`", "server.fsync"),
    "OCCULOOP_LOG_FORMAT": ChartSets("configmap", "`json`"),
    "OCCULOOP_SYNC_INBOX": ChartSets("configmap", "`/inbox`, the `sync.inbox` volume", "sync.inbox"),
    "OCCULOOP_DATASET_PROJECT": ChartSets("configmap", "`sync.datasetProject`", "sync.datasetProject"),
    "OCCULOOP_DATASET_NAME": ChartSets("configmap", "`sync.datasetName`", "sync.datasetName"),
    "OCCULOOP_PRODUCTION_TAG": ChartSets("configmap", "`sync.productionTag`", "sync.productionTag"),
    "OCCULOOP_SYNC_QUIET_SECONDS": ChartSets("configmap", "`sync.quietSeconds`", "sync.quietSeconds"),
    "OCCULOOP_SYNC_BATCH_SIZE": ChartSets("configmap", "`sync.batchSize`", "sync.batchSize"),
    "OCCULOOP_SYNC_HOST": ChartSets("configmap", "`0.0.0.0`"),
    "OCCULOOP_SYNC_PORT": ChartSets("configmap", "`sync.port`", "sync.port"),
    "OCCULOOP_TRIGGER_URL": ChartSets("configmap", "the trigger Service and `trigger.pushPath`", "trigger.pushPath"),
    "OCCULOOP_TRIGGER_HOST": ChartSets("configmap", "`0.0.0.0`"),
    "OCCULOOP_TRIGGER_PORT": ChartSets("configmap", "`trigger.port`", "trigger.port"),
    # `services.mode: agent` runs `occuloop services-agent`, which registers the services itself
    "OCCULOOP_TRIGGER_REMOTE_QUEUE": ChartSets("never", "never: a command-line choice, not a pod's"),
    "OCCULOOP_SERVICES": ChartSets("flag --services", "the enabled services (`services.mode: agent`)"),
    "OCCULOOP_SERVICES_QUEUE": ChartSets("flag --queue", "`services.agent.queue`", "services.agent.queue"),
    "OCCULOOP_SERVICES_WORKER_ID": ChartSets("flag --worker-id", "the services agent's name"),
    "OCCULOOP_TRAINING_QUEUE": ChartSets("configmap", "`training.queue`", "training.queue"),
    "OCCULOOP_TEMPLATE_PARAMETERS": ChartSets("configmap", "`General/gate_queue=` `training.queue`", "training.queue"),
    "OCCULOOP_GATE_ON_PASS": ChartSets(
        "configmap", "`canary` with `rollout.enabled`, else `promote`", "rollout.enabled"
    ),
    "OCCULOOP_ROLLOUT_HOST": ChartSets("configmap", "`0.0.0.0`"),
    "OCCULOOP_ROLLOUT_PORT": ChartSets("configmap", "`rollout.port`", "rollout.port"),
    "OCCULOOP_CANARY_PROBE_URL": ChartSets("configmap", "the serving Service", "serving.port"),
    "OCCULOOP_SERVING_NAME": ChartSets("configmap", "`serving.serviceName`", "serving.serviceName"),
    "OCCULOOP_SERVING_ENDPOINT": ChartSets("configmap", "`serving.endpoint`", "serving.endpoint"),
    "OCCULOOP_SERVING_HOST": ChartSets("flag --host", "`0.0.0.0`"),
    "OCCULOOP_SERVING_PORT": ChartSets("flag --port", "`serving.port`", "serving.port"),
    # the UI (`ui.enabled`): its address, the services it reads and its basic auth come from the `ui:` values
    "OCCULOOP_SERVER_WEB_HOST": ChartSets("configmap", "the UI's URL (its Ingress, else its Service)", "ui.ingress"),
    "OCCULOOP_UI_HOST": ChartSets("flag --host", "`0.0.0.0`"),
    "OCCULOOP_UI_PORT": ChartSets("configmap", "`ui.port`", "ui.port"),
    "OCCULOOP_UI_POLL_SECONDS": ChartSets("configmap", "`ui.pollSeconds`", "ui.pollSeconds"),
    "OCCULOOP_UI_SYNC_URL": ChartSets("configmap", "the sync Service and `sync.service.port`", "sync.service.port"),
    "OCCULOOP_UI_TRIGGER_URL": ChartSets("configmap", "the trigger Service and `trigger.port`", "trigger.port"),
    "OCCULOOP_UI_ROLLOUT_URL": ChartSets("configmap", "the rollout Service and `rollout.port`", "rollout.port"),
    "OCCULOOP_UI_USER": ChartSets("env", "the basic-auth Secret (`ui.auth.*`)", "ui.auth.existingSecret"),
    "OCCULOOP_UI_PASSWORD": ChartSets("env", "the basic-auth Secret (`ui.auth.*`)", "ui.auth.existingSecret"),
}
# Set through `config:` for every pod, but the server pod's own comes from this value.
CHART_ALSO = {"OCCULOOP_LOG_LEVEL": "the server pod: `server.logLevel`"}


def settings() -> Iterator[Declared]:
    """Every declared setting once per group that reads it (a group's nested groups are their own entries)."""
    for group in GROUPS:
        yield from declared(group, nested_groups=False)


def configurable() -> dict[str, Declared]:
    """The variables of the chart's `config:` map: every one the chart does not set itself, first declaration."""
    chosen: dict[str, Declared] = {}
    for item in settings():
        if item.env not in CHART_SETS:
            chosen.setdefault(item.env, item)
    return chosen


# -- README ---------------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _chart_cell(env: str) -> str:
    if env in CHART_SETS:
        return _cell(CHART_SETS[env].source)
    also = f" ({CHART_ALSO[env]})" if env in CHART_ALSO else ""
    return f"`config.{env}`{also}"


def readme_block() -> str:
    lines = []
    for group in GROUPS:
        rows = list(declared(group, nested_groups=False))
        summary = (group.__doc__ or group.__name__).strip().splitlines()[0]
        lines += [f"**{group.__name__}** — {summary}", ""]
        lines += ["| variable | default | accepts | meaning | on Kubernetes |", "| --- | --- | --- | --- | --- |"]
        for item in rows:
            default = f"`{item.default_text}`" if item.default_text else "—"
            lines.append(
                f"| `{item.env}` | {_cell(default)} | {_cell(item.setting.kind.expected)} "
                f"| {_cell(item.setting.help)} | {_chart_cell(item.env)} |"
            )
        lines.append("")
    return "\n".join(lines)


# -- the chart --------------------------------------------------------------------------------------------------------


def _yaml_scalar(item: Declared) -> str:
    kind, value = item.setting.kind, item.default
    if isinstance(kind, Flag):
        return "true" if value else "false"
    if isinstance(kind, Integer | Number):
        return item.default_text
    return json.dumps(item.default_text)  # a double-quoted YAML string


def values_block() -> str:
    lines = [
        "## @section Settings",
        "## Every occuloop setting the chart does not derive from the values above, by environment variable, rendered",
        '## into the ConfigMap of every occuloop pod (README "Configuration"). Written from services/settings.py by',
        "## `make settings-reference`; the schema refuses unknown keys and values out of range.",
        "config:",
    ]
    for env, item in configurable().items():
        lines.append(f"  ## @param config.{env} {item.setting.help} ({item.setting.kind.expected})")
        lines.append(f"  {env}: {_yaml_scalar(item)}")
    return "\n".join(lines)


def config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "occuloop settings by environment variable (services/settings.py)",
        "additionalProperties": False,
        "properties": {
            env: {**item.setting.kind.schema(), "description": item.setting.help}
            for env, item in configurable().items()
        },
    }


# -- writing and checking -------------------------------------------------------------------------------------------


def _between(text: str, markers: tuple[str, str], block: str, path: Path) -> str:
    begin, end = markers
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: the markers {begin!r} and {end!r} are missing")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}\n{end}{tail}"


def rendered() -> dict[Path, str]:
    """Each file as it should be."""
    schema = json.loads(SCHEMA.read_text())
    schema["properties"]["config"] = config_schema()
    return {
        README: _between(README.read_text(), README_MARKERS, readme_block(), README),
        VALUES: _between(VALUES.read_text(), VALUES_MARKERS, values_block(), VALUES),
        SCHEMA: json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
    }


def stale() -> list[Path]:
    return [path for path, text in rendered().items() if path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.settings_reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is not current; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        behind = stale()
        for path in behind:
            print(f"{path.relative_to(ROOT)} is not current: run `make settings-reference`")
        return 1 if behind else 0
    for path, text in rendered().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
