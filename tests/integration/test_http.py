"""The HTTP surface against a real server (uvicorn in a thread), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import httpx
import pytest

from farm.context import Farm
from farm.index.pages import PRECOMPRESS_FROM
from farm.settings import Settings
from farm.store.models import TokenScope
from tests.support.clients import upload, wait_for
from tests.support.server import serve_thread
from tests.support.wheels import make_wheel

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    farm = Farm.open(settings)
    tokens = {scope.value: farm.tokens.create(scope).secret for scope in TokenScope}
    farm.close()
    with serve_thread(settings) as url:
        yield url, tokens


def test_upload_then_index_in_both_formats(server, tmp_path: Path) -> None:
    url, tokens = server
    path = make_wheel(tmp_path, "Demo.Pkg", "1.0", requires_python=">=3.10")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    response = upload(url, path, tokens["upload"], name="Demo.Pkg", version="1.0", sha256_digest=digest)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "created"

    page = httpx.get(url + "simple/demo-pkg/", headers={"Accept": JSON})
    assert page.headers["content-type"] == JSON
    assert page.headers["access-control-allow-origin"] == "*"
    file = page.json()["files"][0]
    assert file["url"].startswith(url + "files/")
    assert file["hashes"]["sha256"] == digest
    assert file["size"] == path.stat().st_size
    html = httpx.get(url + "simple/demo-pkg/", headers={"Accept": "text/html"})
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert f"#sha256={digest}" in html.text and 'data-requires-python="&gt;=3.10"' in html.text

    wheel = httpx.get(file["url"])
    assert wheel.content == path.read_bytes()
    assert "immutable" in wheel.headers["cache-control"]
    metadata = httpx.get(file["url"] + ".metadata")
    assert hashlib.sha256(metadata.content).hexdigest() == file["core-metadata"]["sha256"]
    assert metadata.content.startswith(b"Metadata-Version")


def test_negotiation_redirects_and_slashes(server, tmp_path: Path) -> None:
    url, tokens = server
    assert upload(url, make_wheel(tmp_path, "demo_pkg", "1.0"), tokens["admin"]).status_code == 200
    assert httpx.get(url + "simple/demo-pkg/", headers={"Accept": "image/png"}).status_code == 406
    assert (
        httpx.get(url + "simple/demo-pkg/?format=json", headers={"Accept": "text/html"}).headers[
            "content-type"
        ]
        == JSON
    )
    redirect = httpx.get(url + "simple/Demo_Pkg/?format=json")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/simple/demo-pkg/?format=json"
    assert httpx.get(url + "simple/demo-pkg").headers["location"] == "/simple/demo-pkg/"
    assert httpx.get(url + "r/314.0.7/simple//demo-pkg/").status_code == 200  # micropip's doubled slash
    assert httpx.get(url + "r/314.0.7/simple/Demo-Pkg/", follow_redirects=True).status_code == 200

    def root() -> list[dict[str, str]]:  # a shared page: it follows the upload (settings.shared_pages_quiet)
        projects: list[dict[str, str]] = httpx.get(url + "simple/", headers={"Accept": JSON}).json()[
            "projects"
        ]
        return projects

    wait_for(lambda: root() != [], timeout=30, what="the upload on the root listing")
    assert root() == [{"name": "demo-pkg"}]


def test_unknown_project_and_runtime_are_named(server) -> None:
    url, _ = server
    missing = httpx.get(url + "simple/no-such-thing/")
    assert missing.status_code == 404
    assert "'no-such-thing'" in missing.json()["message"]
    runtime = httpx.get(url + "r/9.9.9/simple/x/")
    assert runtime.status_code == 404 and "'9.9.9'" in runtime.json()["message"]


def test_etag_compression_cors(server, tmp_path: Path) -> None:
    url, tokens = server
    upload(url, make_wheel(tmp_path, "tiny", "1.0"), tokens["upload"])
    small = httpx.Client().send(
        httpx.Request("GET", url + "simple/tiny/", headers={"Accept": JSON, "Accept-Encoding": "br, gzip"}),
        stream=True,
    )
    body = b"".join(small.iter_raw())
    assert (
        len(body) < PRECOMPRESS_FROM and "content-encoding" not in small.headers
    )  # kept plain: saves no packet
    assert json.loads(body)["name"] == "tiny"
    for version in ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5"):  # a page big enough to be worth compressing
        upload(url, make_wheel(tmp_path, "demo", version), tokens["upload"])
    first = httpx.get(url + "simple/demo/", headers={"Accept": JSON, "Accept-Encoding": "identity"})
    etag = first.headers["etag"]
    again = httpx.get(
        url + "simple/demo/", headers={"Accept": JSON, "If-None-Match": etag, "Accept-Encoding": "identity"}
    )
    assert again.status_code == 304 and again.content == b""
    raw = httpx.Client().send(
        httpx.Request("GET", url + "simple/demo/", headers={"Accept": JSON, "Accept-Encoding": "gzip"}),
        stream=True,
    )
    assert len(first.content) >= PRECOMPRESS_FROM
    assert raw.headers["content-encoding"] == "gzip"
    assert gzip.decompress(b"".join(raw.iter_raw())) == first.content
    raw = httpx.Client().send(
        httpx.Request("GET", url + "simple/demo/", headers={"Accept": JSON, "Accept-Encoding": "br"}),
        stream=True,
    )
    assert raw.headers["content-encoding"] == "br"
    assert brotli.decompress(b"".join(raw.iter_raw())) == first.content
    preflight = httpx.options(
        url + "simple/demo/",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["access-control-allow-methods"]
    head = httpx.head(url + "simple/demo/", headers={"Accept": JSON, "Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.headers["content-length"] == str(len(first.content))


def test_pages_follow_changes_made_by_another_process(server, settings: Settings, tmp_path: Path) -> None:
    url, tokens = server
    upload(url, make_wheel(tmp_path, "demo", "1.0"), tokens["upload"])
    assert len(httpx.get(url + "simple/demo/", headers={"Accept": JSON}).json()["files"]) == 1
    other = Farm.open(settings)  # as `wasmfarm mirror` would, in its own process
    with other.blobs.writer() as writer:
        path = make_wheel(tmp_path, "demo", "2.0")
        writer.write(path.read_bytes())
        other.ingestor.ingest(writer, path.name, "mirrored")
    other.publisher.refresh(["demo"])
    other.close()
    assert len(httpx.get(url + "simple/demo/", headers={"Accept": JSON}).json()["files"]) == 2


# Upload refusals: each gets a clear error and stores nothing. ------------------------------------------------


def assert_nothing_stored(settings: Settings) -> None:
    farm = Farm.open(settings)
    try:
        assert farm.catalog.project_names() == []
        assert [p for p in settings.blob_dir.rglob("*") if p.is_file()] == []
    finally:
        farm.close()


def test_missing_and_bad_tokens(server, settings: Settings, tmp_path: Path) -> None:
    url, tokens = server
    path = make_wheel(tmp_path, "demo", "1.0")
    missing = upload(url, path, None)
    assert missing.status_code == 401 and "wasmfarm token create --scope upload" in missing.json()["message"]
    assert upload(url, path, "wf_not-a-token").status_code == 401
    read_only = upload(url, path, tokens["read"])
    assert read_only.status_code == 403 and "scope 'read'" in read_only.json()["message"]
    assert_nothing_stored(settings)


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda d: _renamed(make_wheel(d, "demo", "1.0"), "demo.whl"), 400, "invalid distribution filename"),
        (lambda d: make_wheel(d, "demo", "1.0", extra_entries={"../../evil.py": b"x"}), 400, "unsafe path"),
        (lambda d: make_wheel(d, "demo", "1.0", metadata_name="other"), 400, "Name: 'other'"),
        (lambda d: make_wheel(d, "demo", "1.0", padding=3_000_000), 413, "upload limit"),
    ],
    ids=["malformed-filename", "path-traversal", "metadata-name-mismatch", "oversized"],
)
def test_bad_uploads(tmp_path: Path, database_url: str, make, status: int, message: str) -> None:
    from tests.support.server import free_port

    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, port=free_port(), max_upload_bytes=1_000_000
    )
    farm = Farm.open(settings)
    token = farm.tokens.create(TokenScope.UPLOAD).secret
    farm.close()
    with serve_thread(settings) as url:
        response = upload(url, make(tmp_path / "w"), token)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert_nothing_stored(settings)


def test_form_fields_must_match_the_file(server, settings: Settings, tmp_path: Path) -> None:
    url, tokens = server
    path = make_wheel(tmp_path, "demo", "1.0")
    response = upload(url, path, tokens["upload"], name="other", version="1.0")
    assert response.status_code == 400 and "name='other'" in response.json()["message"]
    response = upload(url, path, tokens["upload"], sha256_digest="0" * 64)
    assert response.status_code == 400 and "corrupted in transit" in response.json()["message"]
    assert_nothing_stored(settings)


def test_reupload_identical_ok_different_conflicts(server, tmp_path: Path) -> None:
    url, tokens = server
    path = make_wheel(tmp_path / "a", "demo", "1.0")
    assert upload(url, path, tokens["upload"]).json()["status"] == "created"
    assert upload(url, path, tokens["upload"]).json()["status"] == "exists"
    other = make_wheel(tmp_path / "b", "demo", "1.0", module_source="VALUE = 2\n")
    conflict = upload(url, other, tokens["upload"])
    assert conflict.status_code == 409 and "exists already" in conflict.json()["message"]


def _renamed(path: Path, name: str) -> Path:
    return path.rename(path.with_name(name))


def test_protected_reads_need_a_read_token(tmp_path: Path, database_url: str) -> None:
    from tests.support.server import free_port

    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, port=free_port(), require_read_token=True
    )
    farm = Farm.open(settings)
    read = farm.tokens.create(TokenScope.READ).secret
    farm.close()
    with serve_thread(settings) as url:
        anonymous = httpx.get(url + "simple/")
        assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers
        assert httpx.get(url + "simple/", auth=("__token__", read)).status_code == 200
        assert httpx.get(url + "simple/", headers={"Authorization": f"Bearer {read}"}).status_code == 200
        assert httpx.get(url + "simple/", headers={"Authorization": "Bearer wf_wrong"}).status_code == 401


def test_the_api_description_lists_each_operation_once(server) -> None:
    """The proxy used to appear under six methods with one operation id (FastAPI warned at every start)."""
    url, _ = server
    schema = httpx.get(f"{url}openapi.json").json()
    assert list(schema["paths"]["/proxy"]) == ["get"]
    ids = [op["operationId"] for methods in schema["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    refused = httpx.post(f"{url}proxy", params={"url": "http://example.invalid/"})
    assert 400 <= refused.status_code < 500  # still answered with a reason, not a 500


def test_files_answer_single_byte_ranges(server, tmp_path: Path) -> None:
    """uv and pip's lazy wheels read a wheel's central directory with Range requests."""
    url, tokens = server
    path = make_wheel(tmp_path, "ranged", "1.0", padding=20_000)
    data = path.read_bytes()
    assert upload(url, path, tokens["upload"], name="ranged", version="1.0").status_code == 200
    file = httpx.get(url + "simple/ranged/", headers={"Accept": JSON}).json()["files"][0]["url"]

    whole = httpx.head(file)
    assert whole.headers["accept-ranges"] == "bytes"
    tail = httpx.get(file, headers={"Range": "bytes=-22"})  # the zip's end record
    assert tail.status_code == 206 and tail.content == data[-22:]
    assert tail.headers["content-range"] == f"bytes {len(data) - 22}-{len(data) - 1}/{len(data)}"
    middle = httpx.get(file, headers={"Range": "bytes=100-199"})
    assert middle.status_code == 206 and middle.content == data[100:200]
    assert middle.headers["content-length"] == "100"
    etag = whole.headers["etag"]
    assert httpx.get(file, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    other = httpx.get(file, headers={"Range": "bytes=0-9", "If-Range": '"another"'})
    assert other.status_code == 200 and other.content == data  # If-Range of another version: the whole file
    beyond = httpx.get(file, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    several = httpx.get(file, headers={"Range": "bytes=0-1,5-9"})
    assert several.status_code == 200 and several.content == data


def counter(url: str, name: str) -> float:
    text = httpx.get(url + "metrics").text
    [line] = [x for x in text.splitlines() if x.startswith(f"{name} ")]
    return float(line.split()[1])


def test_a_burst_of_uploads_shares_renders_and_every_upload_is_listed(server, tmp_path: Path) -> None:
    """200 uploads from 40 clients at once: each returns with its project on its own page; they share renders of
    project pages (one render serves every upload asked for while the previous ran), and the shared pages (root
    listings, runtime locks) are rendered a handful of times for the whole burst (once per shared_pages_max_delay
    at most), with every upload listed soon after the burst ends."""
    url, tokens = server
    wheels = [make_wheel(tmp_path, f"burst{i:03d}", "1.0") for i in range(200)]
    before = counter(url, "wasmfarm_page_renders_total")
    shared_before = counter(url, "wasmfarm_shared_page_renders_total")

    def one(path: Path) -> tuple[int, bool]:
        response = upload(url, path, tokens["upload"])
        name = path.name.split("-")[0]
        page = httpx.get(f"{url}simple/{name}/", headers={"Accept": JSON})
        return response.status_code, page.status_code == 200

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(one, wheels))
    burst = time.monotonic() - started
    assert results == [(200, True)] * 200
    wanted = {f"burst{i:03d}" for i in range(200)}

    def listed() -> bool:
        root = httpx.get(url + "simple/", headers={"Accept": JSON}).json()["projects"]
        return wanted <= {p["name"] for p in root}

    lag = wait_for(
        listed, timeout=Settings().shared_pages_max_delay + 10, what="the burst on the root listing"
    )
    used = counter(url, "wasmfarm_page_renders_total") - before
    shared = counter(url, "wasmfarm_shared_page_renders_total") - shared_before
    print(
        f"burst of 200 in {burst:.1f} s: {used:.0f} project renders, {shared:.0f} shared renders, listed {lag:.2f} s after"
    )
    assert 1 <= used <= 40, f"{used:.0f} renders for 200 uploads"
    # A handful for the 200 (5-7 measured in 14-26 s bursts: one per shared_pages_max_delay, plus the first and
    # the last), where each upload used to render them.
    assert 1 <= shared <= 10, f"{shared:.0f} shared renders in {burst:.1f} s"
