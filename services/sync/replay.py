"""`occuloop label-replay`: play the UCI data into an inbox day by day, the way a labeling tool would deliver it.

Each day becomes one session file, written under a temporary name and renamed into place (or, with `--marker`,
written in place and then marked `<name>.done`). `--corrupt KIND:DAY` delivers that day damaged instead, to
exercise the quarantine: `flipped` labels, `nan` sensor values, `swapped` Light and CO2 columns, `all-occupied`
labels.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from training.readings import write_session_csv
from training.sessions import training_sessions

from ..settings import absolute_path
from .client import finish_session, request_sync

logger = logging.getLogger(__name__)


def _flipped(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Occupancy=1 - frame["Occupancy"])


def _nan(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[::20], "CO2"] = np.nan
    return out


def _swapped(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Light=frame["CO2"], CO2=frame["Light"])


def _all_occupied(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Occupancy=1)


CORRUPTIONS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "flipped": _flipped,
    "nan": _nan,
    "swapped": _swapped,
    "all-occupied": _all_occupied,
}


def parse_corruptions(values: list[str]) -> dict[str, str]:
    """["flipped:2015-02-09"] -> {"2015-02-09": "flipped"}"""
    plan: dict[str, str] = {}
    for value in values:
        kind, _, day = value.partition(":")
        if kind not in CORRUPTIONS or not day:
            raise ValueError(f"--corrupt {value!r}: expected KIND:DAY with KIND one of {', '.join(CORRUPTIONS)}")
        plan[day] = kind
    return plan


def deliver(
    inbox: Path,
    days: list[str] | None = None,
    count: int | None = None,
    *,
    corrupt: Mapping[str, str] | None = None,
    marker: bool = False,
    interval: float = 0.0,
    sync_url: str | None = None,
    on_delivered: Callable[[str, Path], None] | None = None,
) -> list[Path]:
    """Write sessions into the inbox; returns the delivered files."""
    inbox.mkdir(parents=True, exist_ok=True)
    sessions = training_sessions()
    if days:
        wanted = set(days)
        sessions = [item for item in sessions if item.name in wanted]
    if count is not None:
        sessions = sessions[:count]
    corrupt = corrupt or {}
    staging = inbox / ".replay"
    staging.mkdir(exist_ok=True)
    delivered = []
    for index, session in enumerate(sessions):
        if index and interval:
            time.sleep(interval)
        readings = session.readings
        kind = corrupt.get(session.name)
        if kind:
            readings = CORRUPTIONS[kind](readings)
        name = f"{session.name}.csv"
        if marker:
            target = inbox / name
            write_session_csv(readings, target)
            (inbox / f"{name}.done").touch()
        else:
            write_session_csv(readings, staging / name)
            target = finish_session(staging / name, inbox)
            (staging / name).unlink()
        logger.info(
            "event=session_delivered session=%s rows=%d corrupted=%s file=%s",
            session.name,
            len(readings),
            kind or "no",
            target,
        )
        delivered.append(target)
        if on_delivered is not None:
            on_delivered(session.name, target)
        if sync_url:
            answer = request_sync(sync_url)
            logger.info("event=sync_requested session=%s answer=%s", session.name, answer.get("status"))
    staging.rmdir()
    return delivered


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--inbox", type=absolute_path, required=True, help="the sync service's inbox folder")
    parser.add_argument("--sessions", type=int, help="deliver the first N of the 14 daily sessions (default: all)")
    parser.add_argument("--days", help="comma-separated days to deliver instead, e.g. 2015-02-05,2015-02-06")
    parser.add_argument(
        "--corrupt",
        action="append",
        default=[],
        metavar="KIND:DAY",
        help=f"deliver DAY damaged; KIND: {', '.join(CORRUPTIONS)}",
    )
    parser.add_argument(
        "--marker", action="store_true", help="write in place and add a .done marker instead of renaming"
    )
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between sessions")
    parser.add_argument("--sync-url", help="press the upload button (POST /sync) after each session")


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from ..logs import configure_logging
    from ..settings import LogSettings

    configure_logging(LogSettings.from_env(environ))
    plan = parse_corruptions(args.corrupt)
    days = [day.strip() for day in args.days.split(",")] if args.days else None
    files = deliver(
        args.inbox,
        days,
        args.sessions,
        corrupt=plan,
        marker=args.marker,
        interval=args.interval,
        sync_url=args.sync_url,
    )
    print(f"delivered {len(files)} session files to {args.inbox}")
    return 0
