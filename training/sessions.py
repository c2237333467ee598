"""Cut the UCI data into what a labeling tool would have produced: one labeling session per calendar day.

`datatraining.txt` and `datatest2.txt` in time order give 15 days, Feb 4 to Feb 18 2015. Two fixed holdouts never
enter training:
- test 1 (`datatest.txt`, Feb 2-4): the published test set, earlier than every session, with the bright-daylight
  occupied minutes that expose models that cannot extrapolate in Light — the gate's evaluation set;
- Feb 17: a full Tuesday held out as a "future" day.
That leaves 14 training sessions. Four of them are weekends with no occupied minute at all, which is legitimate.

    python -m training.sessions --out DIR     # writes DIR/sessions/<day>.csv and DIR/holdout/<name>.csv
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .readings import uci, write_session_csv
from .schema import TIMESTAMP

HELD_OUT_DAY = "2015-02-17"


@dataclass(frozen=True)
class Session:
    name: str  # the day, e.g. "2015-02-05": also the labeling-session file name
    readings: pd.DataFrame


def training_sessions() -> list[Session]:
    """The 14 training sessions in time order."""
    pooled = pd.concat([uci("training"), uci("test2")], ignore_index=True).sort_values(TIMESTAMP, kind="stable")
    days = pooled[TIMESTAMP].dt.strftime("%Y-%m-%d")
    return [
        Session(day, pooled[days == day].reset_index(drop=True)) for day in sorted(days.unique()) if day != HELD_OUT_DAY
    ]


def holdouts() -> dict[str, pd.DataFrame]:
    """The pinned holdouts: test 1 and the held-out day."""
    test2 = uci("test2")
    day = test2[test2[TIMESTAMP].dt.strftime("%Y-%m-%d") == HELD_OUT_DAY].reset_index(drop=True)
    return {"test1": uci("test1"), HELD_OUT_DAY: day}


def write(out: Path) -> tuple[list[Path], list[Path]]:
    session_files = []
    for session in training_sessions():
        path = out / "sessions" / f"{session.name}.csv"
        write_session_csv(session.readings, path)
        session_files.append(path)
    holdout_files = []
    for name, readings in holdouts().items():
        path = out / "holdout" / f"{name}.csv"
        write_session_csv(readings, path)
        holdout_files.append(path)
    return session_files, holdout_files


def _absolute(text: str) -> Path:
    # resolved against the directory the command was run from (training must not import services.settings,
    # whose absolute_path does the same for every service command)
    return Path(text).expanduser().resolve()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--out", type=_absolute, required=True, help="folder for sessions/ and holdout/")


def run_command(args: argparse.Namespace) -> int:
    sessions, held_out = write(args.out)
    print(f"{len(sessions)} sessions in {args.out / 'sessions'}, {len(held_out)} holdouts in {args.out / 'holdout'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sessions")
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
