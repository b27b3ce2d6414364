import zipfile
from pathlib import Path

import pytest

from farm.dist.archive import ArchiveLimits
from farm.dist.filename import DistKind, parse_dist_filename
from farm.dist.wheel import read_core_metadata
from farm.errors import InvalidDistribution
from tests.support.wheels import make_wheel


@pytest.mark.parametrize(
    ("filename", "kind", "name", "version"),
    [
        ("Demo_Pkg-1.0-py3-none-any.whl", DistKind.WHEEL, "demo-pkg", "1.0"),
        ("msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl", DistKind.WHEEL, "msgpack", "1.2.4"),
        ("demo-2.0.tar.gz", DistKind.SDIST, "demo", "2.0"),
    ],
)
def test_parse_valid(filename: str, kind: DistKind, name: str, version: str) -> None:
    dist = parse_dist_filename(filename)
    assert (dist.kind, dist.name, str(dist.version)) == (kind, name, version)


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("demo.whl", "invalid distribution filename 'demo.whl'"),
        ("demo-1.0-py3-none.whl", "invalid distribution filename"),
        ("demo-notaversion-py3-none-any.whl", "invalid distribution filename"),
        ("../demo-1.0-py3-none-any.whl", "bare file name"),
        ("demo-1.0.exe", "only wheels"),
        ("demo-1.0.egg", "only wheels"),
    ],
)
def test_parse_invalid(filename: str, message: str) -> None:
    with pytest.raises(InvalidDistribution, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_dist_filename(filename)


def test_metadata_is_read_and_matches(tmp_path: Path) -> None:
    path = make_wheel(
        tmp_path,
        "demo-pkg",
        "1.0",
        requires=["attrs>=22", 'six; python_version < "3"'],
        requires_python=">=3.10",
    )
    metadata = read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())
    assert metadata.name == "demo-pkg"
    assert metadata.requires_python == ">=3.10"
    assert metadata.requires_dist == ("attrs>=22", 'six; python_version < "3"')
    assert metadata.raw.startswith(b"Metadata-Version: 2.1\nName: demo-pkg\n")


def test_metadata_name_mismatch(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo", "1.0", metadata_name="other")
    with pytest.raises(InvalidDistribution, match="Name: 'other', but the filename says 'demo'"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())


@pytest.mark.parametrize("evil", ["../../etc/passwd", "/etc/passwd", "demo/../../x", "C:/windows/x"])
def test_path_traversal_is_refused(tmp_path: Path, evil: str) -> None:
    path = make_wheel(tmp_path, "demo", "1.0", extra_entries={evil: b"x"})
    with pytest.raises(InvalidDistribution, match="unsafe path"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())


def test_zip_bomb_ratio_is_refused(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo", "1.0", extra_entries={"demo/zeros.bin": b"\0" * 5_000_000})
    with pytest.raises(InvalidDistribution, match="zip bomb"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())


def test_entry_count_limit(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, "demo", "1.0", extra_entries={f"demo/m{i}.py": b"" for i in range(30)})
    with pytest.raises(InvalidDistribution, match="more than the limit of 10 entries"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits(max_entries=10))


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip")
    with pytest.raises(InvalidDistribution, match="not a valid zip archive"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())


def test_missing_dist_info(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo/__init__.py", "")
    with pytest.raises(InvalidDistribution, match=r"expected exactly one 'demo-1\.0\.dist-info'"):
        read_core_metadata(path, parse_dist_filename(path.name), ArchiveLimits())
