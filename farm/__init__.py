"""wasmfarm: a self-hostable package mirror and WebAssembly wheel build farm for Pyodide."""

__version__ = "0.1.0"
