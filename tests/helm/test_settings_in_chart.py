"""Every occuloop setting reaches the pods: each `config:` entry is rendered into the ConfigMap and reads back as the
value that was set (numbers included: helm must not write 1e+06), and each variable the chart sets itself is set,
from the value the README names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.setting import Custom, Declared, Flag, Integer, Location, Number, OneOf, Text, Words, declared
from services.settings import GROUPS
from services.settings_reference import CHART_SETS, configurable

from .conftest import CHART, Tools, documents


def _another(item: Declared) -> Any:
    """A valid value other than the default."""
    kind, default = item.setting.kind, item.default
    if isinstance(kind, Flag):
        return not default
    if isinstance(kind, Integer):
        return default + 1_000_000 if default + 1_000_000 <= kind.high else kind.low  # 1e+06 as a bare float64
    if isinstance(kind, Number):
        return (default + kind.high) / 2 if kind.high is not None else default * 2 + 1000.5
    if isinstance(kind, OneOf):
        return next(choice for choice in kind.choices if choice != default)
    if isinstance(kind, Words):
        return ("reviewed", "Production")
    if isinstance(kind, Location):
        return Path("/elsewhere")
    if isinstance(kind, Custom):
        return {
            "OCCULOOP_CANARY_STEPS": (0.2, 1.0),
            "OCCULOOP_GATE_SLICE_MARGINS": (("night", 0.03),),
            "OCCULOOP_SERVICES": ("sync", "rollout"),
        }[item.env]
    if isinstance(kind, Text) and kind.pattern:
        return {"OCCULOOP_TRIGGER_PARAMETER": "Args/dataset"}[item.env]
    return f"{default or 'x'}-changed"


def _as_value(item: Declared, value: Any) -> Any:
    """How a user writes it in values.yaml: numbers and booleans as such, the rest as its text."""
    return value if isinstance(item.setting.kind, Flag | Integer | Number) else item.setting.kind.text(value)


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for doc in docs:
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        found += spec.get("containers", []) + spec.get("initContainers", [])
    return found


def _configmap(docs: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-config")]
    return dict(config["data"])


def test_every_config_entry_reaches_the_pods_as_the_value_set(tools: Tools, tmp_path: Path) -> None:
    chosen = {env: _another(item) for env, item in configurable().items()}
    values = tmp_path / "config-values.yaml"
    values.write_text(yaml.safe_dump({"config": {env: _as_value(configurable()[env], v) for env, v in chosen.items()}}))
    environ = _configmap(documents(tools.template("v4", "-f", str(values)).stdout))
    for group in GROUPS:
        read = group.from_env(environ)
        for item in declared(group, nested_groups=False):
            if item.env in chosen:
                assert getattr(read, item.name) == chosen[item.env], f"{item.env}: {environ[item.env]!r}"


def test_every_variable_the_chart_sets_itself_is_set_from_the_value_named(tools: Tools) -> None:
    # ui.auth.existingSecret: the UI's basic auth is set only when a Secret holds it
    docs = documents(
        tools.template("v4", "--set", "services.mode=deployments", "--set", "ui.auth.existingSecret=ui-auth").stdout
    )
    config = _configmap(docs)
    containers = _containers(docs)
    env_names = {entry["name"] for container in containers for entry in container.get("env", [])}
    args = {arg for container in containers for arg in container.get("args", [])}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for env, sets in CHART_SETS.items():
        if sets.how == "configmap":
            assert env in config, env
        elif sets.how == "env":
            assert env in env_names, env
        elif sets.how == "never":
            assert env not in config and env not in env_names, env
        elif not env.startswith("OCCULOOP_SERVICES"):  # only in services.mode=agent (below)
            assert sets.how.removeprefix("flag ") in args, env
        node = values
        for key in filter(None, sets.values_key.split(".")):
            assert key in node, f"{env}: no value {sets.values_key}"
            node = node[key]
    agent = _containers(documents(tools.template("v4", "--set", "services.mode=agent").stdout))
    agent_args = {arg for container in agent for arg in container.get("args", [])}
    for env, sets in CHART_SETS.items():
        if env.startswith("OCCULOOP_SERVICES") and sets.how.startswith("flag "):
            assert sets.how.removeprefix("flag ") in agent_args, env


def test_config_refuses_what_the_chart_sets_itself_and_values_out_of_range(tools: Tools, tmp_path: Path) -> None:
    for bad in ({"OCCULOOP_SYNC_PORT": 1}, {"OCCULOOP_CANARY_MAX_ERROR_RATE": 2}, {"OCCULOOP_CANARY_TYPO": 1}):
        values = tmp_path / "bad.yaml"
        values.write_text(yaml.safe_dump({"config": bad}))
        result = tools.template("v4", "-f", str(values), check=False)
        assert result.returncode != 0 and "config" in result.stderr, bad


def test_extra_env_reaches_each_workload(tools: Tools) -> None:
    workloads = ("server", "sync", "trigger", "rollout", "serving", "training.glue", "training.recorder", "ui")
    sets = [arg for w in workloads for arg in ("--set", f"{w}.extraEnv[0].name=EXTRA_{w.replace('.', '_').upper()}")]
    containers = _containers(documents(tools.template("v4", *sets).stdout))
    names = {entry["name"] for container in containers for entry in container.get("env", [])}
    assert {f"EXTRA_{w.replace('.', '_').upper()}" for w in workloads} <= names
