"""Mirroring from an upstream simple index: fetch pages, resolve closures, download and verify files."""
