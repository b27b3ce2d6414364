"""The build farm's parts that need no builder: the wasm reader, the wheel checks, the build key, build state
claims, the generated pyconfig.h and the sandbox command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from farm.build import checks, sandbox, wasm, xbuildenv
from farm.build.crossbuild import CrossBuildPackage, image_pins, overlay, pin_requirements
from farm.build.image import BuilderImage, BuilderStore, identity_of
from farm.build.key import all_keys
from farm.build.state import BUILD, BUILT, VERIFY, BuildStates, now
from farm.context import Farm
from farm.errors import BuildError, BuildFailed, InvalidDistribution, NotFound
from farm.recipe.loader import LoadedRecipe, load_recipes
from farm.runtime.target import target_for
from farm.store.models import BuildState


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _name(text: str) -> bytes:
    return _leb(len(text)) + text.encode()


def _section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + _leb(len(body)) + body


def side_module(imports: list[tuple[str, str]], exports: list[str], needed: list[str] = (), weak=()) -> bytes:  # type: ignore[assignment]
    """A minimal side module: function imports, function exports, a dylink.0 section."""
    dylink = b""
    if needed:
        sub = _leb(len(needed)) + b"".join(_name(n) for n in needed)
        dylink += bytes([2]) + _leb(len(sub)) + sub
    if weak:
        sub = _leb(len(weak)) + b"".join(_name(m) + _name(n) + _leb(1) for m, n in weak)
        dylink += bytes([4]) + _leb(len(sub)) + sub
    body = _name("dylink.0") + dylink
    imported = _leb(len(imports)) + b"".join(_name(m) + _name(n) + b"\x00" + _leb(0) for m, n in imports)
    exported = _leb(len(exports)) + b"".join(_name(n) + b"\x00" + _leb(i) for i, n in enumerate(exports))
    return b"\0asm\x01\0\0\0" + _section(0, body) + _section(2, imported) + _section(7, exported)


def test_wasm_reader_finds_imports_exports_needed_and_weak() -> None:
    data = side_module(
        [("env", "PyLong_FromLong"), ("GOT.mem", "x")], ["PyInit_m"], ["libz.so"], [("env", "w")]
    )
    module = wasm.parse(data, "m.so")
    assert module.is_side_module
    assert module.imports == [("env", "PyLong_FromLong", 0), ("GOT.mem", "x", 0)]
    assert (
        module.exports == {"PyInit_m"}
        and module.needed == ["libz.so"]
        and module.weak_imports == {("env", "w")}
    )
    with pytest.raises(InvalidDistribution, match="not a WebAssembly module"):
        wasm.parse(b"\x7fELF....", "m.so")
    with pytest.raises(InvalidDistribution, match="truncated"):
        wasm.parse(data[:-3], "m.so")


@pytest.fixture
def fake_runtime(tmp_path: Path) -> Path:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    main = side_module([("env", "emscripten_date_now")], ["PyLong_FromLong", "PyModuleDef_Init"])
    (runtime / "pyodide.asm.wasm").write_bytes(main)
    (runtime / "pyodide.asm.mjs").write_text("function _emscripten_get_now() {}\n")
    checks.main_module.cache_clear()
    return runtime


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def test_checks_accept_a_resolving_extension_of_the_target(tmp_path: Path, fake_runtime: Path) -> None:
    so = side_module(
        [("env", "PyLong_FromLong"), ("env", "emscripten_get_now"), ("env", "helper")], ["PyInit_m"]
    )
    lib = side_module([], ["helper"])
    wheel = _wheel(
        tmp_path / "m-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        {"m/_m.cpython-314-wasm32-emscripten.so": so, "m.libs/libhelper.so": lib},
    )
    report = checks.check_wheel(wheel, target_for("314.0.7"), fake_runtime, ["src/m.c"])
    assert report.passed, report.results


def test_checks_refuse_pure_fallback_wrong_tag_and_unresolved_imports(
    tmp_path: Path, fake_runtime: Path
) -> None:
    pure = _wheel(tmp_path / "m-1.0-py3-none-any.whl", {"m/__init__.py": b""})
    report = checks.check_wheel(pure, target_for("314.0.7"), fake_runtime, ["src/m.c"])
    assert not report.passed
    assert any("fell back to a pure wheel" in f for f in report.failures())
    assert any(f.startswith("tag:") for f in report.failures())

    so = side_module(
        [("env", "PyLong_FromLong"), ("GOT.mem", "gz_state")], ["PyInit_m"], ["libz.so"], [("env", "maybe")]
    )
    broken = _wheel(
        tmp_path / "m-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        {"m/_m.cpython-314-wasm32-emscripten.so": so},
    )
    [failure] = checks.check_wheel(broken, target_for("314.0.7"), fake_runtime, ["m.c"]).failures()
    assert "GOT.mem.gz_state" in failure and "needs libz.so" in failure and "maybe" not in failure


def test_an_unresolved_function_is_a_warning_not_a_failure(tmp_path: Path, fake_runtime: Path) -> None:
    """The dynamic linker binds function imports lazily: a function that is never called (zstandard's thread
    pool) does not stop loading, so the check warns and the tests in Pyodide decide."""
    so = side_module([("env", "PyLong_FromLong"), ("env", "ZSTD_createThreadPool")], ["PyInit_m"])
    wheel = _wheel(
        tmp_path / "m-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        {"m/_m.cpython-314-wasm32-emscripten.so": so},
    )
    report = checks.check_wheel(wheel, target_for("314.0.7"), fake_runtime, ["m.c"])
    assert report.passed, report.failures()
    [warning] = report.warnings()
    assert warning.startswith("unresolved functions:") and "env.ZSTD_createThreadPool" in warning


def test_a_pure_wheel_passes_the_tag_check_where_nothing_was_compiled(
    tmp_path: Path, fake_runtime: Path
) -> None:
    pure = _wheel(tmp_path / "m-1.0-py3-none-any.whl", {"m/__init__.py": b""})
    assert checks.check_wheel(pure, target_for("314.0.7"), fake_runtime, []).passed
    native = _wheel(tmp_path / "m-1.0-cp312-cp312-manylinux_2_28_x86_64.whl", {"m/__init__.py": b""})
    [failure] = checks.check_wheel(native, target_for("314.0.7"), fake_runtime, []).failures()
    assert failure.startswith("tag:") and "does not install on Pyodide 314.0.7" in failure


def test_native_sources_ignore_tests_and_docs(tmp_path: Path) -> None:
    for name in ("src/a.c", "src/b.pyx", "tests/t.c", "docs/x.cpp", "src/m.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert checks.native_sources(tmp_path) == ["src/a.c", "src/b.pyx"]


def _recipe(root: Path, name: str, host: list[str] = (), patch: str | None = None) -> None:  # type: ignore[assignment]
    directory = root / name
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "x.c").write_text("int x;\n")
    text = f"package:\n  name: {name}\n  version: '1'\nsource:\n  path: src\n"
    if host:
        text += "requirements:\n  host:\n" + "".join(f"    - {h}\n" for h in host)
    (directory / "meta.yaml").write_text(text)


def test_build_key_follows_sources_dependencies_builder_and_runtime(tmp_path: Path) -> None:
    _recipe(tmp_path, "lib")
    _recipe(tmp_path, "app", host=["lib"])
    _recipe(tmp_path, "other")
    recipes, problems = load_recipes(tmp_path)
    assert not problems
    first = all_keys(recipes, "builder-a", "314.0.7")
    assert all_keys(recipes, "builder-a", "314.0.7") == first  # deterministic
    (tmp_path / "lib" / "src" / "x.c").write_text("int x = 1;\n")
    changed = all_keys(load_recipes(tmp_path)[0], "builder-a", "314.0.7")
    assert changed["lib"] != first["lib"] and changed["app"] != first["app"]  # the dependent follows
    assert changed["other"] == first["other"]
    assert all_keys(recipes, "builder-b", "314.0.7")["other"] != first["other"]
    assert all_keys(recipes, "builder-a", "0.29.5")["other"] != first["other"]


def test_a_flag_change_in_one_library_of_the_shipped_stack_changes_its_key_and_its_dependents_only(
    tmp_path: Path,
) -> None:
    """On the real recipes: FreeType compiled with one more flag must be built again, and so must what links it
    (Pillow, matplotlib), while zlib, libjpeg-turbo, Qhull, numpy and the rest stay cache hits."""
    shipped = Path(__file__).parents[2] / "recipes"
    recipes, problems = load_recipes(shipped)
    assert not problems
    before = all_keys(recipes, "builder-a", "314.0.7")
    copy = tmp_path / "recipes"
    shutil.copytree(shipped, copy)
    meta = copy / "freetype" / "meta.yaml"
    text = meta.read_text()
    assert "-DFT_DISABLE_BROTLI=TRUE\n" in text  # a library's flags are in its script (it may not set cflags)
    meta.write_text(
        text.replace("-DFT_DISABLE_BROTLI=TRUE\n", "-DFT_DISABLE_BROTLI=TRUE -DFT_DEBUG_LEVEL_ERROR=ON\n")
    )
    changed, problems = load_recipes(copy)
    assert not problems
    after = all_keys(changed, "builder-a", "314.0.7")
    assert before.keys() == after.keys()
    assert {name for name in before if before[name] != after[name]} == {"freetype", "pillow", "matplotlib"}


def test_a_step_is_claimed_once_and_taken_over_when_its_worker_goes_silent(farm: Farm) -> None:
    states = BuildStates(farm.engine, lease_seconds=30)
    build = states.create("m", "1", "314.0.7", "k" * 64, "img")
    assert build.id is not None
    assert states.claim(build.id, BUILD, "w1")
    assert not states.claim(build.id, BUILD, "w2")  # running, heartbeat fresh
    assert not states.claim(build.id, VERIFY, "w2")  # the build step has not finished
    states.update(build.id, heartbeat_at=now() - timedelta(seconds=60))  # w1 died
    assert states.recoverable(stale_only=True) == [(build.id, BUILD)]
    assert states.claim(build.id, BUILD, "w2")
    states.update(build.id, step=BUILT)
    assert states.claim(build.id, VERIFY, "w2") and not states.claim(build.id, VERIFY, "w3")
    states.finish(build.id, BuildState.SUCCEEDED)
    row = states.get(build.id)
    assert row is not None and row.attempts == 2 and row.worker == "w2" and row.state == BuildState.SUCCEEDED
    assert states.recoverable() == []


def test_wasm_pyconfig_maps_sysconfig_values_back_to_defines() -> None:
    template = (
        '#define HAVE_FORK 1\n/* #undef HAVE_LIBINTL_H */\n#define SIZEOF_LONG 8\n#define WITH_X "a"\n'
        "#ifndef _GNU_SOURCE\n# define _GNU_SOURCE 1\n#endif\n"
    )
    text = xbuildenv.wasm_pyconfig(
        template, {"HAVE_FORK": 0, "SIZEOF_LONG": 4, "HAVE_LIBINTL_H": 1, "WITH_X": '"b"'}
    )
    assert "/* #undef HAVE_FORK */" in text and "#define SIZEOF_LONG 4" in text
    assert "#define HAVE_LIBINTL_H 1" in text and '#define WITH_X "b"' in text
    assert "#ifndef _GNU_SOURCE\n# define _GNU_SOURCE 1\n#endif" in text  # not in sysconfig: the host's line


def test_sandbox_cuts_the_network_unless_a_step_downloads(tmp_path: Path) -> None:
    if sandbox.shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is missing: `make test` installs it (ci/builder-assets.sh)")
    build = sandbox.command_line(tmp_path, ["true"], mounts=[sandbox.Mount(tmp_path, "/work", writable=True)])
    assert (
        "--unshare-net" in build and build[1:4] == ["--ro-bind", str(tmp_path), "/"] and "--clearenv" in build
    )
    download = sandbox.command_line(tmp_path, ["true"], network=True)
    assert "--unshare-net" not in download


def test_sandbox_run_kills_the_whole_group_at_the_time_limit(tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    script = f"(sleep 3; touch {marker}) & sleep 30"
    lines: list[str] = []
    outcome = sandbox.run(
        ["/bin/sh", "-c", script], lines.append, sandbox.Limits(wall_seconds=1, memory_bytes=2**31)
    )
    assert outcome.timed_out and outcome.returncode != 0 and outcome.seconds < 10
    import time

    time.sleep(3.5)
    assert not marker.exists()  # the background child died with its group


def _fake_image(store_root: Path) -> str:
    """A small image directory with the layout of a real one (the real ones are 1.4 GB)."""
    manifest = {
        "kind": "registry",
        "runtime": "314.0.7",
        "spec": {"runtime": "314.0.7"},
        "debian": [],
        "python": [],
    }
    identity = identity_of(manifest)
    rootfs = store_root / identity / "rootfs"
    for needed in ("opt/pyodide-build/bin/pyodide", "usr/bin/emcc"):
        (rootfs / needed).parent.mkdir(parents=True, exist_ok=True)
        (rootfs / needed).write_text("#!/bin/sh\n")
    (rootfs / "opt/xbuildenv").mkdir(parents=True)
    (rootfs / "opt/xbuildenv/xbuildenv").symlink_to("/opt/xbuildenv/314.0.7")  # points inside the image
    (store_root / identity / "manifest.json").write_text(json.dumps(manifest))
    return identity


def test_builder_export_import_checks_the_identity(tmp_path: Path) -> None:
    source = BuilderStore(tmp_path / "a")
    identity = _fake_image(source.root)
    assert [i.identity for i in source.list()] == [identity]
    exported = source.export(identity, tmp_path / "image.tar.zst")
    target = BuilderStore(tmp_path / "b")
    assert target.import_(exported).identity == identity
    assert target.for_runtime("314.0.7").identity == identity

    # An export whose manifest was edited no longer hashes to its identity: refused, nothing imported.
    tampered = tmp_path / "t"
    subprocess.run(["tar", "--zstd", "-xf", str(exported), "-C", str(tmp_path)], check=True)
    manifest = tmp_path / identity / "manifest.json"
    manifest.write_text(manifest.read_text().replace("314.0.7", "0.29.5"))
    subprocess.run(["tar", "--zstd", "-cf", str(tampered), "-C", str(tmp_path), identity], check=True)
    other = BuilderStore(tmp_path / "c")
    with pytest.raises(BuildError, match="the export was altered"):
        other.import_(tampered)
    assert other.list() == []
    with pytest.raises(NotFound, match=r"no registry builder image for runtime 0\.29\.5"):
        target.for_runtime("0.29.5")


def test_a_cancelled_build_stays_cancelled(farm: Farm) -> None:
    states = BuildStates(farm.engine, lease_seconds=30)
    build = states.create("m", "1", "314.0.7", "c" * 64, "img")
    assert build.id is not None
    assert states.claim(build.id, BUILD, "w1")
    assert states.cancel(build.id) and not states.cancel(build.id)
    states.finish(build.id, BuildState.FAILED, error="killed")  # the worker's own ending loses
    states.requeue(build.id, BUILD)
    assert not states.claim(build.id, BUILD, "w2")
    row = states.get(build.id)
    assert row is not None and row.state == BuildState.CANCELLED and row.error is None


def _image_with_xbuildenv(tmp_path: Path, requirements: str) -> BuilderImage:
    xbuildenv_dir = tmp_path / "image" / "rootfs" / "opt/xbuildenv/314.0.7/xbuildenv"
    (xbuildenv_dir / "site-packages-extras" / "scipy").mkdir(parents=True)
    (xbuildenv_dir / "site-packages-extras" / "scipy" / "cython_blas.pxd").write_text("official")
    (xbuildenv_dir / "requirements.txt").write_text(requirements)
    (xbuildenv_dir / "pyodide-root/packages/.artifacts").mkdir(parents=True)
    (tmp_path / "image" / "rootfs" / "opt/xbuildenv/xbuildenv").symlink_to("314.0.7")
    return BuilderImage(tmp_path / "image", {"runtime": "314.0.7", "kind": "official"})


def _numpy_wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "numpy-2.5.5-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("numpy/_core/include/numpy/_numpyconfig.h", "#define NPY_SIZEOF_LONG 4\n")
        zf.writestr("numpy/_core/lib/libnpymath.a", b"!<arch>\n")
        zf.writestr("numpy/__init__.py", "")
    return wheel


def test_cross_build_overlay_pins_and_lays_out_target_files_over_the_image(tmp_path: Path) -> None:
    image = _image_with_xbuildenv(tmp_path, "numpy==1.0.0\nscipy==1.16.0\n")
    numpy = CrossBuildPackage(
        "numpy",
        "2.5.5",
        _numpy_wheel(tmp_path),
        "numpy-2.5.5-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        ("numpy/_core/include/numpy/_numpyconfig.h", "numpy/_core/lib/libnpymath.a"),
        tmp_path / "recipes/numpy/meta.yaml",
    )
    mounts = overlay(image, image_pins(image), [numpy], tmp_path / "xbuild")
    inside = "/opt/xbuildenv/314.0.7/xbuildenv"  # the real directory, not the symlink beside it
    assert [(m.target, m.writable) for m in mounts] == [
        (f"{inside}/requirements.txt", False),
        (f"{inside}/site-packages-extras", False),
        (f"{inside}/pyodide-root/packages/.artifacts", True),  # where pyodide-build installs the host numpy
    ]
    # The farm's numpy replaces the image's pin; the image's other cross-build packages stay, with their files.
    assert (tmp_path / "xbuild/requirements.txt").read_text().split() == ["scipy==1.16.0", "numpy==2.5.5"]
    extras = tmp_path / "xbuild/site-packages-extras"
    assert (extras / "numpy/_core/include/numpy/_numpyconfig.h").read_text() == "#define NPY_SIZEOF_LONG 4\n"
    assert (extras / "numpy/_core/lib/libnpymath.a").is_file()
    assert not (extras / "numpy/__init__.py").exists()  # only the listed target files
    assert (extras / "scipy/cython_blas.pxd").read_text() == "official"
    # The image is untouched.
    assert (
        image.rootfs / inside.lstrip("/") / "requirements.txt"
    ).read_text() == "numpy==1.0.0\nscipy==1.16.0\n"
    # No farm package: an image that pins some still gets a writable host site-packages for pyodide-build to
    # install them in, and the pins are fetched like the farm's (image_pins); an image that pins none needs nothing.
    assert len(overlay(image, image_pins(image), [], tmp_path / "official")) == 3
    assert (tmp_path / "official/requirements.txt").read_text().split() == ["numpy==1.0.0", "scipy==1.16.0"]
    assert image_pins(image) == {"numpy": "1.0.0", "scipy": "1.16.0"}
    (image.rootfs / inside.lstrip("/") / "requirements.txt").write_text("")
    assert overlay(image, image_pins(image), [], tmp_path / "none") == [] and not (tmp_path / "none").exists()


def test_cross_build_files_the_wheel_lacks_are_named_with_the_recipe(tmp_path: Path) -> None:
    image = _image_with_xbuildenv(tmp_path, "")
    meta = tmp_path / "recipes/numpy/meta.yaml"
    wheel = _numpy_wheel(tmp_path)
    missing = CrossBuildPackage("numpy", "2.5.5", wheel, wheel.name, ("numpy/lib/missing.a",), meta)
    with pytest.raises(
        BuildFailed, match=r"meta.yaml: build/cross-build-files names numpy/lib/missing.a, which"
    ):
        overlay(image, {}, [missing], tmp_path / "x")


def test_build_requirements_are_pinned_to_the_cross_build_version() -> None:
    pinned = {"numpy": "2.5.5"}
    assert pin_requirements(["setuptools", "NumPy>=2", "numpy; python_version>'3'", "wheel"], pinned) == [
        "setuptools",
        "numpy==2.5.5",
        'numpy==2.5.5; python_version > "3"',
        "wheel",
    ]


def test_sandboxed_code_has_no_capabilities_and_cannot_remount_the_image(tmp_path: Path) -> None:
    """The host's own root stands in for an image: run as root, bwrap would keep every capability inside."""
    (tmp_path / "out").mkdir()
    probe = (
        "id -u; grep CapEff /proc/self/status; "
        "mount -o remount,rw / 2>/dev/null && echo REMOUNTED || echo remount-refused; "
        "mknod /tmp/disk b 8 0 2>/dev/null && echo MKNOD || echo mknod-refused; "
        "touch /work/made-inside && echo wrote-work"
    )
    lines: list[str] = []
    cmd = sandbox.command_line(
        Path("/"), ["/bin/sh", "-c", probe], mounts=[sandbox.Mount(tmp_path / "out", "/work", writable=True)]
    )
    outcome = sandbox.run(cmd, lines.append, sandbox.Limits(wall_seconds=30, memory_bytes=2**31))
    assert outcome.returncode == 0, lines
    assert lines[0] == str(sandbox.BUILD_UID)
    assert lines[1].split() == ["CapEff:", "0000000000000000"], lines
    assert lines[2:] == ["remount-refused", "mknod-refused", "wrote-work"], lines
    made = tmp_path / "out" / "made-inside"
    assert made.stat().st_uid == os.getuid()  # the farm's own user outside, not uid 1000 of the host


def test_a_shared_library_must_be_side_modules(tmp_path: Path) -> None:
    good = tmp_path / "liblz4.so"
    good.write_bytes(side_module([], ["LZ4_compress_default", "LZ4_decompress_safe"]))
    program = tmp_path / "libprogram.so"  # a whole program: no dylink.0 section
    program.write_bytes(b"\0asm\x01\0\0\0" + _section(7, _leb(1) + _name("main") + b"\x00" + _leb(0)))
    native = tmp_path / "libnative.so"
    native.write_bytes(b"\x7fELF\x02\x01\x01")
    report = checks.check_side_modules([good, program, native])
    assert [r["ok"] for r in report.results] == [True, False, False]
    assert report.results[0]["detail"] == "liblz4.so: 2 exports"
    failures = report.failures()
    assert "libprogram.so has no dylink.0 section" in failures[0] and "SIDE_MODULE_LDFLAGS" in failures[0]
    assert "libnative.so is not a WebAssembly module" in failures[1]
    assert checks.is_shared_object("lz4.libs/liblz4-e27bf009.so") and checks.is_shared_object("a/libz.so.1")
    assert not checks.is_shared_object("a/b.sources")


def test_verification_imports_what_the_recipe_names_else_the_wheels_own_names(tmp_path: Path) -> None:
    from farm.build.runner import import_names
    from farm.recipe.loader import load_recipe

    def recipe(extra: str) -> LoadedRecipe:
        directory = tmp_path / "m"
        directory.mkdir(exist_ok=True)
        (directory / "meta.yaml").write_text(
            f"package:\n  name: m\n  version: '1'\n{extra}source:\n  url: https://e/m-1-py3-none-any.whl\n"
            f"  sha256: '{'0' * 64}'\n"
        )
        loaded, problems = load_recipe(directory / "meta.yaml")
        assert loaded is not None, problems
        return loaded

    wheel = _wheel(
        tmp_path / "m-1-py3-none-any.whl",
        {"m/__init__.py": b"", "m_speed.py": b"", "m-1.dist-info/RECORD": b""},
    )
    assert import_names(recipe(""), wheel) == ["m", "m_speed"]
    assert import_names(recipe("  top-level:\n    - m\n"), wheel) == ["m"]
    data_only = _wheel(
        tmp_path / "d-1-py3-none-any.whl", {"d-1.data/data/share/x.txt": b"", "d-1.dist-info/RECORD": b""}
    )
    with pytest.raises(BuildFailed, match="has no top-level module to import, so it cannot be verified"):
        import_names(recipe(""), data_only)
