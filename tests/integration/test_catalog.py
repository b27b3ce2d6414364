"""The catalog and ingest path on SQLite and PostgreSQL."""

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import inspect

from farm.context import Farm
from farm.errors import FileConflict, InvalidDistribution
from farm.store.models import Origin
from tests.support.wheels import make_wheel


def ingest_path(farm: Farm, path: Path, origin: str = Origin.UPLOADED.value):
    with farm.blobs.writer() as writer:
        writer.write(path.read_bytes())
        return farm.ingestor.ingest(writer, path.name, origin)


def test_migrations_create_the_schema(farm: Farm) -> None:
    tables = set(inspect(farm.engine).get_table_names())
    assert {"project", "dist_file", "api_token", "alembic_version"} <= tables


def test_ingest_records_everything(farm: Farm, tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "Demo_Pkg", "1.0", requires=["attrs"], requires_python=">=3.10")
    result = ingest_path(farm, path)
    row = result.row
    assert result.created
    assert (row.filename, row.version, row.kind, row.tags) == (path.name, "1.0", "wheel", "py3-none-any")
    assert (row.requires_python, row.origin, row.size) == (">=3.10", "uploaded", path.stat().st_size)
    assert row.core_metadata is not None and "Requires-Dist: attrs" in row.core_metadata
    assert farm.blobs.path_for(row.sha256).read_bytes() == path.read_bytes()
    assert farm.blobs.metadata_path_for(row.sha256).read_text().startswith("Metadata-Version")
    assert farm.catalog.project("demo-pkg").display_name == "Demo_Pkg"


def test_identical_reingest_is_a_no_op_and_other_content_conflicts(farm: Farm, tmp_path: Path) -> None:
    path = make_wheel(tmp_path / "a", "demo", "1.0")
    first = ingest_path(farm, path)
    again = ingest_path(farm, path)
    assert not again.created and again.row.id == first.row.id
    serial = farm.catalog.project("demo").serial
    other = make_wheel(tmp_path / "b", "demo", "1.0", module_source="VALUE = 'different'\n")
    with pytest.raises(FileConflict, match="exists already with sha256"):
        ingest_path(farm, other)
    assert farm.catalog.project("demo").serial == serial
    assert not farm.blobs.has(__import__("hashlib").sha256(other.read_bytes()).hexdigest())


def test_one_distribution_under_a_second_name_is_refused(farm: Farm, tmp_path: Path) -> None:
    """As PyPI: HX-1.0-… beside hx-1.0-…, or hx-1.0.0-… (the same version by PEP 440), would be two files of one
    wheel, which installers cannot tell apart."""
    first = ingest_path(farm, make_wheel(tmp_path / "a", "hx", "1.0"))
    shouted = tmp_path / "HX-1.0-py3-none-any.whl"
    shouted.write_bytes((tmp_path / "a" / first.row.filename).read_bytes())
    with pytest.raises(FileConflict, match=re.escape("is 'hx-1.0-py3-none-any.whl' under another name")):
        ingest_path(farm, shouted)
    with pytest.raises(FileConflict, match=re.escape("version 1.0 == 1.0.0 by PEP 440")):
        ingest_path(farm, make_wheel(tmp_path / "b", "hx", "1.0.0"))
    other_tags = ingest_path(farm, make_wheel(tmp_path / "c", "hx", "1.0", tag="py2.py3-none-any"))
    newer = ingest_path(farm, make_wheel(tmp_path / "d", "hx", "1.0.1"))
    assert other_tags.created and newer.created
    assert sorted(f.filename for f in farm.catalog.project_files(first.row.project_id)) == [
        "hx-1.0-py2.py3-none-any.whl", "hx-1.0-py3-none-any.whl", "hx-1.0.1-py3-none-any.whl",
    ]  # fmt: skip


def test_invalid_file_stores_nothing(farm: Farm, tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo", "1.0", metadata_name="evil")
    with pytest.raises(InvalidDistribution):
        ingest_path(farm, path)
    assert farm.catalog.project_names() == []
    assert [p for p in farm.blobs.root.rglob("*") if p.is_file()] == []


def test_yanks_bump_the_serial_and_render_on_change(farm: Farm, tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo", "1.0")
    ingest_path(farm, path)
    assert farm.publisher.refresh_stale() == 1
    assert farm.publisher.refresh_stale() == 0  # nothing changed: nothing rendered
    page = farm.settings.www_dir / "simple" / "demo" / "index.json"
    assert b'"yanked":false' in page.read_bytes()
    assert farm.catalog.set_yanked(path.name, True, "broken")
    assert not farm.catalog.set_yanked(path.name, True, "broken")
    assert farm.publisher.refresh_stale() == 1
    assert b'"yanked":"broken"' in page.read_bytes()


def test_runtime_views_filter_files(farm: Farm, tmp_path: Path, cached_wheels: Path) -> None:
    ingest_path(farm, make_wheel(tmp_path, "demo", "1.0", tag="cp313-cp313-pyemscripten_2025_0_wasm32"))
    ingest_path(farm, make_wheel(tmp_path, "demo", "1.1"))
    ingest_path(farm, next(cached_wheels.glob("msgpack-*-pyemscripten_2026_0_wasm32.whl")))
    farm.publisher.refresh_stale()
    www = farm.settings.www_dir
    all_view = (www / "simple" / "demo" / "index.html").read_text()
    runtime_view = (www / "r" / "314.0.7" / "simple" / "demo" / "index.html").read_text()
    assert "demo-1.0-cp313" in all_view and "demo-1.1-py3" in all_view
    assert "demo-1.0-cp313" not in runtime_view and "demo-1.1-py3" in runtime_view
    assert (www / "r" / "314.0.7" / "simple" / "msgpack" / "index.json").is_file()
    assert "msgpack" in (www / "r" / "314.0.7" / "simple" / "index.html").read_text()


def test_concurrent_first_files_of_a_new_project(farm: Farm, tmp_path: Path) -> None:
    """Parallel mirror downloads of one new project: each file lands once, the project once, no error."""
    from concurrent.futures import ThreadPoolExecutor

    wheels = [make_wheel(tmp_path / str(i), "fresh", f"1.{i}") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: ingest_path(farm, p, Origin.MIRRORED.value), wheels))
    assert all(r.created for r in results)
    assert farm.catalog.project_names() == ["fresh"]
    project = farm.catalog.project("fresh")
    assert len(farm.catalog.project_files(project.id or 0)) == 8
    assert project.serial == 8


def test_a_resolution_reads_only_its_candidates_rows(farm: Farm, tmp_path: Path) -> None:
    """Server-side locks and the oracle resolve over ``CatalogSource.of_catalog``: the rows read are the closure's
    projects', whatever else the catalog holds."""
    from packaging.requirements import Requirement

    from farm.mirror.resolver import resolve
    from farm.runtime.locking import CatalogSource
    from farm.runtime.target import target_for

    ingest_path(farm, make_wheel(tmp_path, "app", "1.0", requires=["helper>=1"]))
    ingest_path(farm, make_wheel(tmp_path, "helper", "1.1"))
    for i in range(30):
        ingest_path(farm, make_wheel(tmp_path, f"bystander{i}", "1.0"))
    source = CatalogSource.of_catalog(farm.catalog)
    closure = resolve([Requirement("app")], source, target_for("314.0.7"), source.requires_dist)
    assert sorted(c.name for c in closure) == ["app", "helper"]
    assert sorted(source.rows) == ["app-1.0-py3-none-any.whl", "helper-1.1-py3-none-any.whl"]
    assert source.project("nothing-here") is None and "nothing-here" in source.projects  # asked once


def test_ingest_all_publishes_all_or_nothing(farm: Farm, tmp_path: Path) -> None:
    """A distribution's wheels: all validated before any is published, rows in one transaction; a name taken by
    other content keeps the existing row (the caller sees it by its sha256)."""
    import hashlib
    import shutil

    from farm.store.ingest import StagedDist

    def staged(path: Path) -> StagedDist:
        copy = farm.blobs.root / ".tmp" / f"{os.getpid()}-{path.name}.part"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
        return StagedDist(copy, path.name, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)

    existing = ingest_path(farm, make_wheel(tmp_path / "old", "taken", "1.0"), Origin.MIRRORED.value).row
    good = [make_wheel(tmp_path, "one", "1.0"), make_wheel(tmp_path, "two", "1.0", requires=["one"])]
    clash = make_wheel(tmp_path / "new", "taken", "1.0", module_source="X = 2\n")
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(InvalidDistribution):
        farm.ingestor.ingest_all([staged(p) for p in [*good, broken]], Origin.PYODIDE.value)
    assert farm.catalog.file("one-1.0-py3-none-any.whl") is None  # nothing of the batch was published
    results = farm.ingestor.ingest_all([staged(p) for p in [*good, clash]], Origin.PYODIDE.value)
    assert [(r.row.filename, r.created) for r in results] == [
        ("one-1.0-py3-none-any.whl", True),
        ("two-1.0-py3-none-any.whl", True),
        ("taken-1.0-py3-none-any.whl", False),
    ]
    assert results[2].row.sha256 == existing.sha256 and results[2].row.origin == "mirrored"
    assert {r.row.origin for r in results[:2]} == {"pyodide"}
    assert all(farm.blobs.has(r.row.sha256) for r in results)
