"""The read path as a plain ASGI app, called directly: pages (negotiation, encodings, revalidation, ready-made
headers) and files (the blob store's layout, streaming in exact reads)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from farm.store.blobs import BlobStore
from index_server.static_index import (
    CHUNK,
    StaticIndex,
    _etag_matches,
    _negotiate_memo,
    _request_headers,
)

JSON = b"application/vnd.pypi.simple.v1+json"


def call(
    app: StaticIndex, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> dict[str, Any]:
    """One request; the response as status, headers (a dict), body and the body messages' more_body flags."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = messages
    return {
        "status": start["status"],
        "headers": dict(start["headers"]),
        "body": b"".join(m["body"] for m in bodies),
        "more": [m.get("more_body", False) for m in bodies],
    }


@pytest.fixture
def index(tmp_path: Path) -> StaticIndex:
    www = tmp_path / "www"
    page = www / "simple" / "demo"
    page.mkdir(parents=True)
    (page / "index.html").write_bytes(b"<html>demo</html>")
    (page / "index.json").write_bytes(b'{"name": "demo"}')
    (page / "index.json.br").write_bytes(b"brotli bytes")
    (www / "simple" / "index.html").write_bytes(b"<html>all</html>")
    return StaticIndex(www, BlobStore(tmp_path / "blobs"), ["314.0.7"])


def test_page_headers_are_complete_and_revalidate(index: StaticIndex) -> None:
    first = call(index, "/simple/demo/", {"Accept": "text/html"})
    assert first["status"] == 200 and first["body"] == b"<html>demo</html>"
    headers = first["headers"]
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"content-length"] == b"17"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"content-security-policy"].startswith(b"default-src 'none'; sandbox")
    assert headers[b"vary"] == b"Accept, Accept-Encoding" and b"content-encoding" not in headers
    etag = headers[b"etag"].decode()
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = call(index, "/simple/demo/", {"Accept": "text/html", "If-None-Match": if_none_match})
        assert again["status"] == 304 and again["body"] == b"", if_none_match
        assert b"content-length" not in again["headers"]
        assert again["headers"][b"etag"] == etag.encode()
    assert call(index, "/simple/demo/", {"If-None-Match": '"other"'})["status"] == 200
    head = call(index, "/simple/demo/", method="HEAD")
    assert head["body"] == b"" and head["headers"][b"content-length"] == b"17"


def test_one_page_under_two_content_types_keeps_both_header_sets(index: StaticIndex) -> None:
    plain = call(index, "/simple/demo/", {"Accept": "text/html", "Accept-Encoding": "identity"})
    pep691 = call(index, "/simple/demo/", {"Accept": "application/vnd.pypi.simple.v1+html"})
    assert plain["body"] == pep691["body"]
    assert plain["headers"][b"content-type"] == b"text/html; charset=utf-8"
    assert pep691["headers"][b"content-type"] == b"application/vnd.pypi.simple.v1+html"
    assert call(index, "/simple/demo/")["headers"][b"content-type"] == b"text/html; charset=utf-8"


def test_negotiation_is_memoised_for_short_accept_headers_only(index: StaticIndex) -> None:
    _negotiate_memo.cache_clear()
    long = "application/vnd.pypi.simple.v1+json, " + "x/y; q=0.1, " * 60
    assert call(index, "/simple/demo/", {"Accept": long})["headers"][b"content-type"] == JSON
    assert _negotiate_memo.cache_info().currsize == 0
    for _ in range(2):
        assert call(index, "/simple/demo/", {"Accept": "application/json, */*"})["status"] == 200
    assert _negotiate_memo.cache_info().hits == 1
    refused = call(index, "/simple/demo/", {"Accept": "image/png"})
    assert refused["status"] == 406 and b"image/png" in refused["body"]


def test_encoded_variants_and_their_fallback(index: StaticIndex) -> None:
    br = call(
        index, "/simple/demo/", {"Accept": "application/vnd.pypi.simple.v1+json", "Accept-Encoding": "br"}
    )
    assert br["body"] == b"brotli bytes" and br["headers"][b"content-encoding"] == b"br"
    assert br["headers"][b"content-type"] == JSON
    gzip = call(index, "/simple/demo/?format=json", {"Accept-Encoding": "gzip"})  # no .gz: the page itself
    assert gzip["body"] == b'{"name": "demo"}' and b"content-encoding" not in gzip["headers"]
    assert br["headers"][b"etag"] != gzip["headers"][b"etag"]


def test_a_rerendered_page_is_served_at_once(index: StaticIndex) -> None:
    page = index.www / "simple" / "demo" / "index.html"
    before = call(index, "/simple/demo/")
    page.write_bytes(b"<html>demo, version 2</html>")
    os.utime(page, ns=(1, 1))  # a new mtime even on a coarse clock
    after = call(index, "/simple/demo/")
    assert after["body"] == b"<html>demo, version 2</html>"
    assert after["headers"][b"content-length"] == b"28"
    assert after["headers"][b"etag"] != before["headers"][b"etag"]
    page.unlink()
    assert call(index, "/simple/demo/")["status"] == 404


def test_request_headers_first_of_each_counts() -> None:
    scope = {
        "headers": [
            (b"host", b"x"),
            (b"accept", b"text/html"),
            (b"if-none-match", b'"a"'),
            (b"accept", b"application/json"),
            (b"accept-encoding", b"br"),
            (b"if-none-match", b'"b"'),
        ]
    }
    assert _request_headers(scope) == (b"text/html", b"br", b'"a"')
    assert _request_headers({"headers": []}) == (None, b"", None)


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        (None, False),
        (b"", False),
        (b'"e"', True),
        (b'W/"e"', True),
        (b' "x" ,  "e" ', True),
        (b"*", True),
        (b'"x"', False),
        (b'"e', False),
    ],
)
def test_etag_matching(if_none_match: bytes | None, matches: bool) -> None:
    assert _etag_matches(if_none_match, b'"e"') is matches


def test_files_use_the_blob_stores_layout(index: StaticIndex) -> None:
    data = b"wheel bytes"
    digest = index.blobs.put_bytes(data)
    index.blobs.put_metadata(digest, b"Metadata-Version: 2.1\n")
    wheel = call(index, f"/files/{digest[:2]}/{digest}/demo-1.0-py3-none-any.whl")
    assert wheel["status"] == 200 and wheel["body"] == data
    assert wheel["headers"][b"content-type"] == b"application/zip"
    assert wheel["headers"][b"etag"] == f'"{digest}"'.encode()
    assert wheel["headers"][b"content-length"] == b"%d" % len(data)
    assert wheel["headers"][b"cache-control"] == b"public, max-age=31536000, immutable"
    assert b"content-security-policy" in wheel["headers"]
    metadata = call(index, f"/files/{digest[:2]}/{digest}/demo-1.0-py3-none-any.whl.metadata")
    assert metadata["body"] == index.blobs.metadata_path_for(digest).read_bytes()
    assert metadata["headers"][b"etag"] == f'"{digest}-metadata"'.encode()
    assert metadata["headers"][b"content-type"] == b"text/plain; charset=utf-8"
    revalidated = call(index, f"/files/{digest[:2]}/{digest}/x.whl", {"If-None-Match": f'"{digest}"'})
    assert revalidated["status"] == 304 and revalidated["body"] == b""
    head = call(index, f"/files/{digest[:2]}/{digest}/x.whl", method="HEAD")
    assert head["body"] == b"" and head["headers"][b"content-length"] == b"%d" % len(data)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK])
def test_files_stream_in_exact_reads(index: StaticIndex, size: int) -> None:
    data = hashlib.sha256(b"seed").digest() * (size // 32 + 1)
    digest = index.blobs.put_bytes(data[:size])
    served = call(index, f"/files/{digest[:2]}/{digest}/big.tar.gz")
    assert served["body"] == data[:size]
    assert served["headers"][b"content-type"] == b"application/gzip"
    chunks = max(1, -(-size // CHUNK))
    assert served["more"] == [True] * (chunks - 1) + [False]  # no empty message at the end


@pytest.mark.parametrize(
    "path",
    [
        "/files/00/" + "0" * 64 + "/missing.whl",  # a digest the store does not have
        "/files/ab/" + "0" * 64 + "/x.whl",  # the shard does not match the digest
        "/files/00/" + "0" * 63 + "/x.whl",
        "/files/00/" + "0" * 64 + "/" + "n" * 300 + ".whl",
    ],
)
def test_files_not_in_the_store_are_404(index: StaticIndex, path: str) -> None:
    answer = call(index, path)
    assert answer["status"] == 404 and b"NotFound" in answer["body"]


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (b"bytes=0-99", 1000, (0, 99)),
        (b"bytes=900-", 1000, (900, 999)),
        (b"bytes=-100", 1000, (900, 999)),
        (b"bytes=-5000", 1000, (0, 999)),
        (b"bytes=990-2000", 1000, (990, 999)),
        (b"bytes=1000-", 1000, "unsatisfiable"),
        (b"bytes=-0", 1000, "unsatisfiable"),
        (b"bytes=0-1,5-9", 1000, None),  # several ranges: the whole file
        (b"bytes=9-1", 1000, None),
        (b"items=0-1", 1000, None),
        (b"bytes=abc", 1000, None),
        (b"bytes=" + b"9" * 5000 + b"-", 1000, None),  # no 500 from int() of 5,000 digits
    ],
)
def test_byte_ranges_are_read_as_rfc_9110_says(header: bytes, size: int, expected: object) -> None:
    from index_server.static_index import parse_range

    assert parse_range(header, size) == expected
