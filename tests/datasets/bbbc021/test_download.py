"""Downloads against a local HTTP server on 127.0.0.1 that serves a tiny fake release."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from phenbench.core.errors import DataError, UnknownNameError
from phenbench.datasets.bbbc021 import download
from phenbench.datasets.bbbc021.download import download_bbbc021, download_file, release_urls


def _fake_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("Week4_27481/B02_s1_w1ABC.tif", b"not really a tiff" * 100)
    return buffer.getvalue()


class _Server:
    """Serves `files` (name -> bytes), honouring Range headers, and logs the bytes it sent."""

    def __init__(self, files: dict[str, bytes], ranges: bool = True):
        self.files, self.sent, self.ranges_seen = files, 0, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                header = self.headers.get("Range")
                server.ranges_seen.append(header)
                start = int(header.split("=")[1].rstrip("-")) if header and ranges else 0
                if start >= len(body) and header:
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                # Counted before writing: the client may finish reading before this thread runs on.
                server.sent += len(body) - start
                self.wfile.write(body[start:])

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PLATE = "Week4_27481"


@pytest.fixture
def release() -> dict[str, bytes]:
    files = {name: f"{name} contents\n".encode() * 50 for name in download.METADATA_FILES}
    files[download.archive_name(PLATE)] = _fake_archive()
    return files


def test_release_urls_are_the_broad_addresses() -> None:
    urls = release_urls([PLATE])
    assert urls[0] == "https://data.broadinstitute.org/bbbc/BBBC021/BBBC021_v1_image.csv"
    assert urls[-1] == "https://data.broadinstitute.org/bbbc/BBBC021/BBBC021_v1_images_Week4_27481.zip"
    assert len(release_urls()) == 3 + 55
    with pytest.raises(UnknownNameError, match="Week4_27481"):
        release_urls(["Week4_2748"])


def test_download_fetches_checks_and_extracts(tmp_path: Path, release: dict[str, bytes]) -> None:
    archive = download.archive_name(PLATE)
    sums = {archive: ("sha256", hashlib.sha256(release[archive]).hexdigest())}
    with _Server(release) as server:
        files = download_bbbc021(tmp_path, [PLATE], base_url=server.url, checksums=sums, progress=False)
        assert [f.read_bytes() for f in files] == [release[f.name] for f in files]
        assert (tmp_path / "Week4" / "Week4_27481" / "B02_s1_w1ABC.tif").is_file()
        sent = server.sent
        # A second run finds every file complete (recorded sha256) and transfers nothing.
        download_bbbc021(tmp_path, [PLATE], base_url=server.url, progress=False)
        assert server.sent == sent
    recorded = (tmp_path / download.SUMS_FILE).read_text()
    assert hashlib.sha256(release[archive]).hexdigest() in recorded


def test_archives_with_a_week_folder_land_in_the_same_layout(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("Week4/Week4_27481/B02_s1_w1ABC.tif", b"x")
    archive = tmp_path / download.archive_name(PLATE)
    archive.write_bytes(buffer.getvalue())
    download.extract_archive(archive, tmp_path / "release")
    assert (tmp_path / "release" / "Week4" / "Week4_27481" / "B02_s1_w1ABC.tif").is_file()
    evil = tmp_path / "BBBC021_v1_images_Week1_1.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", b"x")
    with pytest.raises(DataError, match="points outside"):
        download.extract_archive(evil, tmp_path / "release")


def test_download_resumes_a_partial_file_with_a_range_request(tmp_path: Path, release: dict[str, bytes]) -> None:
    name = download.archive_name(PLATE)
    body = release[name]
    (tmp_path / (name + ".part")).write_bytes(body[:100])
    with _Server(release) as server:
        path = download_file(server.url + name, tmp_path / name, checksum=("md5", hashlib.md5(body).hexdigest()))
        assert server.ranges_seen == ["bytes=100-"]
        assert server.sent == len(body) - 100
    assert path.read_bytes() == body
    assert not (tmp_path / (name + ".part")).exists()


def test_download_restarts_when_the_server_ignores_range(tmp_path: Path, release: dict[str, bytes]) -> None:
    name = download.METADATA_FILES[0]
    (tmp_path / (name + ".part")).write_bytes(b"stale bytes")
    with _Server(release, ranges=False) as server:
        path = download_file(server.url + name, tmp_path / name)
    assert path.read_bytes() == release[name]


def test_a_checksum_mismatch_deletes_the_download(tmp_path: Path, release: dict[str, bytes]) -> None:
    name = download.METADATA_FILES[1]
    with _Server(release) as server:
        with pytest.raises(DataError, match="corrupt .*run the download again"):
            download_file(server.url + name, tmp_path / name, checksum=("sha256", "0" * 64))
    assert not (tmp_path / name).exists() and not (tmp_path / (name + ".part")).exists()


def test_offline_gives_a_clear_error(tmp_path: Path) -> None:
    with _Server({}) as server:
        url = server.url
    # The server is closed: nothing listens on that port any more.
    with pytest.raises(DataError, match="offline"):
        download_file(url + "BBBC021_v1_image.csv", tmp_path / "x.csv", timeout=5)


def test_a_missing_file_on_the_server_names_the_http_status(tmp_path: Path) -> None:
    with _Server({}) as server:
        with pytest.raises(DataError, match="HTTP 404"):
            download_file(server.url + "nothing.zip", tmp_path / "nothing.zip")


def test_a_dest_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="--dest .*notes.txt is a file"):
        download_bbbc021(tmp_path / "notes.txt", ("Week1_22123",), base_url="http://127.0.0.1:9/", progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"
