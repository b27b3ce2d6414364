"""The part of a verification that runs inside its sandbox: ``python -m farm.verify.session <work>/session.json``.

1. The farm's index on loopback (``farm.verify.loopback``; the sandbox's network namespace has nothing else).
2. One Node process (``runner_assets/node/verify_wheel.mjs``) installs each wheel with micropip into a Pyodide of
   its own and imports the modules named for it.
3. For each wheel with test files: its dist directory (``farm.verify.distdir``, the lock extended with what micropip
   installed) and ``pytest`` with pytest-pyodide against it, ``--runtime node-no-host``: the test functions run on
   this (sandboxed) Python and drive Pyodide under Node; a plain function that asks for no ``selenium`` fixture would
   test the host, so it is reported skipped ("Host test"). Each phase of each test is reported by
   ``farm.verify.pytest_report``.

Everything has one deadline; what is left when it passes is reported as not finished. The report, one entry per
wheel, is written to ``<work>/report.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from farm.store.blobs import BlobStore
from farm.verify import outcomes
from farm.verify.distdir import Fetched, lay_out
from farm.verify.loopback import serve_farm

LOG_LINES = 60  # lines of each wheel's output kept in its report
PYTEST_EXIT_OK = (0, 1, 5)  # all passed, some failed, none collected


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def import_checks(
    config: dict[str, Any], base_url: str, reports: list[dict[str, Any]], deadline: Deadline
) -> None:
    runtime = config["runtime"]
    node_config = {
        "pyodideDir": str(Path(config["www"]) / "pyodide" / runtime),
        "packageBaseUrl": f"{base_url}pyodide/{runtime}/",
        "indexUrls": [f"{base_url}r/{runtime}/simple/"],
        "snapshot": config.get("snapshot"),
        "wheels": [{"wheel": item["wheel"], "imports": item["imports"]} for item in config["items"]],
    }
    path = Path(config["work"]) / "node.json"
    path.write_text(json.dumps(node_config))
    # --single-threaded: V8's background threads (concurrent GC and JIT, wasm tier-up) made a batch of 10 import
    # checks cost 8.3 CPU-seconds in 8.9 s where one thread did the same in 6.9 CPU-seconds and 6.8 s (measured on
    # a loaded machine, 2 cores): on a short run that speculative work does not pay back, and the farm gets its
    # parallelism from workers, whose CPU the background threads would take.
    # --liftoff-only: no optimising (TurboFan) compiles of the runtime's hot functions, which each Node process of a
    # batch would redo on its one thread. Measured alternately on 2 cores (2026-12-04): one check 1.17 s against
    # 1.23 s; a scan of 50 with two workers 10.7 s against 11.7 s; but with one worker and a core to spare, where
    # the optimised code pays back over a batch, 19.7 s against 18.0 s. Checks run where workers share the cores.
    argv = [config["node"], "--expose-gc", "--single-threaded", "--liftoff-only", config["script"], str(path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=deadline.left())
    except subprocess.TimeoutExpired:  # what finished before the deadline is kept
        timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    for raw in stderr.decode("utf-8", "replace").splitlines():
        prefix, _, line = raw.partition("] ")
        if prefix.startswith("[") and prefix[1:].isdigit() and int(prefix[1:]) < len(reports):
            reports[int(prefix[1:])]["log"].append(line)
        elif prefix == "[boot":  # the runtime's own start-up concerns every wheel
            for report in reports:
                report["log"].append(f"(runtime) {line}")
    done = set()
    for raw in stdout.decode("utf-8", "replace").splitlines():
        if raw.startswith("{"):
            result = json.loads(raw)
            done.add(result["index"])
            report = reports[result["index"]]
            for key in ("installed", "fetched", "imports", "error"):
                if key in result:
                    report[key] = result[key]
            report["import_seconds"] = round(float(result.get("seconds") or 0.0), 3)
    tail = "\n".join(stderr.decode("utf-8", "replace").splitlines()[-15:])
    for index, report in enumerate(reports):
        if index in done:
            continue
        if timed_out:
            report["error"] = (
                f"the import check did not finish within the verification's {deadline.seconds:.0f} s"
            )
        else:
            report["error"] = f"the import check crashed (exit {proc.returncode}):\n{tail}"


def _fetched(report: dict[str, Any]) -> list[Fetched]:
    found = []
    for item in report.get("fetched", []):
        parts = urlsplit(item["url"]).path.split("/")  # /files/<aa>/<sha256>/<filename>
        if len(parts) == 5 and parts[1] == "files":
            found.append(Fetched(item["name"], item["version"], unquote(parts[4]), parts[3]))
    return found


def run_tests(
    config: dict[str, Any], item: dict[str, Any], report: dict[str, Any], deadline: Deadline
) -> None:
    directory = Path(item["dir"])
    tests = directory / "tests"
    dist = directory / "dist"
    blobs = BlobStore(Path(config["blobs"]))
    fetched = _fetched(report)
    lay_out(
        dist,
        Path(config["www"]) / "pyodide" / config["runtime"],
        Path(item["wheel"]),
        item["sha256"],
        fetched,
        {f.sha256: blobs.path_for(f.sha256) for f in fetched},
        config["markers"],
    )
    (tests / "pytest.ini").write_text("[pytest]\n")  # the rootdir's own configuration: no project's applies
    phases = directory / "phases.jsonl"
    phases.touch()
    argv = [sys.executable, "-m", "pytest", "-c", str(tests / "pytest.ini"), "--rootdir", str(tests), "-q"]
    argv += ["-p", "no:cacheprovider", "-p", "pytest_pyodide.hook", "-p", "pytest_pyodide.fixture"]
    argv += ["-p", "farm.verify.pytest_report", "--wasmfarm-report", str(phases)]
    argv += ["--runtime", "node-no-host", "--dist-dir", str(dist), *(Path(t).name for t in item["tests"])]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    log_path = directory / "pytest.log"
    timed_out = False
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=tests, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            proc.wait(timeout=deadline.left())
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            timed_out = True
    report["test_seconds"] = round(time.monotonic() - started, 3)
    lines = [json.loads(line) for line in phases.read_text().splitlines() if line.startswith("{")]
    report["tests"] = {k: v.as_dict() for k, v in outcomes.merge_phases(lines).items()}
    output = log_path.read_text(errors="replace").splitlines()
    report["log"] += output[-LOG_LINES:]
    if timed_out:
        report["error"] = f"the tests did not finish within the verification's {deadline.seconds:.0f} s"
    elif proc.returncode not in PYTEST_EXIT_OK and not any(
        r["outcome"] == "error" for r in report["tests"].values()
    ):
        tail = "\n".join(output[-15:])
        report["error"] = f"pytest could not run the tests (exit {proc.returncode}):\n{tail}"


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[0]).read_text())
    deadline = Deadline(float(config["seconds"]))
    reports: list[dict[str, Any]] = [{"imports": {}, "tests": {}, "log": []} for _ in config["items"]]
    with serve_farm(Path(config["www"]), BlobStore(Path(config["blobs"]))) as base_url:
        import_checks(config, base_url, reports, deadline)
    for item, report in zip(config["items"], reports, strict=True):
        if not item["tests"] or "error" in report:
            continue
        if deadline.left() <= 0:
            report["error"] = (
                f"no time was left to run the tests (the verification has {deadline.seconds:.0f} s)"
            )
            continue
        run_tests(config, item, report, deadline)
    out = Path(config["work"]) / "report.json"
    out.with_suffix(".part").write_text(json.dumps(reports))
    out.with_suffix(".part").replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
