"""Several worker processes serving one embedded index: what they share through a per-run folder.

`pressqa-serve` (service.app:main) starts `PRESSQA_WORKERS` uvicorn workers (default: one per core) and
gives them a private run folder (`PRESSQA_RUN_DIR`, removed at exit). In it each worker announces the
index version it serves (`served-<pid>`), so a write can wait until every worker serves it; one worker
wins the start-up indexing (`startup-indexing`); an indexing job holds `indexing.lock` and shares its
progress in `indexing.json`, so `/health` in any worker shows it. Without a run folder (tests with
`TestClient`, the CLI) everything here is a no-op and a process serves alone.
"""

import ctypes
import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_DIR_ENV = "PRESSQA_RUN_DIR"
SUPERVISOR_ENV = "PRESSQA_SUPERVISOR_PID"
# A write waits at most this long for every worker to serve it before it replies (measured reload
# of the full index: docs/architecture.md, the embedded store); workers poll the file every PRESSQA_RELOAD_POLL_SECONDS.
VISIBLE_WITHIN_SECONDS = 2.0


def worker_count() -> int:
    """`PRESSQA_WORKERS`, default one per core."""
    value = os.environ.get("PRESSQA_WORKERS", "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    count = int(value)
    if count < 1:
        raise ValueError(f"PRESSQA_WORKERS must be at least 1, not {value!r}")
    return count


def run_dir() -> Path | None:
    value = os.environ.get(RUN_DIR_ENV)
    return Path(value) if value else None


def die_with_supervisor() -> None:
    """A worker is killed with its supervisor (also by kill -9), never left holding the port and the index."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if not supervisor or int(supervisor) != os.getppid() or not hasattr(ctypes, "CDLL"):
        return
    try:
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(supervisor):  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def announce_served(index: str, version: int) -> None:
    """Record the version this worker serves (a store publish listener)."""
    folder = run_dir()
    if folder is None:
        return
    target = folder / f"served-{os.getpid()}"
    tmp = folder / f".served-{os.getpid()}.part"
    tmp.write_text(json.dumps({"index": index, "version": version}))
    os.replace(tmp, target)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def served_versions(index: str) -> dict[int, int]:
    """pid -> index version, for every live worker that has announced one."""
    folder = run_dir()
    if folder is None:
        return {}
    versions = {}
    for path in folder.glob("served-*"):
        pid = int(path.name.removeprefix("served-"))
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("index") == index:
            versions[pid] = int(data["version"])
    return versions


def wait_until_served(index: str, version: int, timeout: float = VISIBLE_WITHIN_SECONDS) -> bool:
    """Wait until every worker serves `version` (or later); False if some did not within `timeout`."""
    folder = run_dir()
    if folder is None:
        return True
    expected = int(os.environ.get("PRESSQA_WORKERS", "1"))
    deadline = time.monotonic() + timeout
    while True:
        versions = served_versions(index)
        if len(versions) >= expected and all(v >= version for v in versions.values()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def win_startup_indexing() -> bool:
    """True in exactly one worker of a run (the first to ask), and always when serving alone."""
    folder = run_dir()
    if folder is None:
        return True
    try:
        fd = os.open(folder / "startup-indexing", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


@contextmanager
def indexing_job() -> Iterator[None]:
    """One indexing job at a time across workers (the store's writer lock guards each change on its own)."""
    folder = run_dir()
    if folder is None:
        yield
        return
    fd = os.open(folder / "indexing.lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def share_indexing_status(status: dict) -> None:
    """Publish the running job's progress for the other workers' /health."""
    folder = run_dir()
    if folder is None:
        return
    tmp = folder / f".indexing-{os.getpid()}.part"
    tmp.write_text(json.dumps(status))
    os.replace(tmp, folder / "indexing.json")


def indexing_elsewhere() -> dict | None:
    """The progress of a job another worker is running now, or None."""
    folder = run_dir()
    if folder is None or not (folder / "indexing.lock").exists():
        return None
    fd = os.open(folder / "indexing.lock", os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a job runs in another worker
            try:
                return json.loads((folder / "indexing.json").read_text())
            except (OSError, ValueError):
                return {"running": True}
        return None
    finally:
        os.close(fd)


def supervise(host: str, port: int, graceful_shutdown_timeout: int) -> None:
    """The multi-worker supervisor (`service.app:main` execs it): uvicorn's worker processes on the app
    factory, a run folder for them, removed at exit. Imports nothing heavy: workers load the service."""
    import uvicorn

    folder = tempfile.mkdtemp(prefix="pressqa-run-")
    os.environ[RUN_DIR_ENV] = folder
    try:
        uvicorn.run("service.app:create_app", factory=True, workers=worker_count(), host=host, port=port,
                    log_config=None, timeout_graceful_shutdown=graceful_shutdown_timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    supervise(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
