"""The compatibility oracle: does a requirement work on a Pyodide runtime, decided from real runs.

``verdict`` (the result model, JSON in and out), ``probe`` (what an sdist would need to build), ``oracle``
(deciding), ``trial`` (the install and import in Pyodide), ``store`` (kept checks), ``scan`` (batches),
``requests`` (build on request) and ``mirroring`` (the admin action that mirrors what is upstream).
"""
