"""A pyodide-build cross-build environment (xbuildenv) assembled from a mirrored Pyodide runtime.

pyodide-build's own xbuildenvs are release assets on GitHub; an air-gapped farm makes one from what it already has:
the npm runtime (``pyodide-lock.json``, ``python_stdlib.zip`` whose ``_sysconfigdata`` module carries every pyconfig
define of the wasm32 interpreter) and the builder's own CPython headers of the same minor version, with a wasm32
``pyconfig.h`` generated from that sysconfigdata. The layout is the one ``pyodide xbuildenv install --url`` expects:
``xbuildenv/pyodide-root/{Makefile.envs, dist/, cpython/installs/python-X.Y.Z/{include, sysconfigdata}, tools/}``.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.errors import BuildError

SYSCONFIG_NAME = "_sysconfigdata__emscripten_wasm32-emscripten"
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\b")
_UNDEF = re.compile(r"^\s*/\*\s*#\s*undef\s+([A-Za-z_][A-Za-z0-9_]*)\s*\*/")

# Pyodide 314's ABI flags (CONFIGURE_CFLAGS of its sysconfigdata) plus what emcc 6 / LLVM 21 need for side modules:
# -DEMSCRIPTEN (no longer predefined) and --experimental-pic (wasm-ld calls -shared unstable; pyodide-build links
# with --fatal-warnings).
_EXTRA_CFLAGS = "-DEMSCRIPTEN"
_EXTRA_LDFLAGS = "-s WASM_BIGINT -Wl,--experimental-pic"


@dataclass(frozen=True)
class RuntimeFacts:
    """What the xbuildenv needs to know about the runtime, read from its lock and stdlib."""

    pyodide_version: str
    python_version: str
    abi_version: str
    emscripten_version: str
    configure_cflags: str
    sysconfig_source: str
    build_time_vars: dict[str, Any]


def read_runtime(runtime_dir: Path, pyodide_version: str) -> RuntimeFacts:
    lock_path = runtime_dir / "pyodide-lock.json"
    stdlib = runtime_dir / "python_stdlib.zip"
    try:
        info = json.loads(lock_path.read_text())["info"]
        with zipfile.ZipFile(stdlib) as archive:
            source = archive.read(f"{SYSCONFIG_NAME}.py").decode()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise BuildError(
            f"{runtime_dir}: not a complete Pyodide runtime ({exc}); run `wasmfarm runtime add {pyodide_version}`"
        ) from exc
    namespace: dict[str, Any] = {}
    exec(compile(source, f"{stdlib}/{SYSCONFIG_NAME}.py", "exec"), namespace)  # noqa: S102 - the runtime's own data
    build_vars: dict[str, Any] = namespace["build_time_vars"]
    platform = str(info["platform"])  # emscripten_5_0_3
    return RuntimeFacts(
        pyodide_version=pyodide_version,
        python_version=str(info["python"]),
        abi_version=str(info["abi_version"]),
        emscripten_version=platform.removeprefix("emscripten_").replace("_", "."),
        configure_cflags=" ".join(str(build_vars.get("CONFIGURE_CFLAGS", "")).split()),
        sysconfig_source=source,
        build_time_vars=build_vars,
    )


def wasm_pyconfig(template: str, build_vars: dict[str, Any]) -> str:
    """A ``pyconfig.h`` for the wasm32 interpreter: the host's file, each macro set to the interpreter's value.

    ``sysconfig.parse_config_h`` stored ``#define X v`` as ``X: v`` and ``/* #undef X */`` as ``X: 0`` for every
    macro whose name starts with a capital letter; feature-test macros (``_GNU_SOURCE``, ``_POSIX_C_SOURCE``...)
    are not in it and keep the host header's lines, as do comments and guards.
    """
    out = [
        "/* pyconfig.h of the Pyodide wasm32-emscripten interpreter: wasmfarm set its values from sysconfigdata */"
    ]
    for line in template.splitlines():
        match = _DEFINE.match(line) or _UNDEF.match(line)
        name = match.group(1) if match else None
        if name is None or name not in build_vars:
            out.append(line)
            continue
        value = build_vars[name]
        out.append(f"/* #undef {name} */" if value in (0, "0", "") else f"#define {name} {value}")
    return "\n".join(out) + "\n"


def target_cflags(facts: RuntimeFacts) -> str:
    """How code for this runtime is compiled (``CFLAGS_BASE`` of the xbuildenv; a library script's ABI flags)."""
    return f"{facts.configure_cflags} {_EXTRA_CFLAGS}"


def target_ldflags(facts: RuntimeFacts) -> str:
    """How code for this runtime is linked (``LDFLAGS_BASE``)."""
    return f"{facts.configure_cflags} {_EXTRA_LDFLAGS}"


def side_module_ldflags(facts: RuntimeFacts) -> str:
    """How a shared library (an Emscripten side module) of this runtime is linked (``SIDE_MODULE_LDFLAGS``)."""
    return f"{target_ldflags(facts)} -s SIDE_MODULE=1"


def makefile_envs(facts: RuntimeFacts) -> str:
    major, minor, micro = facts.python_version.split(".")[:3]
    cflags = target_cflags(facts)
    return f"""# Makefile.envs of a wasmfarm-assembled cross-build environment for Pyodide {facts.pyodide_version}.
export PYVERSION ?= {facts.python_version}
export PYMAJOR={major}
export PYMINOR={minor}
export PYMICRO={micro}
export PYODIDE_VERSION ?= {facts.pyodide_version}
export PYODIDE_ABI_VERSION ?= {facts.abi_version}
export PYODIDE_EMSCRIPTEN_VERSION ?= {facts.emscripten_version}
export PLATFORM_TRIPLET=wasm32-emscripten
export SYSCONFIG_NAME={SYSCONFIG_NAME}
export CPYTHONINSTALL=$(PYODIDE_ROOT)/cpython/installs/python-$(PYVERSION)
export TARGETINSTALLDIR=$(CPYTHONINSTALL)
export PYTHONINCLUDE=$(CPYTHONINSTALL)/include/python$(PYMAJOR).$(PYMINOR)
export SYSCONFIGDATA_DIR=$(CPYTHONINSTALL)/sysconfigdata
export PIP_CONSTRAINT=$(PYODIDE_ROOT)/tools/constraints.txt
export CFLAGS_BASE={cflags}
export CXXFLAGS_BASE=
export LDFLAGS_BASE={target_ldflags(facts)}
export SIDE_MODULE_CFLAGS=$(CFLAGS_BASE) -I$(PYTHONINCLUDE)
export SIDE_MODULE_CXXFLAGS=$(CFLAGS_BASE)
export SIDE_MODULE_LDFLAGS=$(LDFLAGS_BASE) -s SIDE_MODULE=1

.output_vars:
\tset
"""


def assemble(runtime_dir: Path, pyodide_version: str, include_dir: Path, out: Path) -> RuntimeFacts:
    """Write the xbuildenv tarball to ``out`` from a runtime directory and host CPython headers."""
    facts = read_runtime(runtime_dir, pyodide_version)
    minor = ".".join(facts.python_version.split(".")[:2])
    headers = include_dir / f"python{minor}"
    host_pyconfig = _host_pyconfig(include_dir, minor)
    if not (headers / "Python.h").is_file() or host_pyconfig is None:
        raise BuildError(
            f"{headers}: no CPython {minor} headers (Python.h, pyconfig.h); the builder needs python{minor}-dev"
        )
    root = "xbuildenv/pyodide-root"
    install = f"{root}/cpython/installs/python-{facts.python_version}"
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, f"{root}/Makefile.envs", makefile_envs(facts).encode())
        _add_bytes(tar, f"{root}/tools/constraints.txt", b"")
        _add_bytes(tar, "xbuildenv/requirements.txt", b"")
        for name in ("pyodide-lock.json", "python_stdlib.zip"):
            tar.add(runtime_dir / name, f"{root}/dist/{name}", filter=_normalise)
        for path in sorted(headers.rglob("*")):
            if path.is_file() and path.name != "pyconfig.h":
                tar.add(
                    path, f"{install}/include/python{minor}/{path.relative_to(headers)}", filter=_normalise
                )
        pyconfig = wasm_pyconfig(host_pyconfig.read_text(), facts.build_time_vars)
        _add_bytes(tar, f"{install}/include/python{minor}/pyconfig.h", pyconfig.encode())
        _add_bytes(tar, f"{install}/sysconfigdata/{SYSCONFIG_NAME}.py", facts.sysconfig_source.encode())
    return facts


def _host_pyconfig(include_dir: Path, minor: str) -> Path | None:
    """Debian's ``pythonX.Y/pyconfig.h`` only includes the multiarch one; that one lists the macros."""
    for candidate in sorted(include_dir.glob(f"*/python{minor}/pyconfig.h")):
        return candidate
    plain = include_dir / f"python{minor}" / "pyconfig.h"
    return plain if plain.is_file() else None


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
