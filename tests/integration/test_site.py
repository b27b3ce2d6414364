"""One truth per data directory: the public URL and runtime views the pages are rendered for are the data
directory's, recorded by ``wasmfarm serve``; another process with other settings says so and does not overwrite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.support.server import served_process, wasmfarm_command
from tests.support.upstream import UpstreamServer
from tests.support.wheels import make_wheel

JSON = "application/vnd.pypi.simple.v1+json"


def test_a_mirror_run_with_other_settings_keeps_the_servers_urls_and_views(tmp_path: Path) -> None:
    upstream_dir = tmp_path / "upstream"
    make_wheel(upstream_dir, "demo", "1.0")
    make_wheel(upstream_dir, "later", "1.0")
    data_dir = tmp_path / "data"
    with UpstreamServer(upstream_dir) as upstream, served_process(data_dir) as (url, _process):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WASMFARM_")}
        env["WASMFARM_DATA_DIR"] = str(data_dir)  # and nothing else: port 8080, runtime 314.0.7 by default
        command = [*wasmfarm_command(), "mirror", "--upstream", upstream.url]
        first = subprocess.run([*command, "demo"], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        other = subprocess.run(
            [*command, "--runtime", "0.29.5", "--no-deps", "later"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "publishes " + url in other.stderr and "pages keep the recorded ones" in other.stderr, (
            other.stderr
        )

        page = httpx.get(f"{url}simple/demo/", headers={"Accept": JSON})
        assert page.status_code == 200, page.text
        [file] = page.json()["files"]
        assert file["url"].startswith(url), file["url"]  # not http://127.0.0.1:8080/
        assert httpx.get(file["url"]).status_code == 200  # pip would fetch exactly this
        assert (
            httpx.get(f"{url}r/314.0.7/simple/demo/").status_code == 200
        )  # the server's view is still there
        assert httpx.get(f"{url}r/0.29.5/simple/").status_code == 404  # and no view the server does not serve
