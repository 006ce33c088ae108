"""`pressqa-serve` with several worker processes: the supervisor that forks uvicorn's workers on the app factory,
gives them a private run folder (kit/run_folder.py) and removes it at exit, and makes each worker die with it."""

import ctypes
import os
import shutil
import signal
import sys
import tempfile

from kit.run_folder import RUN_DIR_ENV

SUPERVISOR_ENV = "PRESSQA_SUPERVISOR_PID"


def worker_count() -> int:
    """`PRESSQA_WORKERS`, default one per core."""
    value = os.environ.get("PRESSQA_WORKERS", "").strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    count = int(value)
    if count < 1:
        raise ValueError(f"PRESSQA_WORKERS must be at least 1, not {value!r}")
    return count


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


def supervise(host: str, port: int, graceful_shutdown_timeout: int) -> None:
    """The multi-worker supervisor (`service.app:main` execs it): uvicorn's worker processes on the app
    factory, a run folder for them, removed at exit. Imports nothing heavy: workers load the service."""
    import uvicorn

    from service.http.timeouts import KEEP_ALIVE_SECONDS, HeadTimeoutProtocol

    folder = tempfile.mkdtemp(prefix="pressqa-run-")
    os.environ[RUN_DIR_ENV] = folder
    try:
        uvicorn.run("service.app:create_app", factory=True, workers=worker_count(), host=host, port=port,
                    log_config=None, timeout_graceful_shutdown=graceful_shutdown_timeout,
                    http=HeadTimeoutProtocol, timeout_keep_alive=KEEP_ALIVE_SECONDS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    supervise(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
