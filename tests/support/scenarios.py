"""Browser scenarios: a Node script (playwright-core driving Debian's Chromium) given a JSON config, whose last line of
standard output is a JSON object of findings the tests then assert on, one scenario at a time."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def run_scenarios(
    node: str,
    script: Path,
    config: dict[str, Any],
    path: Path,
    timeout: float = 600,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Run ``script`` with ``config`` (written to ``path``); its findings, also written to ``keep`` if given (beside
    the screenshots, for a failure's post-mortem)."""
    path.write_text(json.dumps(config))
    result = subprocess.run([node, str(script), str(path)], capture_output=True, text=True, timeout=timeout)
    lines = result.stdout.strip().splitlines()
    assert lines, f"the scenarios printed nothing; stderr:\n{result.stderr[-3000:]}"
    if keep is not None:
        keep.write_text(lines[-1])
    found: dict[str, Any] = json.loads(lines[-1])
    return found


def scenario(found: dict[str, Any], name: str) -> dict[str, Any]:
    """One scenario's findings; a scenario that threw has an ``error``."""
    value = found[name]
    assert isinstance(value, dict) and "error" not in value, value
    return value
