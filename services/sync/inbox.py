"""The labeling tool's output folder, as the sync service sees it: the only module of the service that moves files
(the labeling tool's side is client.py).

    <inbox>/                      the labeling tool writes finished session CSVs here
    <inbox>/quarantine/           rejected files, each beside `<name>.reason.json`
    <inbox>/.occuloop-sync/       the service's own state (never touched by the tool):
        journal.sqlite3           see journal.py
        staged/<sha256>/<name>    accepted files waiting for (or in) the open draft version
        archive/<sha256>/<name>   files of finalized versions, and identical re-submissions

A file is finished when the tool says so: a `<name>.done` marker (or `<name>.csv.done`), or — unless completion is
`marker` — when it has not changed for `settle_seconds` (a tool that writes to a temporary name and renames into
place produces such a file at once). Temporary names (`.*`, `*.tmp`, `*.part`, `*.partial`) are never read.
Moves are renames within one file system, so a file is always in exactly one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE_DIR = ".occuloop-sync"
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".swp")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Inbox:
    root: Path
    completion: str = "auto"
    settle_seconds: float = 2.0
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (size, mtime_ns) at last scan

    def __post_init__(self) -> None:
        for folder in (self.root, self.quarantine_dir, self.staged_dir, self.archive_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite3"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def staged_dir(self) -> Path:
        return self.state_dir / "staged"

    @property
    def archive_dir(self) -> Path:
        return self.state_dir / "archive"

    def finished(self, now_wall: float, *, settle_seconds: float | None = None) -> list[Path]:
        """CSV files the labeling tool has finished, oldest first. `settle_seconds=0` takes every CSV now (the
        labeler pressed "upload": they say everything is written)."""
        settle = self.settle_seconds if settle_seconds is None else settle_seconds
        ready = []
        for path in sorted(self.root.iterdir(), key=lambda item: item.name):
            if not path.is_file() or path.suffix.lower() != ".csv" or path.name.startswith("."):
                continue
            if any(path.name.endswith(suffix) for suffix in TEMPORARY_SUFFIXES):
                continue
            if self._marker(path) is not None or (
                self.completion == "auto" and (settle == 0 or self._settled(path, now_wall, settle))
            ):
                ready.append(path)
        return sorted(ready, key=lambda item: (item.stat().st_mtime_ns, item.name))

    def _marker(self, path: Path) -> Path | None:
        for marker in (path.with_name(path.name + ".done"), path.with_suffix(".done")):
            if marker.exists():
                return marker
        return None

    def _settled(self, path: Path, now_wall: float, settle: float) -> bool:
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        previous = self._seen.get(path.name)
        self._seen[path.name] = signature
        unchanged_long_enough = now_wall - stat.st_mtime >= settle
        return unchanged_long_enough and (previous is None or previous == signature)

    def _forget(self, path: Path) -> None:
        self._seen.pop(path.name, None)
        marker = self._marker(path)
        if marker is not None:
            marker.unlink(missing_ok=True)

    def stage(self, path: Path, sha256: str) -> Path:
        """Move an accepted file under staged/<sha256>/<name> (its name in the dataset)."""
        target = self.staged_dir / sha256 / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self._forget(path)
        return target

    def staged_path(self, sha256: str, name: str) -> Path:
        return self.staged_dir / sha256 / name

    def archive(self, sha256: str, name: str) -> None:
        """A staged file's version is finalized: keep it as history (and as the drift reference)."""
        source = self.staged_path(sha256, name)
        if source.exists():
            target = self.archive_dir / sha256 / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            shutil.rmtree(source.parent, ignore_errors=True)

    def archived_copy(self, sha256: str, name: str) -> Path | None:
        """The archived file with this content and name, if this inbox has it (a squash reads it from here)."""
        path = self.archive_dir / sha256 / name
        return path if path.is_file() else None

    def set_aside_duplicate(self, path: Path, sha256: str) -> Path:
        target = self.archive_dir / "duplicates" / f"{sha256[:12]}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self._forget(path)
        return target

    def quarantine(self, path: Path, reasons: dict[str, Any]) -> Path:
        """Move a rejected file to quarantine/ and write, beside it, why — for a person to read."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.quarantine_dir / path.name
        if target.exists():
            target = self.quarantine_dir / f"{path.stem}.{stamp}{path.suffix}"
        reason_file = target.with_name(target.name + ".reason.json")
        reason_file.write_text(
            json.dumps({"file": path.name, "quarantined_at": stamp, **reasons}, indent=2, default=str)
        )
        os.replace(path, target)
        self._forget(path)
        return target

    def orphans(self, known: set[str]) -> list[Path]:
        """Staged files the journal does not know (a crash between the move and the journal write)."""
        return [path for path in self.staged_dir.glob("*/*") if path.parent.name not in known]

    def archived_files(self, limit: int) -> list[Path]:
        files = [path for path in self.archive_dir.glob("*/*.csv") if path.parent.name != "duplicates"]
        return sorted(files, key=lambda path: path.stat().st_mtime)[-limit:]
