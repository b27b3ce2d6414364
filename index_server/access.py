"""Read protection (``require_read_token``): one check in front of every route, so a private deployment is private
everywhere: index, files, runtimes, locks, builds, the proxy and the editor.

The exceptions are few and fixed: CORS preflights (browsers send them without credentials), ``/health`` and
``/ready`` (a load balancer's probes; they say whether the server can serve, with the names of what it checks) and
the upload endpoint, which checks its own, stronger scope. Browsers work too: a 401 carries ``WWW-Authenticate:
Basic``, so a person is asked for ``__token__`` and the token once, and the browser sends it with every later request
to this origin.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from farm.store.models import TokenScope
from index_server.auth import token_from_authorization

Verifier = Callable[[str | None, TokenScope], object]
OPEN_PATHS = frozenset({"/health", "/ready"})
UPLOAD_PATHS = frozenset({"/legacy", "/legacy/"})


class ReadAccess:
    def __init__(self, verify: Verifier) -> None:
        self.verify = verify

    def check(self, scope: MutableMapping[str, Any]) -> None:
        method, path = scope["method"], scope["path"]
        if method == "OPTIONS" or path in OPEN_PATHS or (method == "POST" and path in UPLOAD_PATHS):
            return
        header = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                header = value.decode("latin-1")
        self.verify(token_from_authorization(header), TokenScope.READ)
