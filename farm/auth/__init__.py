"""API tokens: scopes, creation, verification. Secrets are shown once and stored only as hashes."""
