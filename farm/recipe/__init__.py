"""Recipes: the pyodide-recipes ``meta.yaml`` format, its linter, and the dependency graph between recipes."""
