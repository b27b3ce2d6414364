from pathlib import Path

import pytest

from index_server.readiness import EditorReadiness


@pytest.fixture
def web(tmp_path: Path) -> Path:
    (tmp_path / "editor").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "editor" / "editor.js").write_text("")
    return tmp_path


@pytest.mark.parametrize("order", [("listening", "installed"), ("installed", "listening")])
def test_ready_once_both_facts_are_in_whatever_their_order(web: Path, order: tuple[str, str]) -> None:
    said: list[str] = []
    readiness = EditorReadiness("http://h:1/", "314.0.7", web, said.append)
    steps = {"listening": readiness.listening, "installed": lambda: readiness.runtime_installed("314.0.7")}
    steps[order[0]]()
    assert said == []
    readiness.runtime_installed("0.29.5")  # another configured runtime: not the editor's
    assert said == []
    steps[order[1]]()
    readiness.listening()
    readiness.runtime_unavailable("314.0.7", "could not be installed")  # too late to matter: said once
    assert said == ["editor ready at http://h:1/editor (runtime 314.0.7)"]


def test_a_runtime_that_never_comes_and_a_missing_bundle_are_said(web: Path) -> None:
    said: list[str] = []
    readiness = EditorReadiness("http://h:1/", "314.0.7", web, said.append)
    readiness.listening()
    readiness.runtime_unavailable("314.0.7", "could not be installed (retry: wasmfarm runtime add 314.0.7)")
    readiness.runtime_installed("314.0.7")
    assert said == [
        "editor not usable: runtime 314.0.7 could not be installed (retry: wasmfarm runtime add 314.0.7)"
    ]
    (web / "editor" / "editor.js").unlink()
    said.clear()
    unbuilt = EditorReadiness("http://h:1/", "314.0.7", web, said.append)
    unbuilt.runtime_installed("314.0.7")
    unbuilt.listening()
    assert said == [
        f"editor not usable: {web / 'editor' / 'editor.js'} missing (build them with ci/build-assets.sh, as "
        "`make serve` does); the index and runtimes are served regardless"
    ]
