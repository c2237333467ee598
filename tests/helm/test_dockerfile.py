"""The Dockerfile: hadolint clean at the strictest threshold, and the structure the chart relies on."""

from __future__ import annotations

import re
import subprocess

from .conftest import HADOLINT, ROOT, require

DOCKERFILE = (ROOT / "Dockerfile").read_text()
TARGETS = ("server", "services", "training", "serving")


def stages() -> dict[str, list[str]]:
    """Instructions per stage name (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    result: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = match.group(2) or match.group(1)
            result[current] = [line]
        elif current is not None:
            result[current].append(line)
    return result


def test_hadolint_clean() -> None:
    result = subprocess.run(
        [str(require(HADOLINT)), "--failure-threshold", "style", str(ROOT / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_is_pinned_and_never_latest() -> None:
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert "latest" not in DOCKERFILE.replace("non latest", "")
    for name, lines in stages().items():
        image = lines[0].split()[1]
        assert image in ("${PYTHON_IMAGE}", "scratch") or image.startswith(("runtime", "venv-", "serving")), (
            name,
            image,
        )


def test_every_target_runs_as_the_non_root_user_with_an_exec_form_entrypoint() -> None:
    all_stages = stages()
    for target in TARGETS:
        lines = all_stages[target]
        assert lines[0].split()[1] == "runtime", target
        users = [line for line in lines if line.startswith("USER ")]
        assert users == ["USER 10001:10001"], (target, users)
        entrypoints = [line for line in lines if line.startswith("ENTRYPOINT")]
        assert entrypoints == ['ENTRYPOINT ["occuloop"]'], target
        health = [line for line in lines if line.startswith("HEALTHCHECK")]
        assert len(health) == 1, target
        if target in ("server", "serving"):
            assert "CMD" in health[0], target  # long-running servers check their own port
    runtime = all_stages["runtime"]
    assert any("useradd --uid 10001" in line for line in runtime)
    assert any("HOME=/tmp" in line for line in runtime)  # the only writable path under readOnlyRootFilesystem


def test_roles_install_only_their_extras_from_the_lock() -> None:
    all_stages = stages()
    installs = {name: " ".join(lines) for name, lines in all_stages.items() if name.startswith("venv-")}
    assert '".[k8s,ui]"' in installs["venv-services"]  # the services image also runs `occuloop ui`
    assert "--constraint requirements.lock" in installs["venv-services"]
    assert "train" in installs["venv-training"] and "serve" not in installs["venv-training"]
    assert '".[serve]"' in installs["venv-serving"]  # onnxruntime, no TensorFlow: issue 20
    assert all_stages["venv-serving"][0].split()[1] == "venv-source"  # not built on top of the training venv
    assert "train" in installs["venv-serving-tensorflow"] and "serve" in installs["venv-serving-tensorflow"]
    with_tensorflow = all_stages[
        "serving-tensorflow"
    ]  # the serving target (its user, probe, command), TensorFlow added
    assert with_tensorflow[0].split()[1] == "serving" and "venv-serving-tensorflow" in with_tensorflow[1]
    assert "sha256sum --check" in " ".join(all_stages["kubectl"])
    assert any("/usr/local/bin/kubectl" in line for line in all_stages["services"])


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".tools", ".git", "tests", ".occuloop"} <= ignored
