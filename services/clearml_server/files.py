"""The file store behind the file server: object paths → files under the data dir, and nothing outside it.

An object path is what the SDK sends as the multipart field name or the URL path, e.g.
`/demo/train.<id>/artifacts/df/df.csv.gz`: one leading `/` marks the root. Anything that could reach outside the
root is refused with a reason — `..` or `.` segments, a second leading slash (an absolute path), empty segments,
backslashes, NUL bytes, or a symlink that resolves elsewhere. Callers percent-decode exactly once before this.

Uploads are written to a staging folder on the same file system and renamed into place when complete, so a
reader never sees half a file and a crash mid-upload leaves nothing behind under the root.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

MAX_PATH_LENGTH = 4096
MAX_SEGMENT_LENGTH = 255


class PathRejected(ValueError):
    """An object path that must not be served or written; the message says why."""


def normalize_object_path(object_path: str) -> str:
    """The canonical relative form of an object path, or PathRejected."""
    if not object_path:
        raise PathRejected("empty path")
    if len(object_path) > MAX_PATH_LENGTH:
        raise PathRejected("path too long")
    if "\x00" in object_path:
        raise PathRejected("NUL byte in path")
    if "\\" in object_path:
        raise PathRejected("backslash in path")
    relative = object_path[1:] if object_path.startswith("/") else object_path
    if relative.startswith("/"):
        raise PathRejected("absolute path")
    if not relative:
        raise PathRejected("empty path")
    segments = relative.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise PathRejected(f"invalid path segment '{segment}'")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise PathRejected("path segment too long")
    return "/".join(segments)


class Upload:
    """One object being received: bytes go to a staging file, `commit()` renames it into place atomically."""

    def __init__(self, target: Path, staging_file: Path, durable: bool) -> None:
        self.target = target
        self._staging_file = staging_file
        self._durable = durable
        self._handle = open(staging_file, "wb")  # noqa: SIM115 - closed by commit() or abort()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self.size += len(data)

    def commit(self) -> None:
        try:
            if self._durable:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self._handle.close()
            self.target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._staging_file, self.target)
        finally:
            self.abort()

    def abort(self) -> None:
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self._staging_file.unlink()


class FileStore:
    def __init__(self, root: Path, staging: Path, *, durable: bool = False) -> None:
        self.root = root
        self.staging = staging
        self._durable = durable
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir(parents=True, exist_ok=True)
        self._real_root = os.path.realpath(root)
        self.clean_staging()

    def clean_staging(self) -> int:
        """Drop uploads a crash interrupted: they were never acknowledged."""
        removed = 0
        for leftover in self.staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed += 1
        return removed

    def resolve(self, object_path: str) -> Path:
        relative = normalize_object_path(object_path)
        target = self.root / relative
        real = os.path.realpath(target)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise PathRejected("path resolves outside the file store")
        return target

    def existing_file(self, object_path: str) -> Path | None:
        target = self.resolve(object_path)
        return target if target.is_file() else None

    def begin_upload(self, object_path: str) -> Upload:
        """A new object, written to staging; it appears at its path only when `commit()` is called."""
        return Upload(self.resolve(object_path), self.staging / f"upload-{secrets.token_hex(8)}", self._durable)

    def delete(self, object_path: str) -> bool:
        target = self.resolve(object_path)
        if not target.is_file():
            return False
        target.unlink()
        self._prune_empty_parents(target.parent)
        return True

    def _prune_empty_parents(self, folder: Path) -> None:
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
