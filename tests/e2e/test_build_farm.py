"""The build farm end to end: the registry-only builder, real pyodide-build runs in bubblewrap, checks,
verification in Pyodide 314 under Node, publication to the index, micropip installing the built wheels.

Offline: the runtime and micropip come from a fake npm registry and upstream index on loopback, the recipes'
sdists are seeded into the blob store (they are the real sdists with the recipes' sha256), the build
requirements come from a loopback index over pinned wheels, and the builder image is the one ``ci/builder-assets.sh``
made from Debian's archive and PyPI (``wasmfarm builder create`` finds and reuses it here).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from farm.build import wasm, xbuildenv
from farm.build.image import BuilderStore
from tests.conftest import CACHE, PYODIDE_VERSION
from tests.e2e.buildfarm import RECIPES, SHIPPED, STACK, BuildFarmEnv, Loopback, new_farm
from tests.e2e.conftest import run_in_pyodide
from tests.support.server import serve_process, wasmfarm_command

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def build_env(tmp_path_factory: pytest.TempPathFactory, loopback: Loopback) -> BuildFarmEnv:
    return new_farm(tmp_path_factory.mktemp("buildfarm"), loopback, without=STACK)  # test_scientific_stack's


def test_builds_verifies_and_publishes_shipped_recipes(
    build_env: BuildFarmEnv, node: str, pyodide_dir: Path, cached_wheels: Path, tmp_path: Path
) -> None:
    result = build_env.run("build", *SHIPPED)
    assert result.returncode == 0, result.stderr[-4000:]
    builds = {b["recipe"]: b for b in build_env.builds()}
    for name in SHIPPED:
        build = builds[name]
        assert build["state"] == "succeeded" and build["published"], build
        assert str(build["wheel_filename"]).endswith("-cp314-cp314-pyemscripten_2026_0_wasm32.whl")
        checks = json.loads(str(build["checks"]))
        assert checks["passed"] and {c["check"] for c in checks["results"]} >= {"tag", "extension modules"}
        verification = json.loads(str(build["verification"]))
        assert verification["ok"] and all(v == "ok" for v in verification["imports"].values()), verification
    kiwisolver = json.loads(str(builds["kiwisolver"]["verification"]))  # its recipe's pytest-pyodide tests
    assert {nodeid: r["outcome"] for nodeid, r in kiwisolver["tests"].items()} == {
        "test_kiwisolver.py::test_solver_and_cpp_exceptions[node]": "passed"
    }, kiwisolver

    # The published wheels install with micropip from the farm's own index in a fresh Pyodide.
    with serve_process(build_env.data_dir) as url:
        out = run_in_pyodide(
            node, pyodide_dir, cached_wheels, tmp_path, f"{url}r/{PYODIDE_VERSION}/simple/",
            ["markupsafe", "ujson", "kiwisolver", "pyroaring"],
            "import json, markupsafe, ujson, kiwisolver, pyroaring\n"
            "json.dumps([str(markupsafe.escape('<a>')), ujson.dumps({'a': [1, 2]}), "
            "len(pyroaring.BitMap(range(10)) & pyroaring.BitMap(range(5, 20))), "
            "__import__('markupsafe._speedups').__name__])",
        )  # fmt: skip
    assert out["ok"], out
    escaped, dumped, overlap, module = json.loads(str(out["result"]))
    assert (escaped, dumped, overlap) == ("&lt;a&gt;", '{"a":[1,2]}', 5)
    assert module == "markupsafe"  # markupsafe._speedups imported: the compiled extension, not the fallback
    assert set(SHIPPED) <= set(dict(out["installed"]))  # type: ignore[call-overload]


IMPORT_SMOKE = """
import json, brotli, crc32c, editdistance, immutables, lz4.frame, marisa_trie, mmh3, multidict, ahocorasick, regex
import wrapt, yaml, numpy, fastcluster
automaton = ahocorasick.Automaton()
automaton.add_word("farm", 1)
automaton.make_automaton()
json.dumps([
    brotli.decompress(brotli.compress(b"wasm" * 50)) == b"wasm" * 50,
    crc32c.crc32c(b"123456789"),
    editdistance.eval("kitten", "sitting"),
    immutables.Map(a=1).set("b", 2)["b"],
    lz4.frame.decompress(lz4.frame.compress(b"x" * 1000)) == b"x" * 1000,
    "wasm" in marisa_trie.Trie(["wasm", "farm"]),
    mmh3.hash("foo"),
    multidict.MultiDict([("a", 1), ("a", 2)]).getall("a"),
    [end for end, _ in automaton.iter("wasmfarm")],
    regex.sub(r"\\p{L}+", "w", "héllo wörld"),
    wrapt.decorator(lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs) + 1)(lambda: 1)(),
    yaml.load("a: [1, 2]", Loader=yaml.CSafeLoader),
    int(numpy.arange(10).sum()),
    fastcluster.linkage(numpy.array([1.0, 5.0, 4.0]), method="single")[:, 2].tolist(),
])
"""


def test_every_shipped_recipe_builds_verifies_and_installs(
    build_env: BuildFarmEnv, node: str, pyodide_dir: Path, cached_wheels: Path, tmp_path: Path
) -> None:
    result = build_env.run("build", "--all", timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    recipes = sorted(p.parent.name for p in RECIPES.glob("*/meta.yaml") if p.parent.name not in STACK)
    assert len(recipes) >= 17
    latest: dict[str, dict[str, object]] = {}
    for build in reversed(build_env.builds()):  # oldest first: the newest build of each recipe wins
        latest[str(build["recipe"])] = build
    for name in recipes:
        assert latest[name]["state"] == "succeeded", (name, latest[name]["error"])
    assert str(latest["libyaml"]["wheel_filename"]).endswith("-library.tar.gz")  # linked in, not published
    _assert_shared_library_vendored(build_env, latest)
    _assert_numpy_target_files_used(build_env, latest)
    with serve_process(build_env.data_dir) as url:
        out = run_in_pyodide(
            node, pyodide_dir, cached_wheels, tmp_path, f"{url}r/{PYODIDE_VERSION}/simple/",
            ["brotli", "crc32c", "editdistance", "immutables", "lz4", "marisa-trie", "mmh3", "multidict",
             "pyahocorasick", "regex", "wrapt", "pyyaml", "numpy", "fastcluster"],
            IMPORT_SMOKE,
        )  # fmt: skip
    assert out["ok"], out
    assert json.loads(str(out["result"])) == [
        True, 0xE3069283, 3, 2, True, True, -156908512, [1, 2], [7], "w w", 2, {"a": [1, 2]}, 45, [1.0, 4.0],
    ]  # fmt: skip


def _assert_shared_library_vendored(build_env: BuildFarmEnv, latest: dict[str, dict[str, object]]) -> None:
    """liblz4 (shared_library) is a side module; lz4's extension needs it and carries it in lz4.libs/."""
    library = latest["liblz4"]
    assert str(library["wheel_filename"]).endswith("-library.tar.gz")
    assert "side module" in {c["check"] for c in json.loads(str(library["checks"]))["results"]}
    wheel = (
        build_env.data_dir
        / "builds"
        / str(latest["lz4"]["id"])
        / "out"
        / str(latest["lz4"]["wheel_filename"])
    )
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        vendored = [n for n in names if n.startswith("lz4.libs/liblz4") and n.endswith(".so")]
        assert len(vendored) == 1, names
        needed = {
            lib for n in names if n.startswith("lz4/") and n.endswith(".so")
            for lib in wasm.parse(zf.read(n), n).needed
        }  # fmt: skip
    assert needed == {vendored[0].rsplit("/", 1)[1]}, needed  # linked dynamically, not the bundled copy


def _assert_numpy_target_files_used(build_env: BuildFarmEnv, latest: dict[str, dict[str, object]]) -> None:
    """fastcluster compiled against the wasm32 numpy headers of the farm's numpy wheel; its tests passed."""
    work = build_env.data_dir / "builds" / str(latest["fastcluster"]["id"])
    log = (work / "build.log").read_text()
    wanted = "# cross-build package numpy==2.5.5: 3 target file(s) from the farm's numpy-2.5.5-"
    assert wanted in log, log[-3000:]
    # pyodide-build installed the host numpy where the farm bound a writable directory, with the target's
    # configuration header over the host's (on x86_64 a long is 8 bytes).
    config = work / "xbuild/host/lib/python3.14/site-packages/numpy/_core/include/numpy/_numpyconfig.h"
    assert "#define NPY_SIZEOF_LONG 4\n" in config.read_text()
    verification = json.loads(str(latest["fastcluster"]["verification"]))
    assert {nodeid: r["outcome"] for nodeid, r in verification["tests"].items()} == {
        "test_fastcluster.py::test_single_linkage_of_points_on_a_line[node]": "passed",
        "test_fastcluster.py::test_condensed_distances_and_methods_agree[node]": "passed",
    }, verification


def _add_patch(recipe_dir: Path, target: str, first_lines: str) -> None:
    """A patch that puts a comment line on top of ``target`` (its first lines given as context)."""
    patch = recipe_dir / "patches" / "0001-comment.patch"
    patch.parent.mkdir(exist_ok=True)
    context = "".join(" " + line for line in first_lines.splitlines(keepends=True))
    count = len(first_lines.splitlines())
    patch.write_text(
        f"--- a/{target}\n+++ b/{target}\n@@ -1,{count} +1,{count + 1} @@\n+/* patched by wasmfarm's test */\n"
        if target.endswith(".c")
        else f"--- a/{target}\n+++ b/{target}\n@@ -1,{count} +1,{count + 1} @@\n+# patched by wasmfarm's test\n"
    )
    with patch.open("a") as handle:
        handle.write(context)
    meta = recipe_dir / "meta.yaml"
    meta.write_text(
        meta.read_text().replace("  sha256:", "  patches:\n    - patches/0001-comment.patch\n  sha256:", 1)
    )


def _first_lines(sdist: str, member: str) -> str:
    import tarfile

    with tarfile.open(CACHE / "sdists" / sdist) as tar:
        handle = tar.extractfile(member)
        assert handle is not None
        return "".join(handle.read().decode().splitlines(keepends=True)[:3])


def test_changed_builds_nothing_then_only_what_a_patch_touches(build_env: BuildFarmEnv) -> None:
    first = build_env.run("build", "--changed")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "0 to build" in first.stderr

    # A patched recipe that nothing depends on: that recipe alone.
    before = len(build_env.builds())
    native = _first_lines("markupsafe-3.0.4.tar.gz", "markupsafe-3.0.4/src/markupsafe/_native.py")
    _add_patch(build_env.recipes / "markupsafe", "src/markupsafe/_native.py", native)
    second = build_env.run("build", "--changed")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 to build" in second.stderr
    new = build_env.builds()[: len(build_env.builds()) - before]
    assert [b["recipe"] for b in new] == ["markupsafe"] and new[0]["state"] == "succeeded"
    # Same version, other inputs: published under a build number next to the first wheel.
    assert str(new[0]["wheel_filename"]).startswith("markupsafe-3.0.4-1-cp314")
    log = build_env.run("build-log", str(new[0]["id"]))
    assert "patching file src/markupsafe/_native.py" in log.stdout

    # A patched library: the library and the recipe that links it, nothing else.
    before = len(build_env.builds())
    api = _first_lines("libyaml_0.2.5.orig.tar.gz", "libyaml-0.2.5/src/api.c")
    _add_patch(build_env.recipes / "libyaml", "src/api.c", api)
    third = build_env.run("build", "--changed")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "2 to build" in third.stderr
    new = build_env.builds()[: len(build_env.builds()) - before]
    assert sorted(b["recipe"] for b in new) == ["libyaml", "pyyaml"]
    assert all(b["state"] == "succeeded" for b in new)


def _in_tree_recipe(root: Path, name: str, setup_py: str, c_source: str, script: str | None = None) -> None:
    directory = root / name
    src = directory / "src"
    (src / name).mkdir(parents=True)
    (src / name / "__init__.py").write_text("")
    (src / f"{name}.c").write_text(c_source)
    (src / "setup.py").write_text(setup_py)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    build = f"build:\n  script: |\n    {script}\n" if script else ""
    (directory / "meta.yaml").write_text(
        f"package:\n  name: {name}\n  version: 1.0.0\nsource:\n  path: src\n{build}test:\n  imports:\n    - {name}\n"
    )


_SETUP = (
    "from setuptools import Extension, setup\n"
    "setup(name='{name}', version='1.0.0', packages=['{name}'],\n"
    "      ext_modules=[Extension('{name}._speed', ['{name}.c'], optional={optional})])\n"
)
_OK_C = '#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_speed"};\nPyMODINIT_FUNC PyInit__speed(void) { return PyModuleDef_Init(&m); }\n'


def test_compile_error_pure_fallback_and_network_are_refused(build_env: BuildFarmEnv) -> None:
    root = build_env.recipes
    _in_tree_recipe(root, "brokenc", _SETUP.format(name="brokenc", optional=False), "int f( {\n")
    _in_tree_recipe(
        root, "fallsback", _SETUP.format(name="fallsback", optional=True), "#error no compiler today\n"
    )

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    reached: list[bool] = []
    listener.settimeout(60)

    def accept() -> None:
        with contextlib.suppress(OSError):  # a timeout is the expected outcome
            listener.accept()
            reached.append(True)

    threading.Thread(target=accept, daemon=True).start()
    probe = (
        f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)\" "
        "&& echo SANDBOX-REACHED-HOST || echo SANDBOX-NETWORK-CUT"
    )
    _in_tree_recipe(root, "netprobe", _SETUP.format(name="netprobe", optional=False), _OK_C, script=probe)

    result = build_env.run("build", "brokenc", "fallsback", "netprobe")
    assert result.returncode == 1
    builds = {b["recipe"]: b for b in build_env.builds()}

    broken = builds["brokenc"]
    assert broken["state"] == "failed" and broken["attempts"] == 1  # a compile error is permanent
    assert "the build failed (exit" in str(broken["error"])  # with the log's tail
    broken_log = build_env.run("build-log", str(broken["id"])).stdout
    assert "brokenc.c:1:" in broken_log and "error:" in broken_log
    fallback = builds["fallsback"]
    assert fallback["state"] == "failed" and "fell back to a pure wheel" in str(fallback["error"])
    assert not fallback["published"]
    # The wheel of the refused build is kept for inspection, and nothing reached the index.
    assert list((build_env.data_dir / "builds" / str(fallback["id"]) / "out").glob("fallsback-1.0.0-*.whl"))
    for name in ("brokenc", "fallsback"):
        assert not (build_env.data_dir / "www" / "simple" / name).exists()

    probe_lines = build_env.run("build-log", str(builds["netprobe"]["id"])).stdout.splitlines()
    assert "SANDBOX-NETWORK-CUT" in probe_lines and "SANDBOX-REACHED-HOST" not in probe_lines
    assert builds["netprobe"]["state"] == "succeeded"  # the probe ran; only the network was missing
    assert reached == []
    listener.close()


def test_build_pages_live_log_and_admin_rebuild_is_byte_identical(build_env: BuildFarmEnv) -> None:
    [original] = [b for b in build_env.builds() if b["recipe"] == "ujson"]
    token = build_env.run("token", "create", "--scope", "admin").stdout.splitlines()[0].strip()
    upload_token = build_env.run("token", "create", "--scope", "upload").stdout.splitlines()[0].strip()
    with (
        serve_process(build_env.data_dir, env=build_env.env) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        listing = http.get("/builds")
        assert (
            listing.status_code == 200
            and f"/builds/{original['id']}" in listing.text
            and "ujson" in listing.text
        )
        page = http.get(f"/builds/{original['id']}")
        assert "imports resolve" in page.text and "Verification in Pyodide" in page.text
        assert (
            http.get(f"/builds/{original['id']}?format=json").json()["wheel_sha256"]
            == original["wheel_sha256"]
        )
        log = http.get(f"/builds/{original['id']}/log", params={"offset": 0})
        assert "# published ujson-6.1.0" in log.text and int(log.headers["X-Log-Offset"]) == len(log.content)
        assert http.get(f"/builds/{original['id']}/log", params={"offset": len(log.content)}).text == ""

        assert http.post(f"/builds/{original['id']}/rebuild").status_code == 401
        denied = http.post(
            f"/builds/{original['id']}/rebuild", headers={"Authorization": f"Bearer {upload_token}"}
        )
        assert denied.status_code == 403
        accepted = http.post(
            f"/builds/{original['id']}/rebuild", headers={"Authorization": f"Bearer {token}"}
        )
        assert accepted.status_code == 202, accepted.text
        new_id = accepted.json()["id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the server's embedded worker builds it
            rebuilt = http.get(f"/builds/{new_id}?format=json").json()
            if rebuilt["state"] in ("succeeded", "failed"):
                break
            time.sleep(1)
    assert rebuilt["state"] == "succeeded", rebuilt["error"]
    # SOURCE_DATE_EPOCH and a pinned builder: the rebuild is byte for byte the wheel already published.
    assert rebuilt["wheel_sha256"] == original["wheel_sha256"]
    assert rebuilt["wheel_filename"] == original["wheel_filename"]


def test_official_toolchain_path_from_a_locally_served_metadata_url(
    build_env: BuildFarmEnv, tmp_path: Path
) -> None:
    """pyodide-build's own `xbuildenv install <version>` through PYODIDE_CROSS_BUILD_ENV_METADATA_URL, against a
    metadata file and cross-build environment served on loopback (the real ones live on GitHub)."""
    registry = BuilderStore(CACHE / "builders").for_runtime(PYODIDE_VERSION)
    site = tmp_path / "site"
    site.mkdir()
    tarball = site / "xbuildenv-314.0.7.tar.gz"
    runtime_dir = build_env.data_dir / "www" / "pyodide" / PYODIDE_VERSION
    xbuildenv.assemble(runtime_dir, PYODIDE_VERSION, registry.rootfs / "usr" / "include", tarball)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    builders = tmp_path / "builders"
    env = {**build_env.env, "WASMFARM_BUILDER_DIR": str(builders)}
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    def release(sha256: str) -> None:
        entry = {"version": PYODIDE_VERSION, "url": f"{base}{tarball.name}", "python_version": "3.14.2",
                 "emscripten_version": "5.0.3", "sha256": sha256}  # fmt: skip
        (site / "metadata.json").write_text(json.dumps({"releases": {PYODIDE_VERSION: entry}}))

    def create() -> subprocess.CompletedProcess[str]:
        args = ["builder", "create", "--kind", "official", "--metadata-url", f"{base}metadata.json"]
        return subprocess.run(
            [*wasmfarm_command(), *args, "--from", str(registry.root)], env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip

    try:
        release("0" * 64)
        refused = create()
        assert refused.returncode == 1 and f"is not the {'0' * 64}" in refused.stderr
        assert not BuilderStore(builders).list()  # nothing half-made is left

        release(digest)
        created = create()
        assert created.returncode == 0, created.stderr[-3000:]
        official = BuilderStore(builders).load(created.stdout.strip())
        assert official.kind == "official" and official.manifest["xbuildenv_sha256"] == digest
        assert (
            official.rootfs / "opt" / "xbuildenv" / PYODIDE_VERSION / "xbuildenv" / "pyodide-root"
        ).is_dir()

        built = subprocess.run(
            [*wasmfarm_command(), "build", "markupsafe", "--force", "--builder", official.identity],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr[-3000:]
        [build] = [b for b in build_env.builds() if b["builder"] == official.identity]
        assert build["state"] == "succeeded" and json.loads(str(build["verification"]))["ok"]
    finally:
        server.shutdown()
        shutil.rmtree(builders, ignore_errors=True)  # 1.4 GB: not left for pytest's temporary directories
