"""Every command says on stderr which data directory it acts on, and where that came from; stdout stays its own."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.server import wasmfarm_command


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("WASMFARM_")}
    return subprocess.run(
        [*wasmfarm_command(), *args], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("origin", ["--data-dir", "WASMFARM_DATA_DIR", "config", "default"])
def test_each_command_names_its_data_directory(tmp_path: Path, origin: str) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "share"), "XDG_CONFIG_HOME": str(home / "config")}
    options: list[str] = []
    data = tmp_path / "data"
    said = origin
    if origin == "--data-dir":
        options = ["--data-dir", str(data)]
    elif origin == "WASMFARM_DATA_DIR":
        env["WASMFARM_DATA_DIR"] = str(data)
    elif origin == "config":
        config = tmp_path / "wasmfarm.toml"
        config.write_text(f"data_dir = {json.dumps(str(data))}\n")
        env["WASMFARM_CONFIG"] = str(config)
        said = f"config {config}"
    else:
        data = home / "share" / "wasmfarm"
    created = run([*options, "token", "create", "--scope", "read"], env)
    assert created.returncode == 0, created.stderr
    assert created.stderr.splitlines()[0] == f"wasmfarm: data directory {data} (from {said})"
    assert created.stdout.startswith("wf_")  # the token alone on stdout, as scripts read it
    fsck = run([*options, "fsck", "--json"], env)
    assert f"wasmfarm: data directory {data} (from {said})" in fsck.stderr
    json.loads(fsck.stdout)  # --json output is untouched
    assert (data / "wasmfarm.db").is_file()


def test_the_command_option_and_the_group_option_both_count(tmp_path: Path) -> None:
    env = {"WASMFARM_DATA_DIR": str(tmp_path / "env")}
    listed = run(["runtime", "list", "--data-dir", str(tmp_path / "option")], env)
    assert listed.returncode == 0, listed.stderr
    assert f"wasmfarm: data directory {tmp_path / 'option'} (from --data-dir)" in listed.stderr
