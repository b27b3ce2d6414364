"""Who may ask the server to check or build something (setting ``compat_requests``), and how often.

- ``off``: nobody; the pages only show kept checks (operators use ``wasmfarm check``).
- ``token``: a token of scope ``build`` (or ``admin``, which implies it).
- ``anyone``: no token needed, but each client address gets a token bucket (``compat_rate_per_minute``, bursts of
  ``compat_rate_burst``); a valid build token skips the bucket.

Mirroring and batch scans always need an admin token (they fetch from upstream on the operator's behalf), and are
refused too when requests are ``off``. Pure apart from the token check it is given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from farm.errors import PermissionDenied, RateLimited
from farm.store.models import TokenScope

Mode = Literal["off", "token", "anyone"]
Verifier = Callable[[str | None, TokenScope], object]  # raises AuthenticationError / PermissionDenied
IDLE_SECONDS = 600.0  # a client's bucket is forgotten after this long without requests
MAX_CLIENTS = 10_000


class TokenBucket:
    """Per client: ``rate_per_minute`` requests, bursts of ``burst``. ``take`` answers how long to wait (0: go)."""

    def __init__(
        self, rate_per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self.lock = threading.Lock()

    def take(self, client: str) -> float:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                return (1 - tokens) / self.rate
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > MAX_CLIENTS:
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < IDLE_SECONDS}
            return 0.0


class RequestPolicy:
    def __init__(self, mode: Mode, verify: Verifier, rate_per_minute: float, burst: int) -> None:
        self.mode = mode
        self.verify = verify
        self.rate_per_minute = rate_per_minute
        self.bucket = TokenBucket(rate_per_minute, burst)

    def admit(self, token: str | None, client: str, action: str) -> None:
        """May this request ``action`` (e.g. "check attrs")? Raises what the HTTP layer answers 401, 403 or 429."""
        if self.mode == "off":
            raise PermissionDenied(
                f"{action}: this server takes no check or build requests from the web (setting compat_requests = "
                "off); its operator runs `wasmfarm check`"
            )
        if self.mode == "token" or token:
            self.verify(token, TokenScope.BUILD)
            return
        wait = self.bucket.take(client)
        if wait > 0:
            raise RateLimited(
                f"{action}: more than {self.rate_per_minute:g} check or build requests a minute from {client}; "
                f"try again in {wait:.0f} s (or send a token of scope build)",
                retry_after=wait,
            )

    def admit_admin(self, token: str | None, action: str) -> None:
        if self.mode == "off":
            self.admit(token, "", action)  # refused, with the reason
        self.verify(token, TokenScope.ADMIN)
