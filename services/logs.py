"""Logging set-up, done once by each command's entry point: one line per decision, `event=... key=value`.

Text on a terminal, JSON in the cluster (`OCCULOOP_LOG_FORMAT=json`), so `kubectl logs` reads as a story and a
log pipeline can still parse it. Modules only call `logging.getLogger(__name__)` (no other module of services/
sets a handler; training/train.py, which must not import services, sets its own) and write a decision as one
`event=<name> key=value ...` line: `log_event(logger, "canary_step", model_id=..., weight=0.5)` renders keyword
fields the same way everywhere (free text quoted, floats `%g`, structures as compact JSON); lines whose values are
only ids and numbers also use a plain `%s` format string.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

from .settings import LogSettings

_PAIR = re.compile(r'(\w+)=("[^"]*"|\S+)')


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `key=value` pairs in the message become fields too."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        document: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
        }
        for key, value in _PAIR.findall(message):
            document.setdefault(key, value.strip('"'))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)


def quoted(text: str) -> str:
    """A free-text value for a `key=value` log line: in double quotes, inner double quotes made single."""
    return '"' + text.replace('"', "'") + '"'


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quoted(value) if not value or any(c.isspace() or c in '"=' for c in value) else value
    return json.dumps(value, separators=(",", ":"), default=str)  # no spaces: one `\S+` value for the JSON logs


def fields(**values: Any) -> str:
    """`key=value` pairs for a log line, in the order given."""
    return " ".join(f"{key}={_value(value)}" for key, value in values.items())


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, exc_info: bool = False, **values: Any
) -> None:
    """One decision, one line: `event=<event> key=value ...` (with the traceback of the exception being handled
    when `exc_info`)."""
    if logger.isEnabledFor(level):
        logger.log(level, "event=%s %s", event, fields(**values), exc_info=exc_info, stacklevel=2)
