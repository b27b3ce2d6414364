"""The audit trail: every upload and admin action, who did it and from where (``wasmfarm audit``)."""
