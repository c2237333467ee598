"""Which labeling sessions of a dataset version a training run reads: the training window (issue 22).

A year of daily sessions is half a million rows: reading, validating and fitting all of them makes every run
longer than the last (BENCHMARKS.md#history). A run therefore trains on
- every session that starts within `window_days` of the version's newest session (the recent data), and
- a pinned long-term sample of the older ones: the earliest session of each `sample_every_days`-day period,
  periods counted from 1970-01-01, so a session once in the sample stays in it as the history grows (the model
  keeps seeing every season, and two runs on the same history read the same sessions).
`window_days=0` reads every session (the whole history). The choice depends on the files only (their first
reading), so it is the same on every machine and for every retry of a run.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .readings import read_table

EPOCH = pd.Timestamp("1970-01-01")


def session_start(path: Path) -> pd.Timestamp | None:
    """The first reading's time, from the header and first row only (None when it does not parse: such a file is
    kept, so that validation reports it)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        head = "".join(line for _, line in zip(range(2), handle, strict=False))
    try:
        text = str(read_table(io.StringIO(head)).iloc[0, 0]).strip().strip('"')
        stamp = pd.Timestamp(text)
    except (ValueError, IndexError, KeyError):
        return None
    return None if pd.isna(stamp) else stamp


def select_sessions(starts: Mapping[str, pd.Timestamp | None], window_days: int, sample_every_days: int) -> list[str]:
    """The names of the sessions to train on (sorted), given when each starts."""
    if window_days <= 0:
        return sorted(starts)
    known = {name: start for name, start in starts.items() if start is not None}
    if not known:
        return sorted(starts)
    cutoff = max(known.values()) - pd.Timedelta(days=window_days)
    chosen = {name for name, start in starts.items() if start is None or start > cutoff}
    if sample_every_days > 0:
        earliest: dict[int, tuple[pd.Timestamp, str]] = {}
        for name, start in known.items():
            if start <= cutoff:
                period = (start - EPOCH).days // sample_every_days
                earliest[period] = min(earliest.get(period, (start, name)), (start, name))
        chosen |= {name for _, name in earliest.values()}
    return sorted(chosen)
