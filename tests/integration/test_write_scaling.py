"""What one upload costs does not grow with the catalog: the same queries and the same page files written whether the
mirror holds 200 projects or 2,000 (issue 16). Measured on the domain (the upload endpoint's ingest and refresh),
counting every statement the engine runs, every file of the page tree that changed and every scan of the tree, the
shared pages' render included. The runtime's lock is set to ``own`` (the setting for large mirrors): with ``all`` the lock lists every
project by design, so its size grows with the catalog."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from farm.context import Farm
from farm.dist.filename import parse_dist_filename
from farm.runtime.install import install_runtime
from farm.settings import Settings
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.support.catalogs import synthetic_projects
from tests.support.npm_registry import NpmRegistryServer
from tests.support.server import free_port
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

V = PYODIDE_VERSION
SMALL, LARGE = 200, 2_000


@dataclass(frozen=True)
class Work:
    queries: int
    files_written: int
    bytes_written: int
    tree_scans: int  # directory scans of the page tree (for the root listings)
    seconds: float


def page_tree(www: Path) -> dict[str, tuple[int, int, int]]:
    tree = {}
    for directory, _dirs, files in os.walk(www):
        for name in files:
            path = os.path.join(directory, name)
            st = os.stat(path)
            tree[path] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return tree


def one_upload(farm: Farm, wheel: Path) -> Work:
    """The upload endpoint's work: store and record the file, render its project's pages, and (coalesced, in the
    background) the shared pages."""
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    before = page_tree(farm.settings.www_dir)
    scans = farm.publisher.pages.root_names.scans
    event.listen(farm.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        with farm.blobs.writer() as writer:
            writer.write(wheel.read_bytes())
            farm.ingestor.ingest(writer, wheel.name, "uploaded")
        farm.publisher.refresh([parse_dist_filename(wheel.name).name], wait_shared=False)
        assert farm.publisher.shared.wait(timeout=60), "the shared pages were not rendered"
        seconds = time.perf_counter() - started
    finally:
        event.remove(farm.engine, "before_cursor_execute", count)
    after = page_tree(farm.settings.www_dir)
    changed = [path for path, stat in after.items() if before.get(path) != stat]
    changed += [path for path in before if path not in after]
    written = sum(after.get(p, (0, 0, 0))[2] for p in changed)
    return Work(statements, len(changed), written, farm.publisher.pages.root_names.scans - scans, seconds)


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    upstream_dir = tmp_path / "upstream"
    upstream_dir.mkdir()
    for name in ("micropip-0.11.1-py3-none-any.whl", "packaging-26.1-py3-none-any.whl"):
        shutil.copy(CACHE / "wheels" / name, upstream_dir)
    with (
        UpstreamServer(upstream_dir) as upstream,
        NpmRegistryServer({V: CACHE / "npm" / f"pyodide-{V}.tgz"}) as npm,
    ):
        settings = Settings(
            data_dir=tmp_path / "data",
            port=free_port(),
            upstream_index=upstream.url,
            npm_registry=npm.url,
            runtime_lock="own",
            shared_pages_quiet=0.0,
        )
        opened = Farm.open(settings)
        try:
            install_runtime(opened, V)
            yield opened
        finally:
            opened.close()


def test_the_work_of_one_upload_does_not_grow_with_the_catalog(farm: Farm, tmp_path: Path) -> None:
    # Projects of this site's own first, so the runtime's lock is big enough for compressed copies at both sizes.
    for i in range(5):
        wheel = make_wheel(tmp_path / "inhouse", f"inhouse{i}", "1.0")
        with farm.blobs.writer() as writer:
            writer.write(wheel.read_bytes())
            farm.ingestor.ingest(writer, wheel.name, "uploaded")
    synthetic_projects(farm, 0, SMALL)
    farm.publisher.refresh_stale()
    small = one_upload(farm, make_wheel(tmp_path / "uploads", "first-upload", "1.0"))

    synthetic_projects(farm, SMALL, LARGE)
    farm.publisher.refresh_stale()  # 1,800 new projects: in directories of their own, written fresh
    assert len(farm.catalog.project_names()) > LARGE
    www = farm.settings.www_dir
    for view in ("simple", f"r/{V}/simple"):
        written = {p.parent.name for p in (www / view).glob("*/index.html")}
        assert {f"filler{i:06d}" for i in range(LARGE)} <= written, view
        assert {p.parent.name for p in (www / view).glob("*/index.json")} == written, view
        assert f"filler{LARGE - 1:06d}/" in (www / view / "index.html").read_text(), view
    assert farm.catalog.stale_projects() == []
    assert list(www.rglob("*.part")) == []
    large = one_upload(farm, make_wheel(tmp_path / "uploads", "second-upload", "1.0"))

    print(f"\none upload at {SMALL} projects: {small}\none upload at {LARGE} projects: {large}")
    lock = farm.settings.www_dir / "pyodide" / V / "pyodide-lock.json"
    assert "second-upload" in lock.read_text()  # the shared pages were really rendered, the lock included
    assert "second-upload/" in (farm.settings.www_dir / "simple" / "index.html").read_text()
    assert small.tree_scans == large.tree_scans == 0, (small, large)  # the root listing came from kept names
    assert small.queries > 0 and small.files_written > 0
    assert large.queries <= small.queries + 2, (small, large)
    assert large.files_written == small.files_written, (small, large)
