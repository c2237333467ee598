"""The file server over real HTTP: nothing outside the data dir is ever reachable; big files stream."""

from __future__ import annotations

import hashlib
import io
import os
import resource
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from clearml.utilities.requests_toolbelt import MultipartEncoder

from services.child_processes import EmbeddedServer, inherited_environment, start_embedded_server
from tests.support.clients import RawApi

SECRET = "never-serve-this"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    root = tmp_path_factory.mktemp("traversal")
    (root / "secret.txt").write_text(SECRET)  # beside the data dir: reachable only through an escape
    running = start_embedded_server(root / "data", env=inherited_environment(os.environ))
    yield running
    running.child.stop()


@pytest.fixture(scope="module")
def auth(server: EmbeddedServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {RawApi(server).login()}"}


def raw_get(server: EmbeddedServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send the path byte for byte: requests would normalize `..` away before it reached the server."""
    host, port = server.files_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
            "",
            "",
        ]
        connection.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def upload(server: EmbeddedServer, auth: dict[str, str], name: str, content: bytes) -> requests.Response:
    encoder = MultipartEncoder(fields={name: (name, io.BytesIO(content), "application/octet-stream")})
    return requests.post(
        server.files_url + "/", data=encoder, headers={**auth, "Content-Type": encoder.content_type}, timeout=60
    )


TRAVERSALS = [
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/a/../../secret.txt",
    "/a/%2e%2e/%2e%2e/secret.txt",
    "//secret.txt",
    "/%2f..%2fsecret.txt",
    "/..\\secret.txt",
    "/a%00/secret.txt",
    "/.%2e/secret.txt",
    "/files/../../secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_downloads_are_refused(server: EmbeddedServer, auth: dict[str, str], path: str) -> None:
    status, body = raw_get(server, path, auth)
    assert status == 400, (path, status, body)
    assert SECRET.encode() not in body


@pytest.mark.parametrize(
    "name", ["../escape.txt", "/../escape.txt", "//tmp/escape.txt", "a/../../escape.txt", "a\\..\\escape.txt", ""]
)
def test_traversal_uploads_are_refused_and_write_nothing(
    server: EmbeddedServer, auth: dict[str, str], name: str
) -> None:
    response = upload(server, auth, name, b"payload")
    assert response.status_code == 400, (name, response.text)
    assert not (server.data_dir.parent / "escape.txt").exists()
    assert not Path("/tmp/escape.txt").exists()


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt"])
def test_traversal_deletes_are_refused(server: EmbeddedServer, auth: dict[str, str], path: str) -> None:
    host, port = server.files_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        request = f"DELETE {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: {auth['Authorization']}\r\n\r\n"
        connection.sendall(request.encode())
        status = int(connection.recv(65536).split()[1])
    assert status == 400
    assert (server.data_dir.parent / "secret.txt").read_text() == SECRET


def test_double_encoding_is_decoded_once(server: EmbeddedServer, auth: dict[str, str]) -> None:
    assert upload(server, auth, "/odd/%2e%2e/name.txt", b"literal").status_code == 200
    status, body = raw_get(server, "/odd/%252e%252e/name.txt", auth)
    assert (status, body) == (200, b"literal")


def test_files_need_the_api_token(server: EmbeddedServer, auth: dict[str, str]) -> None:
    assert upload(server, auth, "/private/a.txt", b"x").status_code == 200
    assert requests.get(server.files_url + "/private/a.txt", timeout=10).status_code == 401
    assert (
        requests.get(
            server.files_url + "/private/a.txt", headers={"Authorization": "Bearer forged"}, timeout=10
        ).status_code
        == 401
    )
    assert requests.get(server.files_url + "/", timeout=10).text == "OK"  # the ping needs no token


def test_names_with_spaces_quotes_and_unicode_round_trip(server: EmbeddedServer, auth: dict[str, str]) -> None:
    name = '/serving example.x/artifacts/py_code "q" é/preprocess.py'
    assert upload(server, auth, name, b"code").status_code == 200
    url = server.files_url + requests.utils.quote(name)
    assert requests.get(url, headers=auth, timeout=10).content == b"code"
    assert requests.delete(url, headers=auth, timeout=10).status_code == 200
    assert requests.get(url, headers=auth, timeout=10).status_code == 404


def test_a_large_file_streams_in_and_out_without_sitting_in_memory(
    server: EmbeddedServer, auth: dict[str, str], tmp_path: Path
) -> None:
    size = 1024 * 1024 * 1024  # the issue: "a 1 GB file never sits in memory"
    source = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(source, "wb") as handle:
        for _ in range(size >> 20):
            handle.write(block)
            digest.update(block)
    pid = server.child.process.pid
    before = _rss_kb(pid)
    with open(source, "rb") as handle:
        encoder = MultipartEncoder(fields={"/big/big.bin": ("/big/big.bin", handle, "application/octet-stream")})
        response = requests.post(
            server.files_url + "/", data=encoder, headers={**auth, "Content-Type": encoder.content_type}, timeout=600
        )
    assert response.status_code == 200
    check = hashlib.sha256()
    with requests.get(server.files_url + "/big/big.bin", headers=auth, stream=True, timeout=600) as download:
        for chunk in download.iter_content(1 << 20):
            check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()
    growth_mb = (_rss_kb(pid) - before) / 1024
    assert growth_mb < 64, f"server memory grew by {growth_mb:.0f} MB while moving a {size >> 20} MB file"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident size: catches a transient buffer too
            return int(line.split()[1])
    raise AssertionError("no VmHWM")
