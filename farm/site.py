"""What a data directory publishes: the public URL in its pages and the runtimes it has views for.

Every process that touches a data directory (``serve``, ``mirror``, ``render``, ``build``, ``fsck``) renders pages
with these, not with its own settings: a ``wasmfarm mirror`` run with defaults beside a server started with
``--port 18400`` used to rewrite every JSON page with ``http://127.0.0.1:8080/`` URLs, and ``mirror --runtime 0.29.5``
switched the runtime views. The record (``<data_dir>/site.json``) is written by ``wasmfarm serve``, the process
that answers at that URL: at its first start, and when it is started with another public URL or other runtimes
(said in its log). Any other process whose settings disagree says so once and keeps the recorded ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from farm.store.blobs import atomic_write

log = logging.getLogger(__name__)
RECORD = "site.json"


@dataclass(frozen=True)
class Site:
    public_url: str
    runtimes: tuple[str, ...]


def load(data_dir: Path) -> Site | None:
    try:
        data = json.loads((data_dir / RECORD).read_text())
        return Site(str(data["public_url"]), tuple(str(r) for r in data["runtimes"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error(
            "%s is unreadable (%s); this process's settings are used until `wasmfarm serve` rewrites it",
            data_dir / RECORD,
            exc,
        )
        return None


def record(data_dir: Path, site: Site) -> Site | None:
    """Make ``site`` the data directory's (``serve`` only); the one it replaces, if it was another."""
    before = load(data_dir)
    if before != site:
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(data_dir / RECORD, json.dumps(asdict(site), indent=1).encode())
    return before if before != site else None


def published(data_dir: Path, own: Site) -> Site:
    """The site pages are rendered for: the recorded one (a disagreement is logged once), else this process's."""
    recorded = load(data_dir)
    if recorded is None:
        return own
    if recorded != own and own not in _warned:
        _warned.add(own)
        log.warning(
            "%s publishes %s for runtimes %s (recorded by `wasmfarm serve`); this process's settings say %s and %s: "
            "pages keep the recorded ones (start `wasmfarm serve` with the new settings to change them)",
            data_dir,
            recorded.public_url,
            ", ".join(recorded.runtimes),
            own.public_url,
            ", ".join(own.runtimes),
        )
    return recorded


_warned: set[Site] = set()
