"""The file server: `POST /` multipart uploads, `GET`/`HEAD`/`DELETE /<path>`, `POST /delete_many`, `GET /` ping.

The SDK uploads with the multipart field name set to the object path (wire protocol doc §5). Uploads are parsed
as a stream and written straight to staging files, downloads go out with `sendfile`: a 1 GB object never sits
in memory. Parts are committed together only after the whole body arrived, so a failed or interrupted upload
leaves nothing behind. The same bearer token as the API is required (unless disabled).
"""

from __future__ import annotations

import json
import logging
import mimetypes
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

from python_multipart.multipart import MultipartParser, parse_options_header

from ..http_base import BodyError
from .auth import Authenticator
from .documents import MonotonicClock
from .files import FileStore, PathRejected, Upload
from .metrics import Measured, ServerMetrics
from .wire import ApiError

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 64 * 1024**3  # a sanity bound, far above the SDK's 512 MB dataset chunks
MAX_DELETE_MANY_BYTES = 16 * 1024 * 1024


@dataclass
class FileServerContext:
    files: FileStore
    auth: Authenticator
    clock: MonotonicClock
    require_auth: bool
    metrics: ServerMetrics


def _html5_unescape(value: bytes) -> str:
    """Multipart names are sent HTML5-style: UTF-8 with `"`, CR and LF percent-escaped, nothing else."""
    text = value.decode("utf-8")
    return text.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


class _MultipartSink:
    """Receives the parser's callbacks and stages one upload per part."""

    def __init__(self, files: FileStore, prefix: str) -> None:
        self._files = files
        self._prefix = prefix  # non-empty when the files host has a base path (uploads POSTed to /<prefix>/)
        self.uploads: list[Upload] = []
        self.names: list[str] = []
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._current: Upload | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._grow("_header_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._grow("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _grow(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._header_field.strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        raw_name = options.get(b"name")
        if not raw_name:
            raise PathRejected("multipart part without a name (the name is the object path)")
        try:
            name = _html5_unescape(raw_name)
        except UnicodeDecodeError:
            raise PathRejected("object path is not UTF-8") from None
        if self._prefix:
            name = self._prefix + (name if name.startswith("/") else "/" + name)
        self._current = self._files.begin_upload(name)
        self.uploads.append(self._current)
        self.names.append(name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current is not None:
            self._current.write(data[start:end])

    def _part_end(self) -> None:
        self._current = None

    def abort(self) -> None:
        for upload in self.uploads:
            upload.abort()


class FileHandler(Measured):
    port_name = "files"

    def endpoint(self) -> str:
        return f"files.{self.command.lower()}" if self.command in ("GET", "HEAD", "POST", "DELETE") else "unknown"

    @property
    def context(self) -> FileServerContext:
        context: FileServerContext = self.server.context
        return context

    def _object_path(self) -> str:
        """The percent-decoded path exactly as sent: http.server folds a leading `//` into `/` in `self.path`,
        which would turn an absolute-path attempt into a harmless-looking relative one instead of a 400."""
        raw_requestline: bytes = getattr(self, "raw_requestline", b"")  # set by http.server, untyped there
        parts = raw_requestline.decode("latin-1").split()
        target = parts[1] if len(parts) >= 2 else self.path
        raw = target.split("?", 1)[0].split("#", 1)[0]
        return unquote(raw, errors="strict")

    def _authorized(self) -> bool:
        if not self.context.require_auth:
            return True
        try:
            self.context.auth.verify(self.headers.get("Authorization"), now=self.context.clock.now())
        except ApiError as error:
            self.reply_json(401, {"error": error.message})
            return False
        return True

    def _reject(self, status: int, reason: str) -> None:
        logger.info("event=file_request_rejected method=%s status=%s reason=%s", self.command, status, reason)
        self.reply_json(status, {"error": reason})

    # -- downloads ---------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        with self.server.in_flight:
            if self.path.split("?", 1)[0] in ("/", "/healthz"):
                self.reply(200, b"OK", "text/plain")
                return
            if not self._authorized():
                return
            try:
                target = self.context.files.existing_file(self._object_path())
            except (PathRejected, UnicodeDecodeError) as error:
                self._reject(400, str(error))
                return
            if target is None:
                self._reject(404, "no such object")
                return
            with open(target, "rb") as handle:
                size = target.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.send_header("Last-Modified", formatdate(target.stat().st_mtime, usegmt=True))
                self.end_headers()
                if self.command != "HEAD" and size:
                    self.connection.sendfile(handle)

    do_HEAD = do_GET

    # -- uploads -----------------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        with self.server.in_flight:
            if not self._authorized():
                self.close_connection = True
                return
            if self.path.split("?", 1)[0] == "/delete_many":
                self._delete_many()
                return
            try:
                saved = self._receive_upload()
            except BodyError as error:
                self.close_connection = True
                self._reject(error.status, error.reason)
                return
            except (PathRejected, UnicodeDecodeError, ValueError) as error:
                self.close_connection = True
                self._reject(400, str(error))
                return
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as error:
                self.close_connection = True
                self._reject(409, f"path conflicts with an existing object: {error.strerror}")
                return
            logger.debug("event=files_uploaded count=%d", len(saved))
            self.reply_json(200, saved)

    def _receive_upload(self) -> list[str]:
        content_type, options = parse_options_header(self.headers.get("Content-Type") or "")
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise ValueError("expected multipart/form-data with a boundary (the field name is the object path)")
        prefix = self._object_path().rstrip("/")
        sink = _MultipartSink(self.context.files, prefix)
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]  # a TypedDict of callables
        try:
            for chunk in self.iter_body(MAX_UPLOAD_BYTES):
                parser.write(chunk)
            parser.finalize()
            if not sink.uploads:
                raise ValueError("no file parts in the upload")
            for upload in sink.uploads:
                upload.commit()
        except BaseException:
            sink.abort()
            raise
        return sink.names

    def _delete_many(self) -> None:
        try:
            request = json.loads(self.read_body(MAX_DELETE_MANY_BYTES) or b"{}")
        except (BodyError, ValueError) as error:
            self.close_connection = True
            self._reject(400, f"invalid body: {error}")
            return
        paths = request.get("files") if isinstance(request, dict) else None
        if not isinstance(paths, list) or not all(isinstance(item, str) for item in paths):
            self._reject(400, 'expected {"files": [object paths]}')
            return
        deleted: dict[str, bool] = {}
        errors: dict[str, str] = {}
        for path in paths:
            try:
                deleted[path] = self.context.files.delete(path)
            except PathRejected as error:
                errors[path] = str(error)
        self.reply_json(200, {"deleted": deleted, "errors": errors})

    # -- deletes -----------------------------------------------------------------------------------------------

    def do_DELETE(self) -> None:
        with self.server.in_flight:
            if not self._authorized():
                return
            try:
                removed = self.context.files.delete(self._object_path())
            except (PathRejected, UnicodeDecodeError) as error:
                self._reject(400, str(error))
                return
            if not removed:
                self._reject(404, "no such object")
                return
            self.reply_json(200, {"deleted": True})
