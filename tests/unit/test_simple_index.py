"""Index pages against golden files. Regenerate after an intended change with WASMFARM_UPDATE_GOLDEN=1."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from farm.index.simple_index import (
    IndexFile,
    ProjectListing,
    file_path,
    render_project_html,
    render_project_json,
    render_root_html,
    render_root_json,
)

GOLDEN = Path(__file__).parent / "golden"
SHA_A = "a" * 64
SHA_B = "b" * 64

LISTING = ProjectListing(
    name="demo-pkg",
    files=(
        IndexFile(
            filename="demo_pkg-1.0-py3-none-any.whl",
            path=file_path(SHA_A, "demo_pkg-1.0-py3-none-any.whl"),
            sha256=SHA_A,
            size=1234,
            upload_time=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
            requires_python=">=3.10,<4",
            metadata_sha256="c" * 64,
        ),
        IndexFile(
            filename="demo_pkg-1.1-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
            path=file_path(SHA_B, "demo_pkg-1.1-cp314-cp314-pyemscripten_2026_0_wasm32.whl"),
            sha256=SHA_B,
            size=99,
            upload_time=datetime(2026, 2, 1, tzinfo=UTC),
            yanked=True,
            yanked_reason='broken <build> & "bad"',
        ),
    ),
    versions=("1.0", "1.1"),
)


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("WASMFARM_UPDATE_GOLDEN"):
        path.write_bytes(actual)
    assert path.is_file(), f"golden file {path} is missing; run with WASMFARM_UPDATE_GOLDEN=1 once"
    assert actual == path.read_bytes()


def test_project_html_golden() -> None:
    check_golden("project.html", render_project_html(LISTING, "../../"))


def test_project_json_golden() -> None:
    check_golden("project.json", render_project_json(LISTING, "https://mirror.example/"))


def test_root_golden() -> None:
    check_golden("root.html", render_root_html(["a", "demo-pkg"]))
    check_golden("root.json", render_root_json(["a", "demo-pkg"]))


def test_json_has_absolute_urls_and_pep_700_fields() -> None:
    page = json.loads(render_project_json(LISTING, "https://mirror.example/sub/"))
    assert page["meta"] == {"api-version": "1.1"}
    first, second = page["files"]
    assert first["url"] == f"https://mirror.example/sub/files/aa/{SHA_A}/demo_pkg-1.0-py3-none-any.whl"
    assert first["upload-time"] == "2026-01-02T03:04:05.000678Z"
    assert first["core-metadata"] == {"sha256": "c" * 64}
    assert first["yanked"] is False
    assert second["yanked"] == 'broken <build> & "bad"'
    assert second["core-metadata"] is False
    assert page["versions"] == ["1.0", "1.1"]


def test_html_escapes_and_links_relatively() -> None:
    html = render_project_html(LISTING, "../../").decode()
    assert f'href="../../files/aa/{SHA_A}/demo_pkg-1.0-py3-none-any.whl#sha256={SHA_A}"' in html
    assert 'data-requires-python="&gt;=3.10,&lt;4"' in html
    assert 'data-yanked="broken &lt;build&gt; &amp; &quot;bad&quot;"' in html


@pytest.mark.parametrize("naive", [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)])
def test_naive_times_are_utc(naive: datetime) -> None:
    listing = ProjectListing("x", (IndexFile("x-1-py3-none-any.whl", "files/x", SHA_A, 1, naive),), ("1",))
    assert (
        json.loads(render_project_json(listing, "/"))["files"][0]["upload-time"]
        == "2026-01-01T00:00:00.000000Z"
    )


def test_a_small_page_is_kept_plain_and_drops_the_variants_of_a_bigger_one(tmp_path: Path) -> None:
    from farm.index.pages import PRECOMPRESS_FROM, write_page

    page = tmp_path / "index.json"
    write_page(page, b"x" * PRECOMPRESS_FROM)
    assert {p.name for p in tmp_path.iterdir()} == {"index.json", "index.json.br", "index.json.gz"}
    write_page(page, b"small")
    assert {p.name for p in tmp_path.iterdir()} == {"index.json"} and page.read_bytes() == b"small"


def test_an_unchanged_small_page_loses_a_leftover_variant_and_is_not_rewritten(tmp_path: Path) -> None:
    from farm.index.pages import write_page

    page = tmp_path / "index.html"
    write_page(page, b"small")
    written = page.stat().st_mtime_ns
    (tmp_path / "index.html.gz").write_bytes(b"stale")  # left by an older, bigger page: clients would get it
    write_page(page, b"small")
    assert {p.name for p in tmp_path.iterdir()} == {"index.html"} and page.stat().st_mtime_ns == written
