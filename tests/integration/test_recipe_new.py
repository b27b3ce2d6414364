"""``wasmfarm recipes new`` against a real HTTP server playing the upstream index, with a real sdist."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import yaml
from click.testing import CliRunner

from index_server.cli import cli
from tests.support.upstream import UpstreamServer


def make_sdist(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}.tar.gz"
    root = f"{name}-{version}"
    files = {
        f"{root}/PKG-INFO": (
            f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: A demo extension\n"
            "License-Expression: MIT\nRequires-Dist: attrs>=22\nRequires-Dist: pytest; extra == 'test'\n"
        ).encode(),
        f"{root}/pyproject.toml": b"[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n",
        f"{root}/setup.py": b"from setuptools import setup\nsetup()\n",
        f"{root}/src/{name}/__init__.py": b"",
        f"{root}/src/{name}/_speedups.c": b"/* C */\n",
        f"{root}/{name}_helpers.py": b"",
    }
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_new_recipe_from_the_newest_sdist(tmp_path: Path) -> None:
    upstream_dir = tmp_path / "upstream"
    make_sdist(upstream_dir, "demo", "1.0")
    make_sdist(upstream_dir, "demo", "1.2")
    recipes = tmp_path / "recipes"
    env = {"WASMFARM_DATA_DIR": str(tmp_path / "data")}
    with UpstreamServer(upstream_dir) as upstream:
        result = CliRunner().invoke(
            cli,
            ["recipes", "new", "demo", "--upstream", upstream.url, "--recipes-dir", str(recipes)],
            env=env,
        )
        assert result.exit_code == 0, result.output
        again = CliRunner().invoke(
            cli,
            ["recipes", "new", "demo", "--upstream", upstream.url, "--recipes-dir", str(recipes)],
            env=env,
        )
        missing = CliRunner().invoke(
            cli,
            ["recipes", "new", "nothing", "--upstream", upstream.url, "--recipes-dir", str(recipes)],
            env=env,
        )
    recipe = yaml.safe_load((recipes / "demo" / "meta.yaml").read_text())
    assert recipe["package"] == {"name": "demo", "version": "1.2", "top-level": ["demo", "demo_helpers"]}
    assert recipe["source"]["url"].endswith("/files/demo-1.2.tar.gz")
    assert len(recipe["source"]["sha256"]) == 64
    assert recipe["requirements"] == {"run": ["attrs"]}  # the test extra is not a run requirement
    assert recipe["test"] == {"imports": ["demo", "demo_helpers"]}
    assert recipe["about"]["license"] == "MIT"
    assert again.exit_code == 1 and "exists already; pass --force" in again.output
    assert missing.exit_code == 1 and "has no project 'nothing'" in missing.output
    lint = CliRunner().invoke(cli, ["recipes", "lint", str(recipes)])
    assert lint.exit_code == 0, lint.output
    assert not any(
        p.is_file() for p in (tmp_path / "data" / "blobs").rglob("*")
    )  # the download was temporary
