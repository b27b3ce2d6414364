"""When the editor is usable: ``wasmfarm serve`` says so in one line, once it listens with its pages rendered and
the editor's runtime (the first configured one) is installed, whichever comes last.

At a first start the runtime is fetched in the background while the index is already served; the line tells the
person who started the server when the page at ``/`` will actually run Python.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn

EDITOR_FILES = ("index.html", "editor/editor.js")  # the page and its bundle (ci/build-assets.sh)


class EditorReadiness:
    """Collects the two facts the editor needs and says once, through ``say``, when it has both (or why it never
    will)."""

    def __init__(self, url: str, runtime: str, web_dir: Path, say: Callable[[str], None]) -> None:
        self.url = url
        self.runtime = runtime
        self.say = say
        self._lock = threading.Lock()
        self._listening = False
        self._installed = False
        self._done = False
        missing = [name for name in EDITOR_FILES if not (web_dir / name).is_file()]
        self._assets_missing = ", ".join(str(web_dir / name) for name in missing)

    def listening(self) -> None:
        """The server accepts connections; its pages were rendered before (the app's start-up)."""
        with self._lock:
            self._listening = True
            self._announce()

    def runtime_installed(self, version: str) -> None:
        if version != self.runtime:
            return
        with self._lock:
            self._installed = True
            self._announce()

    def runtime_unavailable(self, version: str, reason: str) -> None:
        if version != self.runtime:
            return
        with self._lock:
            if not self._done:
                self._done = True
                self.say(f"editor not usable: runtime {version} {reason}")

    def _announce(self) -> None:
        if self._done or not (self._listening and self._installed):
            return
        self._done = True
        if self._assets_missing:
            self.say(
                f"editor not usable: {self._assets_missing} missing (build them with ci/build-assets.sh, as "
                "`make serve` does); the index and runtimes are served regardless"
            )
        else:
            self.say(f"editor ready at {self.url}editor (runtime {self.runtime})")


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling ``on_listening`` once its sockets accept connections."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self.on_listening()
