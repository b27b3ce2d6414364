"""One build, start to finish: source, build requirements, ``pyodide build`` in the sandbox, checks, verification
in Pyodide, publication. Each step raises ``BuildFailed`` (permanent: a compile error is not retried) or
``BuildError`` (the farm's fault: retried). Work and log live under ``<data_dir>/builds/<id>/``; a failed build keeps
its wheel and log there for inspection.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from farm.build import checks, crossbuild, sandbox, source, wasm, wheelhouse, xbuildenv
from farm.build import verify as verifier
from farm.build.artifacts import ArtifactCache, CachedBuild
from farm.build.image import EM_CACHE, VENV, BuilderImage
from farm.dist.wheel import top_level_names
from farm.errors import BuildFailed
from farm.recipe.loader import LoadedRecipe
from farm.runtime.target import target_for
from farm.store.models import Origin

SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest a zip can say
Progress = Callable[[str], None]


@dataclass
class BuildOutput:
    artifact: Path | None = None  # the wheel, or a library's install tree as .tar.gz
    artifact_sha256: str | None = None  # set once the artifact is in the blob store
    build_seconds: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)
    published_sha256: str | None = None
    published_filename: str | None = None
    unvendored_tests: Path | None = None  # the ``<name>-tests`` wheel split off the built one


class BuildLog:
    """The build's log, appended line by line (the web page and `wasmfarm build-log` read it while it grows)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = path.open("a", buffering=1, encoding="utf-8")

    def __call__(self, line: str) -> None:
        self._handle.write(line + "\n")

    def close(self) -> None:
        self._handle.close()


@dataclass
class BuildRequest:
    build_id: int
    recipe: LoadedRecipe
    runtime: str
    image: BuilderImage
    work: Path
    libraries: list[Path]  # .tar.gz install trees of the static_/shared_library recipes this one needs
    on_process: Callable[[int], None] | None = None  # told the process group of each sandboxed step
    key: str = ""  # the build key (remembers the build requirements of a key)
    cross_build: list[crossbuild.CrossBuildPackage] = field(default_factory=list)  # target-side build deps


def run_build(farm: Any, request: BuildRequest, log: BuildLog, step: Progress) -> BuildOutput:
    """The build's checked artifact: from the build cache when its key is there (``build_cache_dir``), else
    compiled here and then kept there."""
    cache = (
        ArtifactCache(farm.settings.build_cache_dir)
        if farm.settings.build_cache_dir and request.key
        else None
    )
    cached = cache.lookup(request.key, log) if cache is not None else None
    if cached is not None:
        step("prepare")
        return _reuse(farm, request, cached, log, step)
    out, native = _build(farm, request, log, step)
    if cache is not None and out.artifact is not None:
        cache.keep(request.key, out.artifact, out.unvendored_tests, native, out.build_seconds)
    return out


def _build(farm: Any, request: BuildRequest, log: BuildLog, step: Progress) -> tuple[BuildOutput, list[str]]:
    settings = farm.settings
    recipe = request.recipe
    spec = recipe.recipe
    out = BuildOutput()
    work = request.work
    if work.exists():
        shutil.rmtree(work / "src", ignore_errors=True)
        shutil.rmtree(work / "out", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    limits = sandbox.Limits(settings.build_timeout, settings.build_memory_bytes)
    mounts = [sandbox.Mount(work, "/work", writable=True)]

    step("prepare")
    if spec.is_wheel_source:  # nothing to compile: the recipe's wheel is checked, verified and published
        out.artifact = _wheel_source(farm, request, log)
        _check(farm, request, out, [], log, step)
        return out, []
    build_dir, native = _prepare(farm, request, log)
    src_in = "/work/" + str(build_dir.relative_to(work))
    env = _environment(request, settings, farm.runtimes.path(request.runtime), src_in)
    mounts += _private_em_cache(request.image.rootfs, work)
    prelude = ""
    for patch in spec.source.patches:
        prelude += f"patch -p1 --batch --forward < /work/patches/{Path(patch).name}\n"
    if spec.build.script:
        prelude += spec.build.script + "\n"

    started = time.monotonic()
    if recipe.recipe.is_library:
        step("build")
        return _build_library(request, prelude, mounts, env, src_in, log, limits, started), native

    step("requirements")
    index_urls = [*settings.build_index_urls]
    cache = (wheelhouse.RequirementsCache(settings.data_dir / "requirements-cache"), request.key)
    from_image = crossbuild.image_pins(request.image)
    pinned = {**from_image, **crossbuild.pins(request.cross_build)}
    constrained = wheelhouse.write_constraints(work, list(spec.requirements.constraint))
    if constrained:
        log(f"# requirements/constraint: {' '.join(spec.requirements.constraint)}")
        env |= {"PIP_CONSTRAINT": wheelhouse.CONSTRAINTS, "PIP_BUILD_CONSTRAINT": wheelhouse.CONSTRAINTS}
    wheelhouse.prefetch(
        request.image,
        work,
        src_in,
        index_urls,
        log,
        limits,
        cache if request.key else None,
        pinned,
        constrained,
        env,
    )
    for package in request.cross_build:
        log(
            f"# cross-build package {package.name}=={package.version}: {len(package.files)} target file(s) from "
            f"the farm's {package.filename}"
        )
    mounts += crossbuild.overlay(request.image, from_image, request.cross_build, work / "xbuild")

    step("build")
    command = _build_command(request, src_in, prelude)
    _sandboxed(request, command, mounts, env, src_in, log, limits)
    wheels = sorted((work / "out").glob("*.whl"))
    if len(wheels) != 1:
        raise BuildFailed(f"pyodide build produced {len(wheels)} wheels in /work/out, expected one")
    out.artifact = _vendor_shared_libraries(request, wheels[0], mounts, env, log, limits)
    if spec.build.post or spec.build.unvendor_tests:
        step("package")
        out.unvendored_tests = _package(request, out.artifact, mounts, env, log, limits)
    out.build_seconds = time.monotonic() - started

    _check(farm, request, out, native, log, step)
    return out, native


def _reuse(
    farm: Any, request: BuildRequest, cached: CachedBuild, log: BuildLog, step: Progress
) -> BuildOutput:
    """The artifact another build of the same key made, copied in and checked again; the job verifies it in
    Pyodide before it is published, as it would a fresh one."""
    age = (time.time() - cached.built_at) / 3600
    log(
        f"# build cache: {cached.artifact.name} of key {request.key[:12]}, built {age:.1f} h ago in "
        f"{cached.build_seconds:.0f} s; reused, not compiled again (checks and verification still run)"
    )
    out_dir = request.work / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    out = BuildOutput(artifact=out_dir / cached.artifact.name)
    shutil.copyfile(cached.artifact, out_dir / cached.artifact.name)
    if cached.unvendored_tests is not None:
        out.unvendored_tests = out_dir / cached.unvendored_tests.name
        shutil.copyfile(cached.unvendored_tests, out.unvendored_tests)
    if request.recipe.recipe.is_library:
        with tarfile.open(cached.artifact) as tar:
            count = sum(1 for member in tar if member.isfile())
        detail = f"{count} files (from the build cache)"
        out.checks = {"passed": True, "results": [{"check": "library", "ok": True, "detail": detail}]}
    else:
        _check(farm, request, out, cached.native, log, step)
    out.checks["build_cache"] = {"built_at": round(cached.built_at), "build_seconds": cached.build_seconds}
    return out


def _check(
    farm: Any, request: BuildRequest, out: BuildOutput, native: list[str], log: BuildLog, step: Progress
) -> None:
    assert out.artifact is not None
    step("check")
    target = target_for(request.runtime)
    report = checks.check_wheel(out.artifact, target, farm.runtimes.path(request.runtime), native)
    out.checks = report.as_dict()
    for result in report.results:
        state = "FAILED" if not result["ok"] else "WARNING" if result.get("warning") else "ok"
        log(f"# check {result['check']}: {state}: {result['detail']}")
    if not report.passed:
        raise BuildFailed("the wheel failed its checks: " + "; ".join(report.failures()))


def _wheel_source(farm: Any, request: BuildRequest, log: BuildLog) -> Path:
    """A recipe whose ``source/url`` is a wheel (a pure package, or one built elsewhere): the file, verified
    against ``source/sha256``, under its own name in ``out/``; its name and version must be the recipe's."""
    recipe, spec = request.recipe, request.recipe.recipe
    log(
        f"# {recipe.name} {spec.package.version}: source/url is a wheel; it is checked, verified and published"
    )
    archive = source.fetch(recipe, farm.blobs, source.locations_from(farm.settings), log)
    assert archive is not None and spec.source.url is not None
    filename = source.url_filename(spec.source.url)
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise BuildFailed(
            f"{recipe.path}: source/url ends in {filename!r}, not a wheel file name ({exc})"
        ) from None
    if name != recipe.name or version != Version(spec.package.version):
        raise BuildFailed(
            f"{recipe.path}: source/url is {filename}, which is {name} {version}, but the recipe is "
            f"{recipe.name} {spec.package.version}; make package/name and package/version agree with the wheel"
        )
    wheel = request.work / "out" / filename
    wheel.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(archive, wheel)
    return wheel


def _private_em_cache(rootfs: Path, work: Path) -> list[sandbox.Mount]:
    """A writable Emscripten cache for this build, seeded from the image's warm one: a library variant the image
    lacks (configure checks link whole programs, at -O0 too) is built into it instead of failing on a read-only
    root. The headers (1,650 files, never written after the image was made) are bound read-only instead of copied;
    the rest (libraries, a few dozen files) is copied, never linked: a build must not be able to alter the image."""
    image_cache = rootfs / EM_CACHE.lstrip("/")
    cache = work / "emcache"
    if not cache.is_dir():
        shutil.copytree(image_cache, cache, symlinks=True, ignore=_ignore_headers(image_cache))
    headers = cache / "sysroot" / "include"
    headers.mkdir(parents=True, exist_ok=True)
    return [sandbox.Mount(image_cache / "sysroot" / "include", "/work/emcache/sysroot/include")]


def _ignore_headers(image_cache: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        return {"include"} if Path(directory) == image_cache / "sysroot" else set()

    return ignore


def _prepare(farm: Any, request: BuildRequest, log: Callable[[str], None]) -> tuple[Path, list[str]]:
    """Source unpacked (and its native sources listed, for the pure-fallback check), libraries of dependencies."""
    recipe, work = request.recipe, request.work
    log(
        f"# {recipe.name} {recipe.recipe.package.version} for Pyodide {request.runtime} in builder "
        f"{request.image.identity}"
    )
    archive = source.fetch(recipe, farm.blobs, source.locations_from(farm.settings), log)
    build_dir = source.unpack(recipe, archive, work)
    # $PKGDIR: the recipe's own directory, as pyodide-build gives scripts (``cp $PKGDIR/extras/x ...``); a copy.
    shutil.rmtree(work / "recipe", ignore_errors=True)
    shutil.copytree(recipe.directory, work / "recipe", symlinks=False)
    deps = work / "deps"
    shutil.rmtree(deps, ignore_errors=True)
    deps.mkdir()
    for library in request.libraries:
        with tarfile.open(library) as tar:
            tar.extractall(deps, filter="data")
    return build_dir, checks.native_sources(build_dir)


def _build_command(request: BuildRequest, src_in: str, prelude: str) -> list[str]:
    """``pyodide build`` after the recipe's patches and script, in one shell; backend flags may name variables of
    the build environment (``setup-args=--cross-file=${MESON_CROSS_FILE}``, as pyodide-recipes write them)."""
    spec = request.recipe.recipe
    exports = spec.build.exports
    argv = ["/opt/pyodide-build/bin/pyodide", "build", src_in, "--outdir", "/work/out"]
    argv += ["--exports", ",".join(exports) if isinstance(exports, list) else exports]
    command = " ".join(_q(a) for a in argv)
    for flag in spec.build.backend_flags.split():
        command += " -C " + _dq(flag)
    return ["/bin/bash", "-eo", "pipefail", "-c", prelude + "exec " + command]


def _dq(text: str) -> str:
    """Double-quoted for bash: ``$VAR`` expands, nothing else does."""
    return '"' + "".join("\\" + c if c in '"\\`' else c for c in text) + '"'


def _environment(request: BuildRequest, settings: Any, runtime_dir: Path, src_in: str) -> dict[str, str]:
    """The build's environment inside the sandbox: the image's toolchain settings, reproducibility, the offline
    wheelhouse, the libraries of its dependencies, and the recipe's flags. A library's script compiles with emcc
    directly, so it gets the runtime's ABI flags (pyodide-build adds them for packages)."""
    spec = request.recipe.recipe
    image_env = request.image.build_env()
    abi = f"-I{image_env['WASMFARM_PYTHON_INCLUDE']} " if "WASMFARM_PYTHON_INCLUDE" in image_env else ""
    library: dict[str, str] = {}
    if spec.is_library:
        facts = xbuildenv.read_runtime(runtime_dir, request.runtime)
        abi += f"{xbuildenv.target_cflags(facts)} "
        library = {  # as pyodide-build's Makefile.envs names them for recipe scripts
            "SIDE_MODULE_CFLAGS": xbuildenv.target_cflags(facts),
            "SIDE_MODULE_LDFLAGS": xbuildenv.side_module_ldflags(facts),
            "DISTDIR": "/work/dist",
        }
    return {
        **library,
        **{k: v for k, v in image_env.items() if k != "EM_FROZEN_CACHE"},
        "EM_CACHE": "/work/emcache",
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/work/wheelhouse",
        "WASM_LIBRARY_DIR": "/work/deps",
        "PKG_VERSION": spec.package.version,
        "PKG_BUILD_DIR": src_in,
        "PKGDIR": "/work/recipe",
        "PKG_CONFIG_PATH": "/work/deps/lib/pkgconfig",
        "PYODIDE_JOBS": str(settings.build_jobs),
        "CFLAGS": f"{abi}{spec.build.cflags} -I/work/deps/include".strip(),
        "CXXFLAGS": f"{abi}{spec.build.cxxflags} -I/work/deps/include".strip(),
        "LDFLAGS": f"{spec.build.ldflags} -L/work/deps/lib".strip(),
    }


def _build_library(
    request: BuildRequest,
    prelude: str,
    mounts: list[sandbox.Mount],
    env: dict[str, str],
    src_in: str,
    log: Callable[[str], None],
    limits: sandbox.Limits,
    started: float,
) -> BuildOutput:
    """A library: its script installs headers and libraries into $WASM_LIBRARY_DIR, which is packed for its
    dependents. A shared library's side modules (``lib/*.so``, or ``$DISTDIR/*.so`` as pyodide-recipes put them)
    must be wasm side modules; the wheels that link them get them vendored (``_vendor_shared_libraries``)."""
    recipe, spec, work, out = request.recipe, request.recipe.recipe, request.work, BuildOutput()
    prefix, dist = work / "prefix", work / "dist"
    for directory in (prefix, dist):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
    env["WASM_LIBRARY_DIR"] = "/work/prefix"
    _sandboxed(request, ["/bin/bash", "-eo", "pipefail", "-c", prelude], mounts, env, src_in, log, limits)
    out.build_seconds = time.monotonic() - started
    results = []
    if spec.build.package_type == "shared_library":
        results = _side_modules(recipe.path, prefix, dist)
    files = sorted(p for p in prefix.rglob("*") if p.is_file())
    if not files:
        raise BuildFailed(f"{recipe.path}: the library build installed nothing into $WASM_LIBRARY_DIR")
    artifact = work / "out" / f"{recipe.name}-{spec.package.version}-library.tar.gz"
    artifact.parent.mkdir(exist_ok=True)
    with tarfile.open(artifact, "w:gz") as tar:
        for path in files:
            info = tar.gettarinfo(str(path), str(path.relative_to(prefix)))
            info.mtime, info.uid, info.gid = int(SOURCE_DATE_EPOCH), 0, 0
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    out.artifact = artifact
    out.checks = {
        "passed": True,
        "results": [{"check": "library", "ok": True, "detail": f"{len(files)} files"}, *results],
    }
    return out


def _side_modules(meta: Path, prefix: Path, dist: Path) -> list[dict[str, Any]]:
    """The shared objects a shared_library recipe made, checked to be wasm side modules; those left only in
    $DISTDIR join the install tree's ``lib/`` so that dependents link and vendor them."""
    lib = prefix / "lib"
    for made in sorted(dist.glob("*.so*")):
        if not (lib / made.name).exists():
            lib.mkdir(exist_ok=True)
            shutil.copy2(made, lib / made.name)
    objects = sorted(p for p in lib.glob("*.so*") if p.is_file()) if lib.is_dir() else []
    if not objects:
        raise BuildFailed(
            f"{meta}: a shared_library recipe must install its .so into $WASM_LIBRARY_DIR/lib (or $DISTDIR); "
            "its script made none"
        )
    report = checks.check_side_modules(objects)
    if not report.passed:
        raise BuildFailed(f"{meta}: " + "; ".join(report.failures()))
    return report.results


def _vendor_shared_libraries(
    request: BuildRequest,
    wheel: Path,
    mounts: list[sandbox.Mount],
    env: dict[str, str],
    log: Callable[[str], None],
    limits: sandbox.Limits,
) -> Path:
    """Shared libraries of ``shared_library`` dependencies that the wheel's modules need are copied into the wheel
    (``<name>.libs/``, names made unique by content hash, RUNTIME_PATH set) by auditwheel-emscripten's
    ``pyodide auditwheel repair``, the step pyodide-build runs for ``vendor-sharedlib``. A wheel installed by
    micropip from an index must carry them: nothing else would load them. Wheels needing none are left as built."""
    available = {p.name for p in (request.work / "deps" / "lib").glob("*.so*")}
    if not available:
        return wheel
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if checks.is_shared_object(n)]
        inside = {PurePosixPath(n).name for n in names}
        needed = {lib for n in names for lib in wasm.parse(zf.read(n), f"{wheel.name}/{n}").needed}
    wanted = sorted((needed - inside) & available)
    if not wanted:
        return wheel
    repaired = request.work / "repaired"
    shutil.rmtree(repaired, ignore_errors=True)
    repaired.mkdir()
    argv = [f"{VENV}/bin/pyodide", "auditwheel", "repair", "--libdir", "/work/deps/lib"]
    argv += ["--output-dir", "/work/repaired", f"/work/out/{wheel.name}"]
    log(f"# vendoring shared libraries into the wheel: {', '.join(wanted)}")
    _sandboxed(
        request, argv, mounts, {**env, "PATH": f"{VENV}/bin:{sandbox.SANDBOX_PATH}"}, "/work", log, limits
    )
    result = repaired / wheel.name
    if not result.is_file():
        raise BuildFailed(f"pyodide auditwheel repair wrote no {wheel.name} into /work/repaired")
    result.replace(wheel)
    return wheel


_PACKAGE = r"""
set -eo pipefail
rm -rf /work/pkg /work/pkg-tests && mkdir -p /work/pkg /work/pkg-tests
wheel unpack "/work/out/$WHEEL" -d /work/pkg >/dev/null
root=$(echo /work/pkg/*/)
if [ -n "$POST" ]; then
  echo "# build/post, in the unpacked wheel"
  (cd "$root" && eval "$POST")
fi
if [ "$UNVENDOR" = 1 ]; then
  python - "$root" "/work/pkg-tests/$TESTS_DIR" <<'PY'
import json, os, sys
from pyodide_build.recipe.unvendor import unvendor_tests
moved = unvendor_tests(sys.argv[1], sys.argv[2], json.loads(os.environ["RETAIN"]))
print(f"# unvendor-tests (pyodide-build): {moved} test file(s) or folder(s) moved out of the wheel")
PY
fi
rm "/work/out/$WHEEL"
wheel pack "$root" -d /work/out
if [ -d "/work/pkg-tests/$TESTS_DIR" ]; then
  info="/work/pkg-tests/$TESTS_DIR/$TESTS_DIR.dist-info"
  mkdir -p "$info"
  cp "$root"/*.dist-info/WHEEL "$info/WHEEL"
  printf 'Metadata-Version: 2.1
Name: %s
Version: %s
Summary: The tests of %s, unvendored from its wheel
Requires-Dist: %s==%s
' \
    "$TESTS_NAME" "$PKG_VERSION" "$NAME" "$NAME" "$PKG_VERSION" > "$info/METADATA"
  mkdir -p /work/tests-out && wheel pack "/work/pkg-tests/$TESTS_DIR" -d /work/tests-out
fi
"""


def _package(
    request: BuildRequest,
    wheel: Path,
    mounts: list[sandbox.Mount],
    env: dict[str, str],
    log: Callable[[str], None],
    limits: sandbox.Limits,
) -> Path | None:
    """What pyodide-build does between the build and the wheel it hands out: ``build/post`` runs in the unpacked
    wheel (in the sandbox, with the build's environment), then, with ``build/unvendor-tests`` (the default), the
    test files and folders are moved out by pyodide-build's own ``unvendor_tests`` (``build/_retain-test-patterns``
    keeps matches), and the wheel is packed again (``wheel pack``: a new RECORD). The tests become a wheel of
    their own, ``<name>-tests`` (pyodide-build makes a ``-tests.zip`` lock entry; an index serves wheels), which
    requires the package at its version."""
    spec = request.recipe.recipe
    name, version, _, _ = parse_wheel_filename(wheel.name)
    tests_name = f"{name}-tests"
    tests_out = request.work / "tests-out"
    shutil.rmtree(tests_out, ignore_errors=True)
    package_env = env | {
        "PATH": f"{VENV}/bin:{sandbox.SANDBOX_PATH}",
        "WHEEL": wheel.name,
        "POST": spec.build.post or "",
        "UNVENDOR": "1" if spec.build.unvendor_tests else "0",
        "RETAIN": json.dumps(list(spec.build.retain_test_patterns)),
        "NAME": str(name),
        "TESTS_NAME": tests_name,
        "TESTS_DIR": f"{tests_name.replace('-', '_')}-{version}",
    }
    _sandboxed(request, ["/bin/bash", "-c", _PACKAGE], mounts, package_env, "/work", log, limits)
    if not wheel.is_file():
        raise BuildFailed(f"build/post left no {wheel.name}: the wheel's name must not change")
    tests = sorted(tests_out.glob("*.whl"))
    if tests:
        log(f"# unvendored tests: {tests[0].name}")
    return tests[0] if tests else None


def verify_and_publish(
    farm: Any,
    request: BuildRequest,
    out: BuildOutput,
    log: BuildLog,
    step: Progress,
    *,
    verify: bool = True,
    publish: bool = True,
) -> None:
    recipe = request.recipe
    if recipe.recipe.is_library or out.artifact is None:
        return
    if verify:
        _verify(farm, request, out, log, step)
    if publish:
        _publish(farm, request, out, log, step)


def _verify(farm: Any, request: BuildRequest, out: BuildOutput, log: BuildLog, step: Progress) -> None:
    recipe = request.recipe
    assert out.artifact is not None
    step("verify")
    result = verifier.verify(
        out.artifact,
        runtime=request.runtime,
        www=farm.settings.www_dir,
        blobs=farm.blobs,
        runner_assets=farm.settings.runner_assets_dir,
        imports=import_names(recipe, out.artifact),
        test_files=sorted(recipe.directory.glob("test_*.py")),
        snapshots=farm.snapshots,
    )
    out.verification = result.report
    for line in result.report.get("log", []):
        log(f"[pyodide] {line}")
    log(
        f"# verification: {'ok' if result.ok else 'FAILED'} imports {json.dumps(result.report.get('imports', {}))}"
        f" tests {json.dumps(result.report.get('summary', {}))}"
    )
    if not result.ok:
        raise BuildFailed("verification in Pyodide failed: " + "; ".join(result.failures()))


def import_names(recipe: LoadedRecipe, wheel: Path) -> list[str]:
    """What verification imports, as pyodide-build decides it: ``test/imports``, else ``package/top-level``, else
    the wheel's own top-level packages and modules. Never nothing: a wheel with no importable name is refused."""
    spec = recipe.recipe
    if spec.test.imports:
        return list(spec.test.imports)
    if spec.package.top_level:
        return list(spec.package.top_level)
    with zipfile.ZipFile(wheel) as zf:
        names = list(top_level_names(zf.namelist()))
    if not names:
        raise BuildFailed(
            f"{recipe.path}: {wheel.name} has no top-level module to import, so it cannot be verified; "
            "name the modules in test/imports"
        )
    return names


def _publish(farm: Any, request: BuildRequest, out: BuildOutput, log: BuildLog, step: Progress) -> None:
    recipe = request.recipe
    assert out.artifact is not None
    step("publish")
    wheel = out.artifact
    sha256 = out.artifact_sha256
    if sha256 is None:
        with wheel.open("rb") as handle:
            sha256 = farm.blobs.put_stream(handle)[0]
    ingested = _ingest_numbered(farm, sha256, wheel.name)
    projects = [recipe.name]
    tests = out.checks.get("unvendored_tests")
    if tests:  # the <name>-tests wheel, published beside the package (micropip installs it by name)
        tests_row = _ingest_numbered(farm, tests["sha256"], tests["filename"]).row
        projects.append(str(parse_wheel_filename(tests_row.filename)[0]))
        log(f"# published {tests_row.filename} ({tests_row.sha256})")
    farm.publisher.refresh(projects)
    out.published_sha256 = ingested.row.sha256
    out.published_filename = ingested.row.filename
    log(f"# published {ingested.row.filename} ({ingested.row.sha256})")


def _ingest_numbered(farm: Any, sha256: str, filename: str) -> Any:
    for build_number in range(0, 1000):
        name = filename if build_number == 0 else _with_build_tag(filename, build_number)
        existing = farm.catalog.file(name)
        if existing is not None and existing.sha256 != sha256:
            continue  # an earlier build of another key holds this name: the next build number
        return farm.ingestor.ingest_blob(sha256, name, Origin.BUILT.value)
    raise BuildFailed(f"1000 builds of {filename} with other contents are published already")


def _with_build_tag(filename: str, number: int) -> str:
    """``name-1.0-cp314-...whl`` -> ``name-1.0-<n>-cp314-...whl``: a rebuild of the same version with other inputs
    (a new patch) gets a PEP 427 build number instead of clashing with the file already published."""
    name, version, *tags = filename[: -len(".whl")].split("-")
    return "-".join([name, version, str(number), *tags[-3:]]) + ".whl"


def _sandboxed(
    request: BuildRequest,
    argv: list[str],
    mounts: list[sandbox.Mount],
    env: dict[str, str],
    cwd: str,
    log: Callable[[str], None],
    limits: sandbox.Limits,
) -> None:
    log(f"$ {' '.join(argv)}")
    cmd = sandbox.command_line(request.image.rootfs, argv, mounts=mounts, env=env, cwd=cwd)
    outcome = sandbox.run(cmd, log, limits, on_start=request.on_process)
    if outcome.timed_out:
        raise BuildFailed(f"the build exceeded its {limits.wall_seconds:.0f} s limit and was killed")
    if outcome.returncode != 0:
        tail = "\n".join(outcome.tail[-20:])
        raise BuildFailed(f"the build failed (exit {outcome.returncode}); last lines of the log:\n{tail}")


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
