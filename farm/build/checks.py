"""Checks a built wheel must pass before it may be verified and published.

1. Its tags are the target runtime's (``cp314-cp314-pyemscripten_2026_0_wasm32`` for Pyodide 314).
2. It carries extension modules when the source compiles any: a build that silently fell back to a pure wheel
   (a broken toolchain makes markupsafe do exactly that) fails here.
3. Every import of every ``.so`` resolves: against the runtime's main module (its exports and the JS functions it
   imports), the other shared objects of the wheel (vendored libraries), or a weak import. What would make loading
   fail is a failure: a ``dylink.0`` "needed" library missing from the wheel, an unresolved data symbol or global
   (``GOT.mem``, ``GOT.func``, globals: Emscripten's dynamic linker refuses the module). An unresolved *function*
   import is only a warning: the linker binds it lazily and it fails only when called (zstandard's cffi module
   leaves ``ZSTD_createThreadPool`` unresolved and passes its tests), so the tests in Pyodide decide.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import parse_wheel_filename

from farm.build import wasm
from farm.errors import InvalidDistribution
from farm.runtime.target import RuntimeTarget

NATIVE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs", ".f", ".f90")
_SKIP_DIRS = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "bench", ".git"}
# Provided by the dynamic linker itself, not by a module.
_LINKER = {
    "memory",
    "__indirect_function_table",
    "__memory_base",
    "__table_base",
    "__stack_pointer",
    "__c_longjmp",
    "__cpp_exception",
    "__tls_base",
    "__stack_high",
    "__stack_low",
}
_JS_IDENT = re.compile(rb"\b_?([A-Za-z_][A-Za-z0-9_$]*)\b")


@dataclass
class CheckReport:
    passed: bool = True
    results: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.results.append({"check": name, "ok": ok, "detail": detail})
        self.passed = self.passed and ok

    def warn(self, name: str, detail: str) -> None:
        """Passed, with something a person should know (shown as a warning on the build page)."""
        self.results.append({"check": name, "ok": True, "warning": True, "detail": detail})

    def warnings(self) -> list[str]:
        return [f"{r['check']}: {r['detail']}" for r in self.results if r.get("warning")]

    def failures(self) -> list[str]:
        return [f"{r['check']}: {r['detail']}" for r in self.results if not r["ok"]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def native_sources(src: Path) -> list[str]:
    """Source files that a build compiles into extension modules (tests, docs and examples left out)."""
    found = []
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.suffix.lower() in NATIVE_SUFFIXES and path.is_file() and not _SKIP_DIRS & set(rel.parts[:-1]):
            found.append(str(rel))
    return sorted(found)


@dataclass(frozen=True)
class MainModule:
    """What the runtime provides to side modules."""

    symbols: frozenset[str]


@cache
def main_module(runtime_dir: Path) -> MainModule:
    data = (runtime_dir / "pyodide.asm.wasm").read_bytes()
    module = wasm.parse(data, str(runtime_dir / "pyodide.asm.wasm"))
    symbols = set(module.exports) | {name for _, name, _ in module.imports}
    # MAIN_MODULE=1 links in every JS library function: the dynamic linker finds them in pyodide.asm.mjs.
    js = (runtime_dir / "pyodide.asm.mjs").read_bytes()
    symbols |= {m.decode() for m in _JS_IDENT.findall(js)}
    return MainModule(frozenset(symbols))


def check_wheel(
    wheel: Path, target: RuntimeTarget, runtime_dir: Path, sources: list[str], *, library: bool = False
) -> CheckReport:
    """``sources``: the native sources the build compiled (its wheel must carry the target's own tag and extension
    modules); none for a pure build or a wheel taken as the recipe's source (any tag the target installs)."""
    report = CheckReport()
    _, _, _, tags = parse_wheel_filename(wheel.name)
    tag_text = ".".join(sorted(str(t) for t in tags))
    if sources:
        wanted = target.tags[0]
        report.add("tag", wanted in tags, f"{tag_text} (the target's is {wanted})")
    else:
        fits = any(t in target.tag_rank for t in tags)
        report.add(
            "tag",
            fits,
            f"{tag_text} installs on Pyodide {target.version}"
            if fits
            else f"{tag_text} does not install on Pyodide {target.version} (it takes {target.tags[0]} or a pure tag)",
        )
    with zipfile.ZipFile(wheel) as zf:
        objects = {n: zf.read(n) for n in zf.namelist() if is_shared_object(n)}
    extensions = [n for n in objects if target_ext(n)]
    if sources:
        report.add(
            "extension modules",
            bool(extensions) or (library and bool(objects)),
            f"{len(extensions)} extension module(s): {', '.join(sorted(extensions)) or 'none'}; the source compiles "
            f"{len(sources)} file(s) ({', '.join(sources[:5])}{', ...' if len(sources) > 5 else ''})"
            + ("" if extensions else ": the build fell back to a pure wheel"),
        )
    provided = main_module(runtime_dir).symbols
    parsed = {name: wasm.parse(data, f"{wheel.name}/{name}") for name, data in objects.items()}
    vendored = set().union(*(m.exports for m in parsed.values())) if parsed else set()
    basenames = {PurePosixPath(n).name for n in objects}
    unresolved: list[str] = []
    lazy: list[str] = []  # function imports: bound when first called
    for name, module in sorted(parsed.items()):
        for mod, symbol, kind in module.imports:
            if symbol in _LINKER or (mod, symbol) in module.weak_imports:
                continue
            if symbol not in provided and symbol not in vendored:
                (lazy if mod == "env" and kind == wasm.FUNCTION else unresolved).append(
                    f"{name}: {mod}.{symbol}"
                )
        unresolved += [
            f"{name}: needs {lib}, which is not in the wheel (list the shared_library recipe that makes it under "
            "requirements/host: the farm vendors it)"
            for lib in module.needed
            if lib not in basenames
        ]
    if objects:
        report.add(
            "imports resolve",
            not unresolved,
            f"every import of {len(objects)} shared object(s) that loading needs resolves"
            if not unresolved
            else f"{len(unresolved)} unresolved, so the module cannot load: {'; '.join(unresolved[:10])}",
        )
    if lazy:
        report.warn(
            "unresolved functions",
            f"{len(lazy)} function import(s) resolve to nothing in the runtime and fail only if called: "
            f"{'; '.join(lazy[:10])}{'; ...' if len(lazy) > 10 else ''} (the tests in Pyodide decide)",
        )
    return report


def check_side_modules(paths: list[Path]) -> CheckReport:
    """A shared_library recipe's ``.so`` files must be WebAssembly side modules (a ``dylink.0`` section), the only
    kind the runtime's dynamic linker loads."""
    report = CheckReport()
    for path in paths:
        try:
            module = wasm.parse(path.read_bytes(), path.name)
        except (InvalidDistribution, IndexError) as exc:
            report.add("side module", False, f"{path.name} is not a WebAssembly module ({exc})")
            continue
        report.add(
            "side module",
            module.is_side_module,
            f"{path.name}: {len(module.exports)} exports"
            if module.is_side_module
            else f"{path.name} has no dylink.0 section; link it as a side module (emcc ... $SIDE_MODULE_LDFLAGS)",
        )
    return report


def is_shared_object(name: str) -> bool:
    base = PurePosixPath(name).name
    return base.endswith(".so") or ".so." in base


def target_ext(name: str) -> bool:
    base = PurePosixPath(name).name
    return base.endswith((".cpython-314-wasm32-emscripten.so", ".abi3.so")) or (
        base.endswith(".so") and not base.startswith("lib")
    )
