"""The ``wasmfarm`` command line (domain commands; ``serve`` is added by ``index_server.cli``)."""
