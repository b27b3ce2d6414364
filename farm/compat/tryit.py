""" "Try it": an editor share link whose program installs a requirement and imports its modules. Pure.

The fragment is the editor's own share format (``runner_assets/editor/src/share.js``): ``v1.`` and the
base64url (unpadded) of the raw-deflated JSON ``{files, main, requirements, runtime, lockDigest}``. The editor locks
the requirements with this server and installs them before the program runs; the program imports each module.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence

VERSION = "v1"
MAIN = "main.py"


def import_names(project: str, found: Sequence[str]) -> list[str]:
    """The modules to import: those the check imported, else the project's name as a module name. Only valid
    dotted identifiers get into a program."""
    names = [n for n in found if n and all(part.isidentifier() for part in n.split("."))]
    return names or [project.replace("-", "_").replace(".", "_")]


def program(project: str, runtime: str, modules: Sequence[str]) -> str:
    lines = [
        f"# Does {project} work on Pyodide {runtime}? The editor installed the requirement above from this mirror.",
        "import importlib",
        "",
        f"for name in {list(modules)!r}:",
        "    module = importlib.import_module(name)",
        '    print("imported", name, getattr(module, "__version__", ""))',
    ]
    return "\n".join(lines) + "\n"


def fragment(requirement: str, runtime: str, project: str, modules: Sequence[str]) -> str:
    state = {
        "files": {MAIN: program(project, runtime, modules)},
        "main": MAIN,
        "requirements": requirement,
        "runtime": runtime,
        "lockDigest": None,
    }
    compressor = zlib.compressobj(
        9, zlib.DEFLATED, -15
    )  # raw deflate, what DecompressionStream("deflate-raw") reads
    packed = compressor.compress(json.dumps(state, separators=(",", ":")).encode()) + compressor.flush()
    return f"{VERSION}.{base64.urlsafe_b64encode(packed).decode().rstrip('=')}"


def editor_link(requirement: str, runtime: str, project: str, modules: Sequence[str]) -> str:
    return f"/editor#{fragment(requirement, runtime, project, modules)}"


def decode(text: str) -> dict[str, object]:
    """The state in a fragment (for tests and for reading a link back)."""
    version, _, data = text.removeprefix("#").partition(".")
    if version != VERSION:
        raise ValueError(f"unsupported share link format {version!r}")
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    state: dict[str, object] = json.loads(zlib.decompress(raw, -15))
    return state
