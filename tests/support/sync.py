"""Run `occuloop sync` as a child process against a test server, and look at what it produced."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import requests

from services.loop_state import SQUASH_TAG
from tests.support.clients import Clients
from tests.support.service_process import ServiceProcess


class SyncProcess(ServiceProcess):
    def __init__(
        self,
        clients: Clients,
        inbox: Path,
        *,
        name: str = "sync",
        quiet: float = 1.0,
        batch: int = 50,
        dataset: str = "labeled",
        feed_chunk: int = 100,
        squash_depth: int = 0,
    ) -> None:
        super().__init__(
            clients,
            name,
            {
                "OCCULOOP_SYNC_POLL_SECONDS": "0.2",
                "OCCULOOP_SYNC_FEED_CHUNK": str(feed_chunk),
                "OCCULOOP_SYNC_SQUASH_DEPTH": str(squash_depth),
            },
        )
        self.inbox = inbox
        self.argv = [
            sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", str(self.port),
            "--quiet-seconds", str(quiet), "--batch-size", str(batch), "--dataset-name", dataset,
        ]  # fmt: skip

    def ready(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def sync_now(self, wait: float = 60) -> dict[str, Any]:
        return dict(requests.post(f"{self.url}/sync?wait={wait:g}", timeout=wait + 10).json())

    def wait_until_idle(self, timeout: float = 120) -> dict[str, Any]:
        """Nothing left in the inbox (but quarantine) and nothing staged."""

        def idle() -> dict[str, Any] | None:
            # the inbox first: a file taken in after this look is staged (or committed) by the time of the status
            waiting = [path for path in self.inbox.iterdir() if path.is_file() and path.suffix == ".csv"]
            status = self.status()
            return status if status["state"] == "idle" and status["staged_files"] == 0 and not waiting else None

        return dict(self.clients.api.wait_for(f"{self.name} to be idle", idle, timeout=timeout, interval=0.3))


def versions(clients: Clients, dataset: str = "labeled") -> list[dict[str, Any]]:
    return list(clients.flow("dataset_versions", "occuloop/labels", dataset)["versions"])


def assert_one_clean_chain(all_versions: list[dict[str, Any]], accepted: set[str]) -> None:
    """The dataset is one chain of finalized versions: each built on the previous one (its SDK parent, or for a
    squash the version it replaced), every accepted file added by exactly one `Production` version and never
    re-uploaded as a modification, every squash (a root, or a child of an earlier root) holding exactly its
    predecessor's files (same SHA-256) with each file traced to the version that added it, and the newest version
    holding every file."""
    unfinished = [item for item in all_versions if item["status"] != "completed"]
    assert not unfinished, f"drafts left behind: {unfinished}"
    assert all(item["tags"] != ["Production"] for item in all_versions if item["archived"])
    live = sorted((item for item in all_versions if not item["archived"]), key=lambda item: item["completed"])
    adder: dict[str, str] = {}  # file -> the version that added it
    roots: set[str] = set()  # versions without an SDK parent: a segment squash is built on one of them
    previous: dict[str, Any] | None = None
    for item in live:
        chain_parent = item.get("squash_of") or item["parent"]
        assert chain_parent == (previous["id"] if previous else None), "the versions do not form one chain"
        if item["parent"] is None:
            roots.add(item["id"])
        if item.get("squash_of"):
            assert previous is not None and item["tags"] == [SQUASH_TAG], item["tags"]
            assert item["parent"] is None or item["parent"] in roots, "a segment squash is not built on a root"
            assert item["hashes"] == previous["hashes"], "a squash changed the content"
            traced = {name: origin["dataset_id"] for name, origin in item["metadata"]["lineage"].items()}
            assert traced == {name: adder[name] for name in item["files"]}, "a squashed root misnames a session"
        else:
            assert item["tags"] == ["Production"], item["tags"]
            assert not item["modified"], "a session was uploaded again as a modification"
            for name in item["added"]:
                assert name not in adder, f"{name} was added twice"
                adder[name] = item["id"]
        previous = item
    assert sorted(adder) == sorted(accepted), "a session is missing"
    assert live and set(live[-1]["files"]) == accepted
