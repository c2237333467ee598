"""Object paths never escape the file store; uploads appear atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.clearml_server.files import FileStore, PathRejected, normalize_object_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/demo/train.abc/artifacts/df/df.csv.gz", "demo/train.abc/artifacts/df/df.csv.gz"),
        ("labels/.datasets/labeled/state.json", "labels/.datasets/labeled/state.json"),
        ("/serving example.x/artifacts/py_code_a/preprocess.py", "serving example.x/artifacts/py_code_a/preprocess.py"),
        ("/a/%2e%2e/b", "a/%2e%2e/b"),  # already decoded once: a literal name, not a parent reference
    ],
)
def test_normal_object_paths(raw: str, expected: str) -> None:
    assert normalize_object_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "/",
        "../etc/passwd",
        "/a/../../etc/passwd",
        "//etc/passwd",
        "a//b",
        "a/./b",
        "a/b/",
        "a\\..\\b",
        "a\x00b",
        "/" + "x" * 300,
    ],
)
def test_escaping_or_malformed_paths_are_rejected(raw: str) -> None:
    with pytest.raises(PathRejected):
        normalize_object_path(raw)


def test_symlink_escape_is_rejected(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files", tmp_path / "staging")
    (tmp_path / "outside").mkdir()
    (tmp_path / "files" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(PathRejected):
        store.resolve("/link/secret.txt")


def test_upload_is_invisible_until_committed_and_aborts_leave_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files", tmp_path / "staging")
    upload = store.begin_upload("/p/a.bin")
    upload.write(b"x" * 10)
    assert store.existing_file("/p/a.bin") is None
    upload.commit()
    assert store.existing_file("/p/a.bin").read_bytes() == b"x" * 10
    aborted = store.begin_upload("/p/b.bin")
    aborted.write(b"y")
    aborted.abort()
    assert store.existing_file("/p/b.bin") is None
    assert list((tmp_path / "staging").iterdir()) == []


def test_leftover_staging_files_are_cleaned_at_start(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "upload-dead").write_bytes(b"half")
    FileStore(tmp_path / "files", tmp_path / "staging")
    assert list((tmp_path / "staging").iterdir()) == []


def test_delete_prunes_empty_folders(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files", tmp_path / "staging")
    upload = store.begin_upload("/a/b/c.txt")
    upload.write(b"1")
    upload.commit()
    assert store.delete("/a/b/c.txt")
    assert not (tmp_path / "files" / "a").exists()
    assert not store.delete("/a/b/c.txt")
