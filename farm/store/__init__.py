"""Persistence: the content-addressed blob store, the catalog database and its migrations."""
