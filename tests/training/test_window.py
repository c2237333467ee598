"""The training window: which sessions of a long history a run trains on (training/window.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.readings import write_session_csv
from training.sessions import training_sessions
from training.window import select_sessions, session_start

START = pd.Timestamp("2016-01-01 00:00")


def daily(days: int) -> dict[str, pd.Timestamp | None]:
    return {f"{START + pd.Timedelta(days=day):%Y-%m-%d}.csv": START + pd.Timedelta(days=day) for day in range(days)}


def test_no_window_reads_every_session() -> None:
    assert select_sessions(daily(400), 0, 30) == sorted(daily(400))


def test_the_window_and_a_pinned_sample_keep_a_year_of_history_small() -> None:
    chosen = select_sessions(daily(365), 60, 30)
    recent = [name for name in chosen if name >= "2016-11-01"]
    assert len(recent) == 60 and recent[-1] == "2016-12-30.csv"  # the newest 60 days
    assert 10 <= len(chosen) - len(recent) <= 11  # one session per 30-day period before them


def test_the_sample_is_pinned_as_the_history_grows() -> None:
    """A session sampled once stays sampled: periods are counted from a fixed day, not from the newest session."""
    earlier = set(select_sessions(daily(200), 60, 30)) - set(select_sessions(daily(200), 60, 0))
    later = set(select_sessions(daily(400), 60, 30))
    assert earlier and earlier <= later


def test_a_file_whose_start_does_not_read_is_kept_for_validation_to_report(tmp_path: Path) -> None:
    session = training_sessions()[1]
    good = tmp_path / "good.csv"
    write_session_csv(session.readings, good)
    assert session_start(good) == session.readings["date"].iloc[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,Temperature\nyesterday,21\n")
    assert session_start(bad) is None
    assert "bad.csv" in select_sessions({"good.csv": pd.Timestamp("2016-01-01"), "bad.csv": None}, 1, 0)
