import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.errors import RecipeInvalid
from farm.recipe.graph import build_order, dependents
from farm.recipe.loader import load_recipe, load_recipes
from farm.recipe.spec import Recipe

ROOT = Path(__file__).parents[2]
SHA = "a" * 64


def write(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    path = root / name / "meta.yaml"
    path.write_text(text)
    return path


def recipe_text(name: str, host: list[str] | None = None) -> str:
    hosts = "".join(f"\n    - {h}" for h in host or [])
    return (
        f"package:\n  name: {name}\n  version: '1.0'\nsource:\n  url: https://example.invalid/{name}.tar.gz\n"
        f"  sha256: {SHA}\nrequirements:\n  host:{hosts or ' []'}\n"
    )


def test_shipped_recipes_are_clean() -> None:
    recipes, problems = load_recipes(ROOT / "recipes")
    assert problems == []
    assert len(recipes) >= 4
    assert {r.name for r in recipes} >= {"markupsafe", "ujson", "kiwisolver", "pyroaring"}


MISNAMED = """\
package:
  name: other-name
  version: "1.0"
source:
  url: https://example.invalid/demo-1.0.tar.gz
  sha256: {sha256}
  patches:
    - patches/missing.patch
"""


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    text = (
        MISNAMED.format(sha256="not-a-hash")
        + "build:\n  cflag: -O2\n  type: shared_librari\ntest:\n  imports: [demo]\n"
    )
    path = write(tmp_path, "demo", text)
    _, problems = load_recipe(path)
    found = {(p.line, p.field): p for p in problems}
    assert (6, "source/sha256") in found and "64 lower-case hex" in found[(6, "source/sha256")].message
    assert (10, "build/cflag") in found and found[(10, "build/cflag")].hint == "did you mean 'cflags'?"
    assert (11, "build/type") in found and "shared_library" in found[(11, "build/type")].hint
    assert str(found[(10, "build/cflag")]).startswith(f"{path}:10: build/cflag:")


def test_file_problems_once_the_spec_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "demo", MISNAMED.format(sha256=SHA))
    loaded, problems = load_recipe(path)
    assert loaded is not None
    messages = {(p.line, p.field): p for p in problems}
    assert messages[(2, "package/name")].hint == "rename the directory to recipes/other-name/"
    assert "patch 'patches/missing.patch' does not exist" in messages[(8, "source/patches/0")].message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "package:\n  name: x\n  version: 1\nsource:\n  url: https://e/x.tar.gz\n",
            4,
            "a source downloaded from 'url' needs 'sha256'",
        ),
        (
            f"package:\n  name: x\n  version: '1'\nsource:\n  path: src\n  url: https://e/x.tar.gz\n  sha256: {SHA}\n",
            4,
            "give either 'url' or 'path', not both",
        ),
        (
            "package:\n  name: x\n  version: '1'\nsource: {}\n",
            4,
            "give 'url' (with 'sha256') or an in-tree 'path'",
        ),
        (
            f"package:\n  name: x\n  version: '1'\nsource:\n  url: https://e/x.tar.gz\n  sha256: {SHA}\n"
            "build:\n  type: static_library\n  cflags: -O3\n",
            7,
            "a static_library recipe may not set build/cflags",
        ),
        (
            "package:\n  name: numpy\n  version: '1'\nsource:\n  path: src\n"
            "build:\n  cross-build-env: true\n  cross-build-files:\n    - include/numpy/config.h\n",
            1,
            "build/cross-build-files: 'include/numpy/config.h' must be a path inside the wheel under numpy/",
        ),
        (
            "package:\n  name: numpy\n  version: '1'\nsource:\n  path: src\n"
            "build:\n  cross-build-files:\n    - numpy/../../etc/passwd\n",
            1,
            "must be a path inside the wheel under numpy/",
        ),
        ("package:\n  version: '1'\nsource:\n  path: .\n", 1, "Field required"),
        ("package: [unclosed\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "a recipe is a YAML mapping"),
    ],
)
def test_spec_rules(tmp_path: Path, text: str, line: int, message: str) -> None:
    _, problems = load_recipe(write(tmp_path, "x", text))
    assert any(p.line == line and message in p.message for p in problems), [str(p) for p in problems]


def test_cycles_are_reported_with_their_path(tmp_path: Path) -> None:
    write(tmp_path, "a", recipe_text("a", ["b"]))
    write(tmp_path, "b", recipe_text("b", ["c>=1"]))
    write(tmp_path, "c", recipe_text("c", ["a"]))
    recipes, problems = load_recipes(tmp_path)
    assert problems == []
    with pytest.raises(RecipeInvalid, match=r"cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)"):
        build_order(recipes)


def test_build_order_and_dependents(tmp_path: Path) -> None:
    write(tmp_path, "zlib", recipe_text("zlib"))
    write(tmp_path, "binding", recipe_text("binding", ["zlib"]))
    write(tmp_path, "app", recipe_text("app", ["binding"]))
    write(tmp_path, "other", recipe_text("other"))
    recipes, problems = load_recipes(tmp_path)
    assert problems == []
    order = build_order(recipes)
    assert order.index("zlib") < order.index("binding") < order.index("app")
    assert dependents(recipes, ["zlib"]) == {"zlib", "binding", "app"}
    assert dependents(recipes, ["other"]) == {"other"}


def test_schema_document_is_generated_from_the_spec() -> None:
    document = json.loads((ROOT / "docs" / "recipe-schema.json").read_text())
    assert document == Recipe.model_json_schema(by_alias=True), "regenerate: wasmfarm recipes schema"
    assert "cross-build-env" in json.dumps(document)


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    from index_server.cli import cli

    ok = CliRunner().invoke(cli, ["recipes", "lint", str(ROOT / "recipes")])
    assert ok.exit_code == 0 and "recipe(s) OK" in ok.output
    write(tmp_path, "bad", "package:\n  name: bad\n  version: '1'\nsource:\n  url: https://e/bad.tar.gz\n")
    bad = CliRunner().invoke(cli, ["recipes", "lint", str(tmp_path)])
    assert bad.exit_code == 1
    assert (
        f"{tmp_path / 'bad' / 'meta.yaml'}:4: source: a source downloaded from 'url' needs 'sha256'"
        in bad.output
    )


def test_a_host_requirement_that_is_no_recipe_is_a_lint_error(tmp_path: Path) -> None:
    """A recipe that needs a missing libcrc32c used to lint clean and fail in its build."""
    write(tmp_path, "crc", recipe_text("crc", ["libcrc32c>=1.1"]))
    recipes, problems = load_recipes(tmp_path)
    assert recipes == []
    [problem] = problems
    assert (problem.line, problem.field) == (9, "requirements/host/0")
    assert "'libcrc32c>=1.1' is not a recipe in" in problem.message and "meta.yaml" in problem.hint


def test_one_broken_recipe_leaves_the_others_buildable(tmp_path: Path) -> None:
    """The broken recipe and what needs it are left out, with a problem each; unrelated recipes are not."""
    write(tmp_path, "broken", "package:\n  name: broken\n  version: '1'\nsource:\n  path: no-such-dir\n")
    write(tmp_path, "needs-broken", recipe_text("needs-broken", ["broken"]))
    write(tmp_path, "fine", recipe_text("fine"))
    recipes, problems = load_recipes(tmp_path)
    assert [r.name for r in recipes] == ["fine"]
    messages = {p.file.parent.name: p.message for p in problems}
    assert "source directory 'no-such-dir' does not exist" in messages["broken"]
    assert messages["needs-broken"].startswith("needs recipe broken, which has problems")


def test_a_rust_recipe_is_refused_at_lint_time_with_the_reason(tmp_path: Path) -> None:
    text = (
        "package:\n  name: oxide\n  version: '1'\nsource:\n  path: src\n"
        "requirements:\n  executable:\n    - rustup\n"
    )
    write(tmp_path, "oxide", text)
    (tmp_path / "oxide" / "src").mkdir()
    recipes, problems = load_recipes(tmp_path)
    assert recipes == []
    [problem] = problems
    assert (problem.line, problem.field) == (8, "requirements/executable/0")
    assert "no Rust toolchain for Emscripten" in problem.message and "cannot be built here" in problem.message
