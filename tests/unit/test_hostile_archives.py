"""Hostile wheels and sdists against the archive checks: each is refused with a message naming what and which limit,
before the bytes it guards are read or expanded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from farm.dist.archive import ArchiveLimits
from farm.dist.filename import parse_dist_filename
from farm.dist.sdist import read_sdist_metadata
from farm.dist.wheel import read_core_metadata
from farm.errors import InvalidDistribution
from tests.support import hostile
from tests.support.wheels import make_sdist, make_wheel


def _wheel(path: Path, limits: ArchiveLimits | None = None):
    return read_core_metadata(path, parse_dist_filename(path.name), limits or ArchiveLimits())


def _sdist(path: Path, limits: ArchiveLimits | None = None):
    return read_sdist_metadata(path, parse_dist_filename(path.name), limits or ArchiveLimits())


@pytest.mark.parametrize(
    "name",
    [
        "javascript:alert(1);%2f",
        "a'quote",
        'a"quote',
        "a b",
        "new\nline",
        "%2e%2e",
        "..",
        "na\u00efve",
        "nul\0byte",
        "x" * 300,
        "-leading",
        "trailing.",
        "<script>",
    ],
)
def test_invalid_project_names_are_refused_at_the_filename(name: str) -> None:
    for filename in (f"{name}-1.0.tar.gz", f"{name.replace('-', '_')}-1.0-py3-none-any.whl"):
        with pytest.raises(InvalidDistribution, match="invalid distribution filename") as caught:
            parse_dist_filename(filename)
        assert "\0" not in str(caught.value) and "\n" not in str(caught.value)


def test_long_but_valid_name_is_refused_with_the_limit() -> None:
    with pytest.raises(InvalidDistribution, match="at most 128"):
        parse_dist_filename("a" * 200 + "-1.0.tar.gz")


def test_bad_crc_in_metadata_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(InvalidDistribution, match="damaged"):
        _wheel(hostile.wheel_with_bad_crc(tmp_path))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("hash", "didn't match RECORD"),
        ("size", "didn't match RECORD"),
        ("unlisted", "not mentioned in RECORD"),
    ],
)
def test_a_record_that_lies_is_refused(tmp_path: Path, how: str, message: str) -> None:
    with pytest.raises(InvalidDistribution, match="RECORD does not match") as caught:
        _wheel(hostile.wheel_with_lying_record(tmp_path, how))
    assert message in str(caught.value) and "demo-1.0-py3-none-any.whl" in str(caught.value)


def test_an_honest_record_passes(tmp_path: Path) -> None:
    assert _wheel(make_wheel(tmp_path, "demo", "1.0")).name == "demo"


def test_huge_metadata_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = hostile.wheel_with_huge_metadata(tmp_path, 64 * 1024)
    with pytest.raises(InvalidDistribution, match=r"METADATA is 65536 bytes.*setting max_metadata_bytes"):
        _wheel(path, ArchiveLimits(max_metadata_bytes=16 * 1024))


def test_zip_with_too_many_entries_is_refused_from_its_end_record(tmp_path: Path) -> None:
    path = hostile.wheel_with_many_entries(tmp_path, 3000)
    with pytest.raises(
        InvalidDistribution, match=r"more than the limit of 1000 entries.*max_archive_entries"
    ):
        _wheel(path, ArchiveLimits(max_entries=1000))


def test_sdist_with_too_many_members_is_refused(tmp_path: Path) -> None:
    path = hostile.sdist_with_many_members(tmp_path, 3000)
    with pytest.raises(InvalidDistribution, match=r"more than 1000 archive members.*max_archive_entries"):
        _sdist(path, ArchiveLimits(max_entries=1000))


def test_sdist_bomb_is_refused_at_the_header(tmp_path: Path) -> None:
    path = hostile.sdist_bomb(tmp_path, 2 * 1024**3)
    assert path.stat().st_size < 2_000_000
    started = time.monotonic()
    with pytest.raises(InvalidDistribution, match="max_uncompressed_bytes"):
        _sdist(path)
    assert time.monotonic() - started < 1.0  # refused from the header, not after expanding 2 GiB
    with pytest.raises(InvalidDistribution, match=r"decompression bomb.*max_compression_ratio"):
        _sdist(path, ArchiveLimits(max_uncompressed_bytes=4 * 1024**3))


def test_sdist_over_the_time_budget_is_refused(tmp_path: Path) -> None:
    path = hostile.sdist_with_many_members(tmp_path, 200)
    with pytest.raises(InvalidDistribution, match=r"took more than 0 s.*max_archive_seconds"):
        _sdist(path, ArchiveLimits(max_seconds=0))


def test_sdist_with_escaping_member_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidDistribution, match="unsafe path"):
        _sdist(hostile.sdist_with_escaping_member(tmp_path))


def test_sdist_metadata_must_agree_and_gives_requires_python(tmp_path: Path) -> None:
    good = _sdist(make_sdist(tmp_path / "a", "demo", "1.0", requires_python=">=3.10,<4"))
    assert good is not None and good.requires_python == ">=3.10,<4"
    with pytest.raises(InvalidDistribution, match="PKG-INFO says Name: 'other'"):
        _sdist(make_sdist(tmp_path / "b", "demo", "1.0", metadata_name="other"))
    assert _sdist(make_sdist(tmp_path / "c", "demo", "1.0", pkg_info=False)) is None
    with pytest.raises(InvalidDistribution, match="not a PEP 440 version specifier"):
        _sdist(make_sdist(tmp_path / "d", "demo", "1.0", requires_python="javascript:1"))


def test_not_a_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.tar.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(InvalidDistribution, match=r"not a readable .tar.gz"):
        _sdist(path)


def test_a_huge_pax_header_is_refused_while_it_is_read(tmp_path: Path) -> None:
    import resource

    path = hostile.sdist_with_huge_pax_header(tmp_path, 64 * 1024**2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InvalidDistribution, match=r"tar header runs over .*max_metadata_bytes"):
        _sdist(path, ArchiveLimits(max_metadata_bytes=1024**2))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KiB: never held whole


def test_a_bad_sparse_map_is_a_refusal(tmp_path: Path) -> None:
    with pytest.raises(InvalidDistribution, match="not a readable"):
        _sdist(hostile.sdist_with_bad_sparse_map(tmp_path))


@pytest.mark.parametrize("how", ["encrypted", "unknown-method"])
def test_odd_zip_members_are_refusals(tmp_path: Path, how: str) -> None:
    with pytest.raises(InvalidDistribution, match="damaged"):
        _wheel(hostile.wheel_with_odd_member(tmp_path, how))


def test_an_end_record_hidden_from_a_backwards_search_is_still_counted(tmp_path: Path) -> None:
    path = hostile.wheel_hiding_its_end_record(tmp_path, 3000)
    with pytest.raises(InvalidDistribution, match="more than the limit of 1000 entries"):
        _wheel(path, ArchiveLimits(max_entries=1000))


def test_links_inside_the_archive_pass_and_links_out_of_it_do_not(tmp_path: Path) -> None:
    import io
    import tarfile

    def sdist(where: Path, target: str) -> Path:
        path = make_sdist(where, "demo", "1.0")
        with tarfile.open(path) as archive:
            members = [(m, archive.extractfile(m).read()) for m in archive.getmembers()]  # type: ignore[union-attr]
        link = tarfile.TarInfo("demo-1.0/docs/CHANGES.rst")
        link.type, link.linkname = tarfile.SYMTYPE, target
        with tarfile.open(path, "w:gz") as archive:
            for member, handle in members:
                archive.addfile(member, io.BytesIO(handle))
            archive.addfile(link)
        return path

    assert _sdist(sdist(tmp_path / "in", "../pyproject.toml")) is not None
    with pytest.raises(InvalidDistribution, match="points outside the archive"):
        _sdist(sdist(tmp_path / "out", "../../../etc/passwd"))
