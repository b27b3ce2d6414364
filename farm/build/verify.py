"""Verification: a built wheel installed with micropip into a fresh Pyodide of its target under Node, its modules
imported, then the recipe's test files run the way pyodide-recipes runs them: pytest with pytest-pyodide, driving that
runtime under Node (``--runtime node-no-host --dist-dir DIR``).

Dependencies come from the farm's own index, served for the run on loopback over the page tree and the blob store
(the same bytes the server sends; a CLI build needs no running server). The test run boots from a dist directory
whose lock adds the wheel and what micropip installed for it, so ``run_in_pyodide(packages=[...])`` and
``selenium.load_package`` find them by name (``farm.verify.distdir``).

A verification runs code nobody reviewed: the wheel's, in Pyodide under Node (which can reach the file system and
start processes), and the recipe's test files, on the host's Python. So all of it runs in bubblewrap
(``farm.build.sandbox.command_line`` over the host's own root): the root read-only, a private ``/tmp``, the farm's
data directory and its user's home hidden under empty tmpfs (the page tree, the blob store, the interpreter and the
farm's code come back read-only at their paths), the verification's work directory the only writable mount, uid
1000 without capabilities in a user namespace of its own, new PID, IPC, UTS, cgroup and
network namespaces (``--unshare-all``: only an unconfigured loopback, which the index and pytest-pyodide's own web
server use), a cleared environment, ``--die-with-parent``, and a wall-clock limit after which the whole process
group is killed. Inside, ``farm.verify.session`` does the work.

A verification passes only if at least one module was imported, every import succeeded and no test failed or
errored (skips are fine, and listed). One that would examine nothing (no module to import) fails.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import farm
from farm.build import sandbox
from farm.errors import BuildError
from farm.runtime.target import target_for
from farm.store.blobs import BlobStore
from farm.verify import outcomes
from farm.verify.loopback import serve_farm
from farm.verify.snapshot import SnapshotCache

__all__ = ["Verification", "VerifyItem", "serve_farm", "verify", "verify_many"]

SCRIPT = "verify_wheel.mjs"
SNAPSHOT_SCRIPT = "snapshot_runtime.mjs"
SNAPSHOT_SECONDS = 120.0
GRACE_SECONDS = 30.0  # the sandbox outlives the session's deadline by this much: the session reports first


@dataclass(frozen=True)
class Verification:
    ok: bool
    report: dict[str, Any]

    def failures(self) -> list[str]:
        return outcomes.failures(self.report)


@dataclass(frozen=True)
class VerifyItem:
    wheel: Path
    imports: list[str]
    test_files: list[Path] = field(default_factory=list)


def verify(
    wheel: Path,
    *,
    runtime: str,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
    imports: list[str],
    test_files: list[Path],
    timeout: float = 300.0,
    snapshots: SnapshotCache | None = None,
) -> Verification:
    """Verify one wheel: ``imports`` must import and every test of ``test_files`` (pytest-pyodide) must pass."""
    [result] = verify_many(
        [VerifyItem(wheel, imports, test_files)],
        runtime=runtime,
        www=www,
        blobs=blobs,
        runner_assets=runner_assets,
        timeout=timeout,
        snapshots=snapshots,
    )
    return result


def verify_many(
    items: Sequence[VerifyItem],
    *,
    runtime: str,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
    timeout: float = 600.0,
    snapshots: SnapshotCache | None = None,
) -> list[Verification]:
    """Verify several wheels in one sandbox and one Node process: each wheel is imported in a Pyodide of its own
    restored from a memory snapshot of the booted runtime (a wheel never sees another's modules): the one kept in
    ``snapshots`` (nothing boots), else one made by booting once. Test files still run one pytest per wheel.
    ``timeout`` is the wall-clock limit of the whole batch."""
    node = shutil.which("node")
    if node is None:
        raise BuildError(
            "node is not installed: verification runs the wheel in Pyodide under Node (apt-get install nodejs)"
        )
    runtime_dir = www / "pyodide" / runtime
    if not (runtime_dir / "pyodide.mjs").is_file():
        raise BuildError(f"runtime {runtime} is not installed; `wasmfarm runtime add {runtime}` adds it")
    results: dict[int, Verification] = {}
    runnable = []
    for index, item in enumerate(items):
        if item.imports:
            runnable.append(index)
        else:
            results[index] = Verification(False, _nothing_to_import(item.wheel))
    if runnable:
        with tempfile.TemporaryDirectory(prefix="wasmfarm-verify-") as tmp:
            work = Path(tmp)
            snapshot = _snapshot(snapshots, runtime, runtime_dir, node, www, blobs, runner_assets)
            reports = _run(
                work,
                [items[i] for i in runnable],
                node,
                runtime,
                www,
                blobs,
                runner_assets,
                timeout,
                snapshot,
            )
        for index, report in zip(runnable, reports, strict=True):
            report["ok"] = outcomes.is_ok(report)
            report["summary"] = outcomes.summary(report["tests"])
            results[index] = Verification(report["ok"], report)
    return [results[i] for i in range(len(items))]


def _nothing_to_import(wheel: Path) -> dict[str, Any]:
    return {
        "ok": False,
        "imports": {},
        "tests": {},
        "summary": outcomes.summary({}),
        "error": (
            f"nothing to verify for {wheel.name}: no module to import was given; name the modules in the recipe's "
            "test/imports (else package/top-level, else the wheel's own top-level names are used)"
        ),
    }


def _hidden(www: Path, blobs: BlobStore) -> list[Path]:
    """What the code under test must not read although the root is visible: the farm's data directory (its
    database, tokens and builds; the page tree and blob store come back read-only) and the farm user's home."""
    hidden = {Path.home()}
    if blobs.root.is_relative_to(www.parent):
        hidden.add(www.parent)
    return sorted((p for p in hidden if p != Path("/") and p.is_dir()), key=lambda p: len(p.parts))


def _mounts(
    work: Path,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
    node: str,
    hidden: list[Path],
    snapshot: Path | None = None,
) -> list[sandbox.Mount]:
    """Read-only at their own paths what the session needs where ``/tmp`` or a hidden directory covers it (the
    interpreter, the farm's code, Node, the page tree, the blob store, the runtime snapshot), a parent before its
    children; the work directory, the only writable one, last."""
    needed = {www, blobs.root, runner_assets.resolve(), Path(farm.__file__).resolve().parents[1]}
    if snapshot is not None:
        needed.add(snapshot.parent)
    needed |= {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parents[1]}
    needed.add(Path(node).resolve().parents[1])
    covered = [Path("/tmp"), *hidden]  # noqa: S108 - the sandbox's private /tmp
    readable = [p for p in needed if any(p.is_relative_to(c) for c in covered)]
    mounts = [sandbox.Mount(p, str(p)) for p in sorted(readable, key=lambda p: len(p.parts))]
    mounts.append(sandbox.Mount(work, str(work), writable=True))
    return mounts


def _copy_tests(test_files: Sequence[Path], target: Path) -> None:
    """The test files with their directory (a recipe's: data files and a conftest.py beside them work as they do
    upstream), or each file alone when they come from several directories."""
    parents = {t.parent for t in test_files}
    if len(parents) == 1:
        shutil.copytree(parents.pop(), target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    else:
        target.mkdir(parents=True)
        for test_file in test_files:
            shutil.copyfile(test_file, target / test_file.name)


def _run(
    work: Path,
    items: Sequence[VerifyItem],
    node: str,
    runtime: str,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
    timeout: float,
    snapshot: Path | None,
) -> list[dict[str, Any]]:
    config_items = []
    for index, item in enumerate(items):
        directory = work / str(index)
        _copy_tests(item.test_files, directory / "tests")
        wheel = directory / item.wheel.name
        shutil.copyfile(item.wheel, wheel)
        config_items.append(
            {
                "dir": str(directory),
                "wheel": str(wheel),
                "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
                "imports": list(item.imports),
                "tests": [str(directory / "tests" / t.name) for t in item.test_files],
            }
        )
    config = {
        "work": str(work),
        "www": str(www),
        "blobs": str(blobs.root),
        "runtime": runtime,
        "markers": target_for(runtime).marker_environment,  # the session process does not read the data dir
        "node": node,
        "script": str(runner_assets / "node" / SCRIPT),
        "seconds": timeout,
        "snapshot": str(snapshot) if snapshot is not None else None,
        "items": config_items,
    }
    (work / "session.json").write_text(json.dumps(config))
    hidden = _hidden(www, blobs)
    cmd = sandbox.command_line(
        Path("/"),
        [sys.executable, "-m", "farm.verify.session", str(work / "session.json")],
        mounts=_mounts(work, www, blobs, runner_assets, node, hidden, snapshot),
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        cwd=str(work),
        hidden=[str(p) for p in hidden],
    )
    lines: list[str] = []
    outcome = sandbox.run(cmd, lines.append, sandbox.Limits(wall_seconds=timeout + GRACE_SECONDS))
    report_path = work / "report.json"
    if not report_path.is_file():
        if outcome.timed_out:
            error = f"verification did not finish within {timeout:.0f} s and was killed"
        else:
            tail = "\n".join(lines[-15:])
            error = f"the verifier crashed (exit {outcome.returncode}):\n{tail}"
        return [{"imports": {}, "tests": {}, "error": error, "log": lines[-40:]} for _ in items]
    reports: list[dict[str, Any]] = json.loads(report_path.read_text())
    for report in reports:
        report.pop("fetched", None)
        report["log"] = [*lines[-20:], *report.get("log", [])] if lines else report.get("log", [])
    return reports


def _snapshot(
    snapshots: SnapshotCache | None,
    runtime: str,
    runtime_dir: Path,
    node: str,
    www: Path,
    blobs: BlobStore,
    runner_assets: Path,
) -> Path | None:
    """The kept snapshot of the runtime, made first (by a sandboxed Node that runs the runtime alone) if need be."""
    if snapshots is None:
        return None

    def make(directory: Path, out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="wasmfarm-snapshot-") as tmp:
            work = Path(tmp)
            hidden = _hidden(www, blobs)
            script = runner_assets.resolve() / "node" / SNAPSHOT_SCRIPT
            cmd = sandbox.command_line(
                Path("/"),
                [node, str(script), str(directory), str(work / "runtime.snapshot")],
                mounts=_mounts(work, www, blobs, runner_assets, node, hidden),
                env={},
                cwd=str(work),
                hidden=[str(p) for p in hidden],
            )
            lines: list[str] = []
            outcome = sandbox.run(cmd, lines.append, sandbox.Limits(wall_seconds=SNAPSHOT_SECONDS))
            made = work / "runtime.snapshot"
            if outcome.returncode != 0 or not made.is_file():
                tail = "\n".join(lines[-10:])
                raise BuildError(f"the snapshot run failed (exit {outcome.returncode}):\n{tail}")
            shutil.move(made, out)

    return snapshots.get(runtime, runtime_dir, node, make)
