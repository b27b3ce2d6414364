"""Running a command inside a builder image with bubblewrap: read-only root, no network, limits, a streamed log.

The sandbox is the boundary between the farm and the untrusted code of a build (setup.py, build scripts, compilers
fed with attacker-controlled sources). Inside it: the image's root filesystem read-only, a private /tmp, one work
directory bind-mounted read-write, an ordinary uid in a new user namespace (no capabilities), new PID/IPC/UTS
namespaces and, unless a step is explicitly a download step, a new network namespace with nothing in it (not even
the host's loopback). Outside it: a wall-clock limit after which the whole process group is killed, and a memory
limit (a cgroup where the host allows one, else RLIMIT_AS).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from farm.errors import BuildError

log = logging.getLogger(__name__)

SANDBOX_PATH = "/usr/lib/llvm-21/bin:/usr/local/bin:/usr/bin:/bin"
BUILD_UID = 1000  # the build's user inside its user namespace (mapped to the farm's own user outside)


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 1800.0
    memory_bytes: int = 8 * 1024**3


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    writable: bool = False


@dataclass
class Outcome:
    returncode: int
    seconds: float
    timed_out: bool = False
    memory_limit: str = ""
    tail: list[str] = field(default_factory=list)


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise BuildError(
            "bubblewrap (bwrap) is not installed; builds run only inside it: apt-get install bubblewrap"
        )
    return found


def command_line(
    rootfs: Path,
    argv: Sequence[str],
    *,
    mounts: Sequence[Mount] = (),
    env: Mapping[str, str] | None = None,
    cwd: str = "/work",
    network: bool = False,
    writable_root: bool = False,
    hidden: Sequence[str] = (),
) -> list[str]:
    """The bwrap invocation; ``network=True`` only for download steps (pip download of wheels, no code run).
    ``hidden`` directories of the root are covered by an empty tmpfs (before ``mounts``, which may bring parts of
    them back)."""
    cmd = [bwrap_path(), "--bind" if writable_root else "--ro-bind", str(rootfs), "/"]
    cmd += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run"]  # noqa: S108 - in the sandbox
    cmd += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]
    cmd += ["--new-session", "--hostname", "wasmfarm-builder"]
    if not writable_root:
        # Run by root, bwrap would keep every capability inside (CAP_SYS_ADMIN could remount the image read-write,
        # CAP_MKNOD reach the host's disks). A user namespace with an ordinary uid inside leaves the build none;
        # what it writes in its work directory still belongs to the farm's user outside.
        cmd += ["--unshare-user", "--uid", str(BUILD_UID), "--gid", str(BUILD_UID), "--cap-drop", "ALL"]
    if network:
        for path in ("/etc/resolv.conf", "/etc/hosts", "/etc/ssl/certs/ca-certificates.crt"):
            if Path(path).exists():
                cmd += ["--ro-bind", path, path]
    else:
        cmd += ["--unshare-net"]
    for path in hidden:
        cmd += ["--tmpfs", path]
    for mount in mounts:
        cmd += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    cmd += ["--clearenv"]
    base = {"PATH": SANDBOX_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}  # noqa: S108
    for key, value in {**base, **(env or {})}.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", cwd, "--", *argv]
    return cmd


class _MemoryCgroup:
    """A cgroup (v2, else v1 memory controller) capping the build's memory; unavailable on some hosts."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        name = f"wasmfarm-{uuid.uuid4().hex[:12]}"
        v2 = Path("/sys/fs/cgroup")
        candidates = [(v2 / name, "memory.max")] if (v2 / "cgroup.controllers").is_file() else []
        candidates.append((Path("/sys/fs/cgroup/memory") / name, "memory.limit_in_bytes"))
        for path, knob in candidates:
            try:
                path.mkdir()
                (path / knob).write_text(str(limit))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            self.path = path
            self.kind = f"cgroup {path}"
            return
        self.kind = ""

    def add(self, pid: int) -> bool:
        if self.path is None:
            return False
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
        except OSError:
            return False
        return True

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def run(
    cmd: Sequence[str],
    log_sink: Callable[[str], None],
    limits: Limits,
    *,
    on_start: Callable[[int], None] | None = None,
) -> Outcome:
    """Run ``cmd`` in its own process group, streaming every output line to ``log_sink``; enforce the limits."""
    cgroup = _MemoryCgroup(limits.memory_bytes)
    use_rlimit = cgroup.path is None

    def limit_address_space() -> None:  # runs in the child before exec
        if use_rlimit:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))

    started = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=limit_address_space,  # noqa: PLW1509 - setrlimit only, no locks taken
    )
    in_cgroup = cgroup.add(proc.pid)
    memory_limit = cgroup.kind if in_cgroup else f"RLIMIT_AS {limits.memory_bytes}"
    if on_start:
        on_start(proc.pid)
    timed_out = threading.Event()

    def watchdog() -> None:
        if _wait(proc, limits):
            return
        timed_out.set()
        kill_group(proc.pid)

    threading.Thread(target=watchdog, daemon=True, name=f"watchdog-{proc.pid}").start()
    tail: list[str] = []
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        log_sink(line)
        tail.append(line)
        if len(tail) > 40:
            del tail[0]
    returncode = proc.wait()
    kill_group(proc.pid)  # stragglers that outlived the leader
    cgroup.remove()
    return Outcome(returncode, time.monotonic() - started, timed_out.is_set(), memory_limit, tail)


def _wait(proc: subprocess.Popen[bytes], limits: Limits) -> bool:
    try:
        proc.wait(limits.wall_seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
