"""One `occuloop server` process per test module, driven by the real clearml, clearml-agent and clearml-serving."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services.child_processes import EmbeddedServer, inherited_environment, start_embedded_server, tail
from tests.support.clients import Clients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data_dir = tmp_path_factory.mktemp("server")
    running = start_embedded_server(data_dir, env=inherited_environment(os.environ))
    yield running
    code = running.child.stop()
    assert code == 0, f"server did not stop cleanly:\n{tail(running.child.log_path)}"
    assert "Traceback" not in running.child.log_path.read_text(), tail(running.child.log_path, 60)


@pytest.fixture(scope="module")
def clients(server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Clients:
    return Clients(server, tmp_path_factory.mktemp("clients"))
