"""lmp_bench.data.fetch against a local HTTP server (no internet): resume, truncation,
checksums and the offline message."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lmp_bench.data import fetch as fetch_mod
from lmp_bench.data.fetch import DATASETS, FetchError, PublishedFile, fetch

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # ~1 MB, not a multiple of the 1 MiB chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "test-set"
FILENAME = "data.npz"


class Server:
    """What the handler serves and how it misbehaves; the Range headers it saw."""

    def __init__(self) -> None:
        self.body = PAYLOAD
        self.cut_at: int | None = None  # send only this many body bytes, then hang up
        self.ignore_range = False
        self.ranges: list[str | None] = []
        self.url = ""


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/" + FILENAME:
                self.send_error(404)
                return
            header = self.headers.get("Range")
            server.ranges.append(header)
            start = 0
            if header and not server.ignore_range:
                start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(server.body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(server.body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = server.body[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(server.body) - 1}/{len(server.body)}"
                )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if server.cut_at is not None:
                body = body[: server.cut_at]
                self.close_connection = True
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server(monkeypatch) -> Server:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/{FILENAME}?download=1"
    register(monkeypatch, state.url, SHA)
    yield state
    httpd.shutdown()
    httpd.server_close()


def register(monkeypatch, url: str, sha256: str | None) -> None:
    entry = PublishedFile(url, FILENAME, sha256, "test units", "test file")
    monkeypatch.setitem(DATASETS, NAME, entry)


def get(folder: Path, **kwargs) -> Path:
    return fetch(NAME, folder, timeout=5.0, progress=False, **kwargs)


def test_full_download_with_checksum(server, tmp_path, capsys):
    path = fetch(NAME, tmp_path / "new", timeout=5.0, progress=True)
    assert path == tmp_path / "new" / FILENAME
    assert path.read_bytes() == PAYLOAD
    assert server.ranges == [None]
    assert not (tmp_path / "new" / (FILENAME + ".part")).exists()
    assert not (tmp_path / "new" / (FILENAME + ".sha256")).exists()
    assert f"{NAME}: 1.0 / 1.0 MB" in capsys.readouterr().err


def test_resume_sends_range(server, tmp_path):
    (tmp_path / (FILENAME + ".part")).write_bytes(PAYLOAD[:1000])
    assert get(tmp_path).read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=1000-"]


def test_whole_part_file_is_finished_on_416(server, tmp_path):
    (tmp_path / (FILENAME + ".part")).write_bytes(PAYLOAD)  # a run stopped before renaming
    assert get(tmp_path).read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={len(PAYLOAD)}-"]


def test_server_ignoring_range_restarts(server, tmp_path):
    server.ignore_range = True
    (tmp_path / (FILENAME + ".part")).write_bytes(b"x" * 1000)  # wrong bytes: must not survive
    assert get(tmp_path).read_bytes() == PAYLOAD
    assert server.ranges == ["bytes=1000-"]


def test_truncated_then_resumed(server, tmp_path):
    server.cut_at = 5000
    part = tmp_path / (FILENAME + ".part")
    with pytest.raises(FetchError, match="truncated") as info:
        get(tmp_path)
    assert str(part) in str(info.value) and "again" in str(info.value)
    assert part.read_bytes() == PAYLOAD[:5000]
    assert not (tmp_path / FILENAME).exists()
    server.cut_at = None
    assert get(tmp_path).read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=5000-"]


def test_checksum_mismatch_keeps_file_as_bad(server, tmp_path, monkeypatch):
    wrong = "0" * 64
    register(monkeypatch, server.url, wrong)
    with pytest.raises(FetchError) as info:
        get(tmp_path)
    assert wrong in str(info.value) and SHA in str(info.value)
    assert (tmp_path / (FILENAME + ".bad")).read_bytes() == PAYLOAD
    assert not (tmp_path / FILENAME).exists()
    (tmp_path / FILENAME).write_bytes(b"stale")  # a complete file is checked too
    with pytest.raises(FetchError, match="checksum mismatch"):
        get(tmp_path)
    assert (tmp_path / (FILENAME + ".bad1")).read_bytes() == b"stale"
    assert (tmp_path / (FILENAME + ".bad")).read_bytes() == PAYLOAD


def test_complete_file_needs_no_network(tmp_path, monkeypatch):
    register(monkeypatch, "http://127.0.0.1:9/unreachable", SHA)
    (tmp_path / FILENAME).write_bytes(PAYLOAD)
    assert get(tmp_path) == tmp_path / FILENAME


def test_offline_says_so_and_names_the_path(tmp_path, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{FILENAME}"
    register(monkeypatch, url, SHA)
    with pytest.raises(FetchError) as info:
        get(tmp_path)
    message = str(info.value)
    assert "offline" in message and url in message and str(tmp_path / FILENAME) in message


def test_http_error_names_the_status(server, tmp_path, monkeypatch):
    register(monkeypatch, server.url.replace(FILENAME, "missing.npz"), SHA)
    with pytest.raises(FetchError, match="HTTP 404"):
        get(tmp_path)


def test_unknown_name_lists_known_ones(tmp_path):
    with pytest.raises(FetchError) as info:
        fetch("md17-nonsense", tmp_path)
    for name in ("md17-aspirin", "md17-ethanol", "lips", "water", "alanine"):
        assert name in str(info.value)


def test_unknown_checksum_writes_sidecar(server, tmp_path, monkeypatch):
    register(monkeypatch, server.url, None)
    path = get(tmp_path)
    sidecar = tmp_path / (FILENAME + ".sha256")
    assert path.read_bytes() == PAYLOAD
    assert sidecar.read_text().split() == [hashlib.sha256(PAYLOAD).hexdigest(), FILENAME]


def test_registry_entries_are_well_formed():
    for name, entry in fetch_mod.DATASETS.items():
        assert entry.url.startswith(("http://", "https://")), name
        assert entry.filename in entry.url, name
        assert entry.sha256 is None or len(entry.sha256) == 64, name
