"""Executables a recipe may ask for (``requirements/executable``), and the ones no builder here can provide.

pyodide-build only checks that a listed executable is on ``PATH``. A builder image here carries the Emscripten
toolchain, CPython, CMake, meson, ninja and pkg-config from Debian; it has no compiler for Rust or Fortran that
targets Emscripten, so recipes that need one are refused when they are linted, with the reason, rather than started
and failed minutes later. Any other executable is looked for in the builder image before a build is queued
(``BuilderImage.has_executable``).
"""

from __future__ import annotations

_NO_TOOLCHAIN = {
    "rustup": "Rust",
    "cargo": "Rust",
    "rustc": "Rust",
    "maturin": "Rust",
    "gfortran": "Fortran",
    "flang": "Fortran",
    "flang-new": "Fortran",
    "f2c": "Fortran",
}


def unsupported_executable(name: str) -> str | None:
    """Why no builder here can provide ``name``, or None when a builder image may have it."""
    language = _NO_TOOLCHAIN.get(name.strip().lower())
    if language is None:
        return None
    return (
        f"the builder image has no {language} toolchain for Emscripten (wasm32-unknown-emscripten), which "
        f"{name!r} stands for"
    )
