"""Root listings from the names the renders keep (``farm.index.root_names``): the tree is scanned once per process,
follows this process's renders without another scan, and is scanned again after another process changed it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import brotli

from farm.index.pages import PageTree
from farm.runtime.target import target_for
from farm.store.models import DistFile

V = "314.0.7"


def wheel(name: str, tag: str = "py3-none-any") -> DistFile:
    return DistFile(
        project_id=1, filename=f"{name}-1.0-{tag}.whl", version="1.0", kind="wheel", sha256="a" * 64, size=1,
        origin="uploaded",
    )  # fmt: skip


def tree(www: Path) -> PageTree:
    """A page tree as one process sees it: the all-files view and one runtime's."""
    return PageTree(www, "http://mirror.test/", [target_for(V)])


def listed(www: Path, prefix: str = "simple") -> list[str]:
    return [p["name"] for p in json.loads((www / prefix / "index.json").read_text())["projects"]]


def test_renders_keep_the_listing_without_scanning_again(tmp_path: Path) -> None:
    pages = tree(tmp_path)
    for name in ("alpha", "beta"):
        pages.render_project(name, [wheel(name)])
    pages.render_roots()
    assert listed(tmp_path) == listed(tmp_path, f"r/{V}/simple") == ["alpha", "beta"]
    scans = pages.root_names.scans
    assert scans == 1

    # A native wheel only: listed by the all-files view, not by the runtime's.
    assert pages.render_project("gamma", [wheel("gamma", "cp314-cp314-manylinux_2_17_x86_64")])
    assert pages.render_project("alpha", [])  # its last file gone: out of both listings
    assert not pages.render_project("beta", [wheel("beta")])  # re-rendered, presence unchanged
    pages.render_roots()
    assert listed(tmp_path) == ["beta", "gamma"]
    assert listed(tmp_path, f"r/{V}/simple") == ["beta"]
    assert pages.remove_project("beta")
    pages.render_roots()
    assert listed(tmp_path) == ["gamma"] and listed(tmp_path, f"r/{V}/simple") == []
    assert pages.root_names.scans == scans  # every change followed in memory


def test_a_change_by_another_process_is_seen(tmp_path: Path) -> None:
    mine, theirs = tree(tmp_path), tree(tmp_path)  # two processes rendering into one tree
    mine.render_project("alpha", [wheel("alpha")])
    mine.render_roots()
    theirs.render_project("beta", [wheel("beta")])
    theirs.remove_project("alpha")
    mine.render_roots()
    assert listed(tmp_path) == ["beta"]
    assert mine.root_names.scans == 2  # the other process's token made this one scan again
    mine.render_project("gamma", [wheel("gamma")])
    theirs.render_roots()
    assert listed(tmp_path) == ["beta", "gamma"]


def test_a_scan_lists_only_complete_pages(tmp_path: Path) -> None:
    """A crash between a page folder and its page leaves a folder without ``index.html``: not listed."""
    (tmp_path / "simple" / "half-written").mkdir(parents=True)
    (tmp_path / "simple" / "stray-file").write_text("")
    pages = tree(tmp_path)
    pages.render_project("alpha", [wheel("alpha")])
    pages.render_roots()
    assert listed(tmp_path) == ["alpha"]


def test_forget_scans_again(tmp_path: Path) -> None:
    """Pages removed behind the renders' back (``fsck --repair``) are seen once the names are forgotten."""
    pages = tree(tmp_path)
    for name in ("alpha", "beta"):
        pages.render_project(name, [wheel(name)])
    pages.render_roots()
    (tmp_path / "simple" / "alpha" / "index.html").unlink()
    pages.root_names.forget()
    pages.render_roots()
    assert listed(tmp_path) == ["beta"]


def test_the_token_changes_once_per_hold_of_the_render_lock(tmp_path: Path) -> None:
    """A full render of many new projects announces its changes once, not once per project."""
    pages = tree(tmp_path)
    token = tmp_path / ".roots-generation"
    with pages.render_lock.held():
        pages.render_project("alpha", [wheel("alpha")])
        first = token.read_text()
        for name in ("beta", "gamma"):
            pages.render_project(name, [wheel(name)])
        assert token.read_text() == first
        pages.render_roots()
    with pages.render_lock.held():
        pages.render_project("delta", [wheel("delta")])
    assert token.read_text() != first
    other = tree(tmp_path)
    with other.render_lock.held():
        other.render_roots()
    assert listed(tmp_path) == ["alpha", "beta", "delta", "gamma"]


def test_kept_order_and_shared_compression_follow_changes(tmp_path: Path) -> None:
    pages = tree(tmp_path)
    for i in range(0, 200, 2):  # enough names for the listings to be precompressed
        pages.render_project(f"p{i:03d}", [wheel(f"p{i:03d}")])
    pages.render_roots()
    for name in ("p001", "a", "p199", "p101"):  # before, at and after the kept names, in no order
        pages.render_project(name, [wheel(name)])
    pages.remove_project("p100")
    pages.render_roots()
    expected = sorted({f"p{i:03d}" for i in range(0, 200, 2)} - {"p100"} | {"p001", "a", "p199", "p101"})
    for prefix in ("simple", f"r/{V}/simple"):
        assert listed(tmp_path, prefix) == expected
        for page in ("index.json", "index.html"):
            body = (tmp_path / prefix / page).read_bytes()
            assert gzip.decompress((tmp_path / prefix / f"{page}.gz").read_bytes()) == body
            assert brotli.decompress((tmp_path / prefix / f"{page}.br").read_bytes()) == body


def test_names_read_ahead_spare_the_first_change_a_scan(tmp_path: Path) -> None:
    earlier = tree(tmp_path)  # a process that rendered before this one started
    earlier.render_project("alpha", [wheel("alpha")])
    earlier.render_roots()
    pages = tree(tmp_path)
    pages.know_roots()  # as a server does at start, in the background
    assert pages.root_names.scans == 1
    pages.render_project("beta", [wheel("beta")])
    pages.render_roots()
    assert listed(tmp_path) == ["alpha", "beta"]
    assert pages.root_names.scans == 1


def test_a_new_project_over_a_crash_leftover_is_written_in_full(tmp_path: Path) -> None:
    pages = tree(tmp_path)
    leftover = tmp_path / "simple" / "alpha"  # a render that crashed before the project's index.html
    leftover.mkdir(parents=True)
    (leftover / "index.json.br").write_bytes(b"stale")
    assert pages.render_project("alpha", [wheel("alpha")])
    assert {p.name for p in leftover.iterdir()} == {"index.json", "index.html"}
    assert {p.name for p in (tmp_path / f"r/{V}/simple/alpha").iterdir()} == {"index.json", "index.html"}
