"""``wasmfarm check`` against a real loopback upstream: every verdict that needs no Pyodide run, with its evidence,
through the CLI (table and ``--json``); kept checks answered from the store; the mirror's empty selections
explained in the same words; generated recipes promoted. The verdicts that need the runtime (works, import fails,
build on request) are in ``tests/e2e/test_compat.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import SQLModel

from farm.audit.trail import AuditTrail
from farm.compat.listing import CheckListing, TableQuery
from farm.compat.store import CheckStore
from farm.context import Farm
from farm.recipe.loader import load_recipes
from farm.settings import Settings
from farm.store.database import alembic_config, make_engine, migrate
from index_server.cli import cli
from tests.conftest import PYODIDE_VERSION as RUNTIME
from tests.support.compat_checks import seed_checks, verdict_for
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_sdist, make_wheel

WASM = "cp314-cp314-pyemscripten_2026_0_wasm32"


def c_sdist(directory: Path, name: str, version: str) -> Path:
    module = name.replace("-", "_")
    return make_sdist(
        directory,
        name,
        version,
        extra_members={
            f"{module}-{version}/src/{module}/_speedups.c": b"int answer(void) { return 42; }\n",
            f"{module}-{version}/tests/test_native.cpp": b"// a test: not what the build compiles\n",
        },
    )


@pytest.fixture
def upstream_dir(tmp_path: Path) -> Path:
    root = tmp_path / "upstream"
    make_wheel(root, "purely", "1.0", requires=["helper>=1", 'winonly; sys_platform == "win32"'])
    make_wheel(root, "helper", "1.0")
    make_wheel(root, "winonly", "1.0")
    make_wheel(root, "wasmy", "2.0", tag=WASM)
    make_wheel(root, "wasmy", "2.0", tag="cp314-cp314-manylinux_2_17_x86_64")
    make_wheel(root, "natively", "1.0", tag="cp314-cp314-manylinux_2_17_x86_64")
    make_wheel(root, "natively", "1.0", tag="cp314-cp314-win_amd64")
    make_wheel(root, "natively", "1.0", tag="cp313-cp313-pyemscripten_2025_0_wasm32")
    c_sdist(root, "cext", "1.0")
    make_wheel(root, "cext", "1.0", tag="cp314-cp314-manylinux_2_17_x86_64")
    make_sdist(
        root,
        "rusty",
        "0.3",
        extra_members={"rusty-0.3/Cargo.toml": b"[package]\n", "rusty-0.3/src/lib.rs": b""},
    )
    make_sdist(root, "fortie", "1.0", extra_members={"fortie-1.0/fortie/solve.f90": b"end\n"})
    make_sdist(root, "puresrc", "1.0")
    make_wheel(root, "needy", "1.0", requires=["ghostdep>=1"])
    make_wheel(root, "needs-cext", "1.0", requires=["cext"])
    return root


@pytest.fixture
def upstream(upstream_dir: Path) -> Iterator[UpstreamServer]:
    with UpstreamServer(upstream_dir) as server:
        yield server


def run(settings: Settings, upstream: UpstreamServer, *args: str) -> Any:
    env = {
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
    }
    return CliRunner().invoke(cli, [*args, "--upstream", upstream.url], env=env)


def verdicts(settings: Settings, upstream: UpstreamServer, *requirements: str) -> dict[str, dict[str, Any]]:
    result = run(settings, upstream, "check", "--json", *requirements)
    assert result.exit_code in (0, 1), result.output
    document = json.loads(result.stdout)
    return {v["requirement"]: v for v in document["verdicts"]}


def test_verdicts_with_their_evidence(settings: Settings, upstream: UpstreamServer) -> None:
    found = verdicts(
        settings, upstream,
        "purely", "wasmy", "natively", "cext", "rusty", "fortie", "puresrc", "needy", "needs-cext", "nothing-here",
        "purely>=9",
    )  # fmt: skip

    purely = found["purely"]
    assert (purely["status"], purely["code"], purely["version"]) == (
        "available-upstream",
        "wheel-upstream",
        "1.0",
    )
    assert purely["reason"].startswith(
        "purely-1.0-py3-none-any.whl is upstream, not mirrored: works if purely and helper are mirrored"
    )
    assert [(n["name"], n["mirrored"], n["depends"]) for n in purely["evidence"]["closure"]] == [
        ("purely", False, ["helper"]),
        ("helper", False, []),
    ]  # winonly's marker excludes the runtime
    assert purely["evidence"]["wheel"]["url"].endswith("/files/purely-1.0-py3-none-any.whl")
    assert purely["evidence"]["missing"] == ["purely", "helper"]

    wasmy = found["wasmy"]
    assert (wasmy["status"], wasmy["evidence"]["wheel"]["filename"]) == (
        "available-upstream",
        f"wasmy-2.0-{WASM}.whl",
    )

    natively = found["natively"]
    assert (natively["status"], natively["code"]) == ("fails", "no-file-for-tags")
    assert natively["evidence"]["platforms"] == [
        "manylinux_2_17_x86_64", "pyemscripten_2025_0_wasm32", "win_amd64",
    ]  # fmt: skip
    assert natively["reason"].startswith(
        "no file for this runtime's tags: no sdist, only wheels for manylinux_2_17_x86_64, "
        "pyemscripten_2025_0_wasm32, win_amd64 (Pyodide 314.0.7 installs pyemscripten_2026_0_wasm32"
    )

    cext = found["cext"]
    assert (cext["status"], cext["code"], cext["version"]) == ("buildable", "sdist-compiled", "1.0")
    assert cext["evidence"]["sources"] == ["src/cext/_speedups.c"]  # tests/ left out
    assert cext["evidence"]["languages"] == ["C"]
    assert cext["evidence"]["sdist"]["filename"] == "cext-1.0.tar.gz"
    assert "wasmfarm check --build cext" in cext["reason"]

    rusty = found["rusty"]
    assert (rusty["status"], rusty["code"]) == ("fails", "no-toolchain")
    assert "lack for Emscripten: Rust (Cargo.toml, src/lib.rs)" in rusty["reason"]
    assert "Fortran (fortie/solve.f90)" in found["fortie"]["reason"]
    assert (found["puresrc"]["status"], found["puresrc"]["code"]) == ("buildable", "sdist-pure")

    needy = found["needy"]
    assert (needy["status"], needy["code"]) == ("fails", "dependency-missing")
    assert needy["reason"] == (
        "needs ghostdep>=1 (required by needy==1.0), which fails: the upstream index has no such project"
    )
    assert needy["evidence"]["dependency"]["project"] == "ghostdep"
    assert needy["evidence"]["dependency"]["code"] == "no-such-project"
    needs_cext = found["needs-cext"]
    assert (needs_cext["status"], needs_cext["code"]) == ("buildable", "dependency-buildable")
    assert needs_cext["evidence"]["dependency"]["code"] == "sdist-compiled"

    assert found["nothing-here"]["code"] == "no-such-project"
    assert found["purely>=9"]["code"] == "no-such-version"
    assert found["purely>=9"]["reason"] == "no such version: nothing matches >=9 (the upstream index has 1.0)"


def test_table_and_exit_status(settings: Settings, upstream: UpstreamServer) -> None:
    failing = run(settings, upstream, "check", "natively", "cext")
    assert failing.exit_code == 1
    lines = failing.stdout.splitlines()
    assert lines[0].split() == ["requirement", "version", "runtime", "verdict", "reason"]
    assert lines[1].split()[:4] == ["natively", "1.0", "314.0.7", "fails"]
    assert lines[2].split()[:4] == ["cext", "1.0", "314.0.7", "buildable"]
    passing = run(settings, upstream, "check", 'winonly; sys_platform == "win32"')
    assert passing.exit_code == 0, passing.output  # nothing to install on this runtime
    assert "its marker excludes Pyodide 314.0.7" in passing.stdout


def test_kept_checks_answer_until_an_input_changes(
    settings: Settings, upstream: UpstreamServer, upstream_dir: Path
) -> None:
    first = verdicts(settings, upstream, "cext", "natively")
    store = CheckStore(Farm.open(settings).engine)
    assert store.count() == 2 and not first["cext"]["from_store"]
    downloads = len(upstream.state.file_requests())

    again = verdicts(settings, upstream, "cext", "natively")
    assert again["cext"]["from_store"] and again["cext"]["check_id"] == first["cext"]["check_id"]
    assert again["natively"]["input_key"] == first["natively"]["input_key"]
    assert store.count() == 2
    assert len(upstream.state.file_requests()) == downloads  # the sdist was not looked into again

    c_sdist(upstream_dir, "cext", "1.1")  # a new upstream version: a new check
    third = verdicts(settings, upstream, "cext")["cext"]
    assert (third["version"], third["from_store"]) == ("1.1", False)
    assert third["input_key"] != first["cext"]["input_key"]
    assert store.count() == 3
    assert [v.version for v in store.history("cext")] == ["1.1", "1.0"]  # the history is kept
    assert [v.version for v in store.current("cext")] == ["1.1"]
    assert store.summary() == {"314.0.7": {"buildable": 1, "fails": 1}}


def test_mirror_explains_an_empty_selection_in_the_same_words(
    settings: Settings, upstream: UpstreamServer
) -> None:
    result = run(settings, upstream, "mirror", "natively", "cext", "purely==9.0", "helper")
    assert result.exit_code == 1, result.output
    assert (
        "nothing selected for natively on Pyodide 314.0.7: no file for this runtime's tags: no sdist, only wheels "
        "for manylinux_2_17_x86_64, pyemscripten_2025_0_wasm32, win_amd64"
    ) in result.stderr
    assert (
        "nothing selected for cext on Pyodide 314.0.7: only an sdist for this runtime, no wheel with its tags"
    ) in result.stderr
    assert "nothing selected for purely==9.0 on Pyodide 314.0.7: no such version: nothing matches ==9.0" in (
        result.stderr
    )
    assert "helper" not in result.stderr.split("mirrored:")[1].split("nothing selected")[0]
    farm = Farm.open(settings)
    assert [f.filename for f in farm.catalog.wheels()] == [
        "helper-1.0-py3-none-any.whl"
    ]  # the rest is mirrored
    assert run(settings, upstream, "mirror", "helper").exit_code == 0
    # The run that fetched something is in the audit trail (as the operator's), the no-op run after it is not.
    [entry] = AuditTrail(farm.engine).entries(action="mirror")
    assert (entry.target, entry.actor.startswith("cli:")) == (upstream.url, True)
    assert (entry.detail["downloaded"], entry.detail["errors"]) == (1, 0), entry.detail


def test_generated_recipes_are_seen_by_the_farm_and_promoted(tmp_path: Path, settings: Settings) -> None:
    hand, generated = tmp_path / "recipes", settings.resolved_generated_recipes_dir
    for root, version in ((hand, "1.0"), (generated, "2.0")):
        (root / "demo").mkdir(parents=True)
        recipe = {"package": {"name": "demo", "version": version}, "source": {"path": "src"}}
        (root / "demo" / "meta.yaml").write_text(yaml.safe_dump(recipe))
        (root / "demo" / "src").mkdir()
    (generated / "other").mkdir()
    (generated / "other" / "src").mkdir()
    (generated / "other" / "meta.yaml").write_text(
        yaml.safe_dump({"package": {"name": "other", "version": "0.1"}, "source": {"path": "src"}})
    )
    loaded, problems = load_recipes(hand, generated)
    assert problems == []
    assert {r.name: r.recipe.package.version for r in loaded} == {"demo": "1.0", "other": "0.1"}  # hand wins

    env = {"WASMFARM_DATA_DIR": str(settings.data_dir), "WASMFARM_RECIPES_DIR": str(hand)}
    clash = CliRunner().invoke(cli, ["recipes", "promote", "demo"], env=env)
    assert clash.exit_code == 1 and "exists already; pass --force" in clash.output
    moved = CliRunner().invoke(cli, ["recipes", "promote", "other"], env=env)
    assert moved.exit_code == 0, moved.output
    assert (hand / "other" / "meta.yaml").is_file() and not (generated / "other").exists()
    missing = CliRunner().invoke(cli, ["recipes", "promote", "other"], env=env)
    assert missing.exit_code == 1 and "no generated recipe 'other'" in missing.output


def test_the_compat_table_matches_its_migration(farm: Farm) -> None:
    with farm.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in differences if "compat_check" in repr(d)] == []


def test_the_table_sorts_versions_as_versions_and_the_migration_fills_old_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'farm.db'}")
    migrate(engine)
    seed_checks(engine, 3, [RUNTIME], prefix="old")
    with engine.begin() as connection:  # checks kept before 0008: their versions, no key
        for index, version in enumerate(("1.10", "1.9", None)):
            connection.execute(
                text("UPDATE compat_check SET version = :v WHERE project = :p"),
                {"v": version, "p": f"old-{index:05d}"},
            )
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0007")
    migrate(engine)  # 0008 again: the column comes back, filled from the versions
    store = CheckStore(engine)
    for name, version in (("new-a", "1.10a1"), ("new-b", "2!0.1"), ("new-c", "1.10.post1")):
        store.add(verdict_for(name, RUNTIME, 0, datetime.now(UTC)).replace(version=version))
    listing = CheckListing(engine)
    ascending = listing.table(TableQuery.parse(sort="version", runtimes=[RUNTIME], per_page=10))
    assert [r.version for r in ascending.rows] == [None, "1.9", "1.10a1", "1.10", "1.10.post1", "2!0.1"]
    descending = listing.table(TableQuery.parse(sort="version", order="desc", runtimes=[RUNTIME]))
    assert [r.version for r in descending.rows][:2] == ["2!0.1", "1.10.post1"]
    engine.dispose()


def test_a_scan_checks_a_list_in_batches_and_keeps_everything(
    settings: Settings, upstream: UpstreamServer, tmp_path: Path
) -> None:
    listing = tmp_path / "top.txt"
    listing.write_text("# the most wanted\nnatively\ncext\nrusty\nnothing-here\n")
    env = {
        "WASMFARM_DATA_DIR": str(settings.data_dir),
        "WASMFARM_DATABASE_URL": settings.resolved_database_url,
        "WASMFARM_CHECK_BATCH_SIZE": "3",
    }
    result = CliRunner().invoke(cli, ["check", "--scan", str(listing), "--upstream", upstream.url], env=env)
    assert result.exit_code == 1, result.output
    assert "[4/4] nothing-here (314.0.7): fails" in result.stderr  # one line per verdict off a terminal
    assert (
        "scanned 4 check(s): 0 works, 0 available-upstream, 1 buildable, 3 fails, 0 unknown" in result.stderr
    )
    store = CheckStore(Farm.open(settings).engine)
    assert store.count() == 4
    again = CliRunner().invoke(cli, ["check", "--scan", str(listing), "--upstream", upstream.url], env=env)
    assert again.exit_code == 1 and store.count() == 4  # answered from the store
