"""A copy of this checkout, for tests that run the README's commands as a user would: from a clone's root, with the
defaults, relative paths and all (issue 14: a test that only passes absolute temporary paths cannot see what a user
sees).

The copy holds what a clone holds (tracked files plus new files not ignored, so uncommitted work is tested too) and
shares this checkout's `.venv` through a symlink: installing the pinned packages again would take minutes and
test pip, not occuloop. The lock and the project metadata get an older time stamp than the venv's install stamp,
so make does not reinstall into the shared venv (which would repoint its editable install at the copy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_STAMP = ROOT / ".venv" / ".installed"


def copy_of_checkout(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (destination / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    if VENV_STAMP.exists():
        older = VENV_STAMP.stat().st_mtime - 60
        for name in ("requirements.lock", "pyproject.toml"):
            os.utime(destination / name, (older, older))
    return destination


def make_environment(environ: dict[str, str]) -> dict[str, str]:
    """The environment of a `make` started from a test that `make test` started: without the outer make's
    jobserver and level, as if typed in a fresh shell."""
    return {key: value for key, value in environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
