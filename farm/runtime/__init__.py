"""Pyodide runtime targets: which Python, ABI and Emscripten platform a runtime version means."""
