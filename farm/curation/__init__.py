"""Yank, un-yank and delete of files and releases: who may, what it does to pages, locks and blobs, the audit."""
