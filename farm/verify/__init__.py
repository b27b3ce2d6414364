"""Verification of built wheels in the real Pyodide runtime: imports, then the recipe's pytest-pyodide tests.

``farm.build.verify`` is the entry point the build runner calls; the pieces live here: the per-test outcomes and the
verdict (``outcomes``), the dist directory a test run boots from (``distdir``), the loopback index over the page tree
(``loopback``), the pytest plugin that reports each test (``pytest_report``) and the program that runs inside the
sandbox (``session``).
"""
