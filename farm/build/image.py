"""Builder images: a root filesystem with python3.14, emscripten and pyodide-build, plus an xbuildenv for one runtime.

``<builder_dir>/<identity>/{rootfs/, manifest.json, create.log}``. The identity is the sha256 of the manifest, which
pins everything that goes into a build: each Debian package with its version and the sha256 of its .deb, each
Python distribution of the pyodide-build environment, the xbuildenv's sha256, the compiler flags. An image is made
in a staging directory and renamed into place when complete, so a crash never leaves a half-made image that looks
usable. Two kinds share this layout and the build path:

- ``registry``: Debian's archive (debootstrap) + PyPI (pyodide-build) + an xbuildenv assembled from the mirrored
  npm runtime (``farm.build.xbuildenv``) and Debian's emscripten. Needs nothing but the three registries.
- ``official``: pyodide-build's own xbuildenv for the runtime, found through a metadata URL
  (``PYODIDE_CROSS_BUILD_ENV_METADATA_URL``; a mirror can serve it), and Emscripten from the rootfs unless
  ``--emsdk`` asks pyodide-build to install the exact version (which needs GitHub).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from farm.build import sandbox, xbuildenv
from farm.errors import BuildError, NotFound
from farm.store.blobs import sha256_file

log = logging.getLogger(__name__)

Kind = Literal["registry", "official"]
PACKAGES = (
    "python3.14,python3.14-venv,python3.14-dev,python3-pip-whl,python3-setuptools-whl,emscripten,nodejs,make,"
    "patch,pkgconf,unzip,xz-utils,git,ca-certificates,file,cmake,ninja-build,autoconf,automake,libtool"
)
VENV = "/opt/pyodide-build"
XBUILDENV_PATH = "/opt/xbuildenv"
EM_CACHE = "/opt/emcache"
# pyodide-build's HOSTINSTALLDIR (its default, and the official Makefile.envs'): cross-build packages go there.
CROSS_BUILD_HOST_DIR = "pyodide-root/packages/.artifacts"
# Bump whenever the way an image is made changes: cached images of older layouts are not reused.
LAYOUT_VERSION = 5

_WARM_C = "int f(int x) { return x + 1; }\n"
_WARM_CXX = (
    "#include <stdexcept>\n#include <string>\n#include <vector>\n"
    "int g(int x) { try { if (x) throw std::runtime_error(std::to_string(x)); } "
    "catch (const std::exception& e) { return (int)std::string(e.what()).size(); } "
    "return std::vector<int>(3).size(); }\n"
)


@dataclass(frozen=True)
class BuilderImage:
    root: Path
    manifest: dict[str, Any]

    @property
    def identity(self) -> str:
        return self.root.name

    @property
    def rootfs(self) -> Path:
        return self.root / "rootfs"

    @property
    def runtime(self) -> str:
        return str(self.manifest["runtime"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    def has_executable(self, name: str) -> bool:
        """Whether a build in this image finds ``name`` on its PATH (links are not followed: they point into the
        image, not into this machine)."""
        dirs = [*sandbox.SANDBOX_PATH.split(":"), f"{VENV}/bin"]
        return "/" not in name and any(os.path.lexists(self.rootfs / d.lstrip("/") / name) for d in dirs)

    def xbuildenv_dir(self) -> str:
        """The installed xbuildenv's own directory inside the image (``/opt/xbuildenv/<version>/xbuildenv``, not
        the ``xbuildenv`` symlink beside it): where its ``requirements.txt`` and ``site-packages-extras/`` are."""
        return _xbuildenv_dir(self.rootfs)

    def build_env(self) -> dict[str, str]:
        """Environment of every build in this image (FINDINGS: the flags the Debian toolchain needs)."""
        return {
            "PYODIDE_XBUILDENV_PATH": XBUILDENV_PATH,
            "EM_CACHE": EM_CACHE,
            "EM_FROZEN_CACHE": "1",
            "SKIP_EMSCRIPTEN_VERSION_CHECK": "1",
            "PYODIDE_SKIP_EMSCRIPTEN_INSTALL": "1",
            "MESON_CROSS_FILE": f"{VENV}/lib/python3.14/site-packages/pyodide_build/tools/emscripten.meson.cross",
            **dict(self.manifest.get("env", {})),
        }


def identity_of(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k not in ("created_at", "seconds")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


class BuilderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def list(self) -> list[BuilderImage]:
        images = []
        for manifest in sorted(self.root.glob("*/manifest.json")) if self.root.is_dir() else []:
            try:
                images.append(self.load(manifest.parent.name))
            except BuildError as exc:
                log.warning("%s", exc)
        return images

    def load(self, identity: str) -> BuilderImage:
        root = self.root / identity
        try:
            manifest = json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise NotFound(
                f"no builder image {identity!r} in {self.root}; see `wasmfarm builder list`"
            ) from exc
        if identity_of(manifest) != identity:
            raise BuildError(
                f"{root}/manifest.json does not hash to {identity}: the image was altered; remove it and "
                "run `wasmfarm builder create`"
            )
        for needed in (
            f"rootfs{VENV}/bin/pyodide",
            f"rootfs{XBUILDENV_PATH}/xbuildenv",
            "rootfs/usr/bin/emcc",
        ):
            if not os.path.lexists(root / needed):  # symlinks inside point into the rootfs, not the host
                raise BuildError(f"builder image {identity} is incomplete ({needed} missing); recreate it")
        (root / "rootfs" / "work").mkdir(exist_ok=True)  # the mount point of every build's work directory
        return BuilderImage(root, manifest)

    def for_runtime(self, runtime: str, kind: str = "registry") -> BuilderImage:
        """The newest image for a runtime."""
        matching = [i for i in self.list() if i.runtime == runtime and i.kind == kind]
        if not matching:
            raise NotFound(
                f"no {kind} builder image for runtime {runtime} in {self.root}; "
                f"run `wasmfarm builder create --runtime {runtime}`"
            )
        return max(matching, key=lambda i: str(i.manifest.get("created_at", "")))

    # Export / import -------------------------------------------------------------------------------------------

    def export(self, identity: str, out: Path) -> Path:
        image = self.load(identity)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            _run_host(["tar", "--zstd", "-cf", str(tmp), "-C", str(self.root), image.identity])
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    def import_(self, tarball: Path) -> BuilderImage:
        if not tarball.is_file():
            raise NotFound(f"{tarball}: no such file")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=self.root))
        try:
            _run_host(["tar", "--zstd", "-xf", str(tarball), "-C", str(staging)])
            entries = [p for p in staging.iterdir()]
            if len(entries) != 1 or not (entries[0] / "manifest.json").is_file():
                raise BuildError(
                    f"{tarball}: not a builder image export (one <identity>/manifest.json expected)"
                )
            manifest = json.loads((entries[0] / "manifest.json").read_text())
            identity = identity_of(manifest)
            if entries[0].name != identity:
                raise BuildError(
                    f"{tarball}: its manifest hashes to {identity}, not {entries[0].name}: the export was altered"
                )
            target = self.root / identity
            if target.exists():
                return self.load(identity)
            os.replace(entries[0], target)
            return self.load(identity)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _base(self, name: str) -> BuilderImage:
        """An image of this store by identity, or of another store by its directory path."""
        if "/" in name:
            path = Path(name)
            return BuilderStore(path.parent).load(path.name)
        return self.load(name)

    def remove(self, identity: str) -> None:
        image = self.load(identity)
        trash = self.root / f".trash-{identity}-{uuid.uuid4().hex[:6]}"
        os.replace(image.root, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # Creation --------------------------------------------------------------------------------------------------

    def create(self, spec: ImageSpec, runtime_dir: Path, progress: Callable[[str], None]) -> BuilderImage:
        """Make an image, or return the existing one made from the same spec (``--force`` makes a new one)."""
        if not spec.force:
            for image in self.list():
                if image.manifest.get("spec") == spec.as_dict():
                    progress(f"reusing builder image {image.identity} (same spec; --force makes a new one)")
                    return image
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        started = datetime.now(UTC)
        try:
            base = self._base(spec.base) if spec.base else None
            manifest = _Creator(spec, staging, runtime_dir, progress, base).create()
            manifest["created_at"] = started.isoformat()
            manifest["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            identity = identity_of(manifest)
            target = self.root / identity
            if target.exists():
                return self.load(identity)
            os.replace(staging, target)
            return self.load(identity)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class ImageSpec:
    runtime: str
    kind: Kind = "registry"
    suite: str = "sid"
    debian_mirror: str = "http://deb.debian.org/debian"
    pip_index: str = "https://pypi.org/simple/"
    pyodide_build: str = "0.39.2"
    metadata_url: str | None = None  # official kind: pyodide-build's xbuildenv metadata
    base: str | None = None  # start from this image's root filesystem instead of debootstrap + pip
    force: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "kind": self.kind,
            "suite": self.suite,
            "debian_mirror": self.debian_mirror,
            "pip_index": self.pip_index,
            "pyodide_build": self.pyodide_build,
            "metadata_url": self.metadata_url,
            "base": self.base,
            "layout": LAYOUT_VERSION,
        }


class _Creator:
    def __init__(
        self,
        spec: ImageSpec,
        staging: Path,
        runtime_dir: Path,
        progress: Callable[[str], None],
        base: BuilderImage | None = None,
    ) -> None:
        self.spec = spec
        self.base = base
        self.staging = staging
        self.rootfs = staging / "rootfs"
        self.runtime_dir = runtime_dir
        self.progress = progress
        self.log = (staging / "create.log").open("a")

    def create(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            raise BuildError(
                "creating a builder image needs root (debootstrap, chroot ownership); run as root"
            )
        if not shutil.which("debootstrap"):
            raise BuildError("debootstrap is not installed: apt-get install debootstrap")
        try:
            if self.base is not None:
                debs, python_dists = self._from_base(self.base)
            else:
                debs = self._debootstrap()
                _fixups(self.rootfs)
                python_dists = self._pyodide_build()
            xbuildenv_sha = self._xbuildenv()
            _cross_build_mountpoints(self.rootfs)
            _route_pyconfig(self.rootfs)
            self._warm_cache()
        finally:
            self.log.close()
        return {
            "kind": self.spec.kind,
            "runtime": self.spec.runtime,
            "spec": self.spec.as_dict(),
            "debian": debs,
            "python": python_dists,
            "xbuildenv_sha256": xbuildenv_sha,
            "env": {"WASMFARM_PYTHON_INCLUDE": self._python_include()},
        }

    def _step(self, title: str, argv: list[str], **kwargs: Any) -> None:
        self.progress(title)
        self.log.write(f"$ {' '.join(argv)}\n")
        self.log.flush()
        outcome = sandbox.run(
            argv, self._log_line, sandbox.Limits(wall_seconds=3600, memory_bytes=16 * 1024**3)
        )
        if outcome.returncode != 0:
            tail = "\n".join(outcome.tail[-15:])
            raise BuildError(f"{title} failed (exit {outcome.returncode}); see {self.log.name}:\n{tail}")

    def _log_line(self, line: str) -> None:
        self.log.write(line + "\n")

    def _in_root(self, script: str, *, network: bool = False, env: dict[str, str] | None = None) -> list[str]:
        return sandbox.command_line(
            self.rootfs, ["/bin/sh", "-ec", script], network=network, writable_root=True, env=env, cwd="/"
        )

    def _python_include(self) -> str:
        """The target's CPython headers inside the image (build systems that preprocess without pywasmcross's
        help, like meson's ``Python.h`` probe, get them through CFLAGS)."""
        found = sorted(
            self.rootfs.glob(
                XBUILDENV_PATH.lstrip("/") + "/*/xbuildenv/pyodide-root/cpython/installs/*/include/python3.*"
            )
        )
        if not found:
            raise BuildError(
                f"the cross-build environment in {self.rootfs}{XBUILDENV_PATH} has no CPython headers"
            )
        return "/" + str(found[-1].relative_to(self.rootfs))

    def _from_base(self, base: BuilderImage) -> tuple[list[dict[str, str]], list[str]]:
        self.progress(f"copying the root filesystem of builder image {base.identity}")
        _run_host(["cp", "-a", "--reflink=auto", str(base.rootfs), str(self.rootfs)])
        for inherited in (XBUILDENV_PATH, "/opt/wasmfarm"):
            shutil.rmtree(self.rootfs / inherited.lstrip("/"), ignore_errors=True)
        return list(base.manifest["debian"]), list(base.manifest["python"])

    def _debootstrap(self) -> list[dict[str, str]]:
        self._step(
            f"debootstrap {self.spec.suite} from {self.spec.debian_mirror} (about 90 s)",
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={PACKAGES}",
                self.spec.suite,
                str(self.rootfs),
                self.spec.debian_mirror,
            ],
        )
        archives = self.rootfs / "var/cache/apt/archives"
        debs = []
        for deb in sorted(archives.glob("*.deb")):
            name, version, arch = deb.stem.split("_")
            debs.append({"package": name, "version": version, "arch": arch, "sha256": sha256_file(deb)})
            deb.unlink()
        if not debs:
            raise BuildError(f"debootstrap left no .deb files in {archives}: cannot pin the image")
        return debs

    def _pyodide_build(self) -> list[str]:
        self._step(
            f"python3.14 venv with pyodide-build=={self.spec.pyodide_build} from {self.spec.pip_index}",
            self._in_root(
                f"python3.14 -m venv {VENV}\n"
                f"{VENV}/bin/pip install -q --disable-pip-version-check --index-url {self.spec.pip_index} "
                f"pyodide-build=={self.spec.pyodide_build}\n"
                f"{VENV}/bin/pip freeze --all > {VENV}/freeze.txt",
                network=True,
                env={"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"},
            ),
        )
        return (self.rootfs / VENV.lstrip("/") / "freeze.txt").read_text().split()

    def _xbuildenv(self) -> str:
        opt = self.rootfs / "opt/wasmfarm"
        opt.mkdir(parents=True, exist_ok=True)
        env = {"PYODIDE_XBUILDENV_PATH": XBUILDENV_PATH}
        if self.spec.kind == "official":
            if not self.spec.metadata_url:
                raise BuildError(
                    "an official builder needs --metadata-url (pyodide-build's xbuildenv metadata)"
                )
            env["PYODIDE_CROSS_BUILD_ENV_METADATA_URL"] = self.spec.metadata_url
            sha256 = _verify_official_release(self.spec.metadata_url, self.spec.runtime)
            self.progress(f"official cross-build environment {self.spec.runtime}: sha256 {sha256} verified")
            self._step(
                f"pyodide xbuildenv install {self.spec.runtime} (metadata {self.spec.metadata_url})",
                self._in_root(
                    f"{VENV}/bin/pyodide xbuildenv install {self.spec.runtime}", network=True, env=env
                ),
            )
            return sha256
        tarball = opt / f"xbuildenv-{self.spec.runtime}.tar.gz"
        self.progress(f"assembling the cross-build environment from runtime {self.spec.runtime}")
        xbuildenv.assemble(self.runtime_dir, self.spec.runtime, self.rootfs / "usr/include", tarball)
        self._step(
            "pyodide xbuildenv install (offline, from the assembled tarball)",
            self._in_root(
                f"{VENV}/bin/pyodide xbuildenv install --url file:///opt/wasmfarm/{tarball.name}", env=env
            ),
        )
        return sha256_file(tarball)

    def _warm_cache(self) -> None:
        """Fill Emscripten's cache once so builds can run with a read-only root (EM_FROZEN_CACHE)."""
        warm = self.rootfs / "opt/wasmfarm/warm"
        warm.mkdir(parents=True, exist_ok=True)
        (warm / "a.c").write_text(_WARM_C)
        (warm / "b.cpp").write_text(_WARM_CXX)
        flags = "-O2 -g0 -fPIC -fwasm-exceptions -sSUPPORT_LONGJMP=wasm -DEMSCRIPTEN"
        link = f"{flags} -s WASM_BIGINT -Wl,--experimental-pic -sSIDE_MODULE=1"
        self._step(
            "warming Emscripten's cache (side modules in C and C++ with exceptions, whole programs; about 2 min)",
            self._in_root(
                f"cd /opt/wasmfarm/warm\nemcc {flags} -c a.c -o a.o\nem++ {flags} -c b.cpp -o b.o\n"
                f"em++ {link} a.o b.o -o warm.so\nemar rcs libwarm.a a.o\n"
                # Configure-style checks (meson, autoconf) link whole programs: libc and friends, both variants.
                f"echo 'int main(void) {{ return 0; }}' > main.c\nemcc {flags} main.c -o main.js -lm\n"
                "emcc -O2 main.c -o main.js -lm\n"
                "rm -f *.o *.so *.a *.js *.wasm",
                env={"EM_CACHE": EM_CACHE},
            ),
        )


# Debian's /usr/bin/emnm resolves its script relative to the directory it is called from, which fails when
# pyodide-build calls it by name (exports: pyinit); call the script by its absolute path instead.
_EMNM = (
    '#!/bin/sh\nunset _PYTHON_SYSCONFIGDATA_NAME\nexec python3 -E /usr/share/emscripten/tools/emnm.py "$@"\n'
)


def _xbuildenv_dir(rootfs: Path) -> str:
    base = rootfs / XBUILDENV_PATH.lstrip("/")
    found = sorted(
        d for d in base.glob("*/xbuildenv") if d.is_dir() and not d.parent.is_symlink() and not d.is_symlink()
    )
    if not found:
        raise BuildError(f"{base}: no installed cross-build environment; recreate the builder image")
    return "/" + str(found[-1].relative_to(rootfs))


def _cross_build_mountpoints(rootfs: Path) -> None:
    """Builds bind their cross-build packages' pins and target files over these, and a writable host site-packages
    (where pyodide-build installs them) over ``pyodide-root/packages/.artifacts`` (``farm.build.crossbuild``); a
    read-only root cannot grow mount points later, so every image has all three, empty when unused."""
    xbuildenv_dir = rootfs / _xbuildenv_dir(rootfs).lstrip("/")
    (xbuildenv_dir / "site-packages-extras").mkdir(exist_ok=True)
    (xbuildenv_dir / "requirements.txt").touch(exist_ok=True)
    (xbuildenv_dir / CROSS_BUILD_HOST_DIR).mkdir(parents=True, exist_ok=True)


def _fixups(rootfs: Path) -> None:
    (rootfs / "work").mkdir(exist_ok=True)
    emnm = rootfs / "usr/local/bin/emnm"
    emnm.parent.mkdir(parents=True, exist_ok=True)
    emnm.write_text(_EMNM)
    emnm.chmod(0o755)


def _verify_official_release(metadata_url: str, runtime: str) -> str:
    """Fetch pyodide-build's metadata and the runtime's xbuildenv, and check the sha256 the metadata gives (which
    pyodide-build itself does not): a release without one, or with a wrong one, is refused."""
    try:
        releases = (
            httpx.get(metadata_url, timeout=60, follow_redirects=True).raise_for_status().json()["releases"]
        )
        release = releases[runtime]
        digest = hashlib.sha256()
        with httpx.stream("GET", release["url"], timeout=600, follow_redirects=True) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                digest.update(chunk)
    except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
        raise BuildError(
            f"{metadata_url}: no usable cross-build environment for {runtime} ({type(exc).__name__}: {exc}); "
            "the metadata must list releases.<version>.{url, sha256, python_version, emscripten_version}"
        ) from exc
    expected = release.get("sha256")
    if not expected:
        raise BuildError(
            f"{metadata_url}: release {runtime} has no sha256; an unverifiable download is refused"
        )
    if digest.hexdigest() != expected:
        raise BuildError(
            f"{release['url']}: sha256 {digest.hexdigest()} is not the {expected} that {metadata_url} gives; refused"
        )
    return str(expected)


def _route_pyconfig(rootfs: Path) -> None:
    """Send ``#include <pyconfig.h>`` of the builder's own CPython headers to the wasm32 one when compiling for
    Emscripten. Build systems that probe the *build* Python's include directory (meson's python dependency checks
    ``Python.h`` by preprocessing only, without pywasmcross adding the target's include path) would otherwise hit
    Debian's multiarch wrapper, which knows no wasm32 and stops with ``#error``."""
    installed = sorted(
        rootfs.glob(XBUILDENV_PATH.lstrip("/") + "/*/xbuildenv/pyodide-root/cpython/installs/*/include")
    )
    for include in installed:
        for target in include.glob("python3.*/pyconfig.h"):
            host = rootfs / "usr/include" / target.parent.name / "pyconfig.h"
            if not host.is_file():
                continue
            inside = "/" + str(target.relative_to(rootfs))
            original = host.read_text()
            if original.startswith(_ROUTE_START):  # copied from a base image: point at this image's header
                original = original.split("#else\n", 1)[1].removesuffix("#endif\n")
            host.write_text(f'{_ROUTE_START}# include "{inside}"\n#else\n{original}#endif\n')


_ROUTE_START = "#if defined(__EMSCRIPTEN__)\n"


def _run_host(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(
            f"{' '.join(argv)} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
