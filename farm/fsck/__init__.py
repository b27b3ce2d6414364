"""Checking and mending the store: ``wasmfarm fsck``."""
