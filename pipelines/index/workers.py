"""Indexing with several worker processes serving one embedded index: the write side of the run folder.

`pressqa-serve` (service.app:main) starts `PRESSQA_WORKERS` uvicorn workers (default: one per core) and
gives them a private run folder (`PRESSQA_RUN_DIR`, removed at exit; kit/run_folder.py). In it each worker
announces the index version it serves (`served-<pid>`), so a write can wait until every worker serves it; one
worker at a time holds the start-up indexing (`startup-indexing.lock`), the others wait to take over should it
die; an indexing job holds `indexing.lock` and shares its
progress in `indexing.json`, so `/health` in any worker shows it. Without a run folder (tests with
`TestClient`, the CLI) everything here is a no-op and a process serves alone.
"""

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kit.run_folder import run_dir, served_versions

# A write waits at most this long for every worker to serve it before it replies (measured reload
# of the full index: docs/architecture.md, the embedded store); workers poll the file every PRESSQA_RELOAD_POLL_SECONDS.
VISIBLE_WITHIN_SECONDS = 2.0


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


@contextmanager
def startup_indexing_claim() -> Iterator[None]:
    """Held by one worker at a time while it indexes what the corpus folder adds at start; the others wait for it,
    then find nothing left to do, or, when its holder died, resume (the kernel releases a dead process's lock).

    Before: the first worker to ask created a claim file for the run, and kept it when it died: the worker
    respawned in its place never resumed, and the index stayed incomplete until a full restart."""
    with _exclusive("startup-indexing.lock"):
        yield


@contextmanager
def indexing_job() -> Iterator[None]:
    """One indexing job at a time across workers (the store's writer lock guards each change on its own)."""
    with _exclusive("indexing.lock"):
        yield


@contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """An exclusive lock on the run folder's file `name`, waited for; a no-op without a run folder."""
    folder = run_dir()
    if folder is None:
        yield
        return
    fd = os.open(folder / name, os.O_CREAT | os.O_RDWR)
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

