"""The service's entry points: `create_app()` (what uvicorn and the tests build) and `main()` (`pressqa-serve`).

Both apply the process settings (kit/process.py) before Haystack and Hayhooks are imported: those read
environment variables when imported, so importing this module changes nothing.
"""

import os
import sys

from kit import process
from service import supervisor


def create_app():
    """The served FastAPI app: the shell (service/shell.py) with every room of pipelines/ deployed at start."""
    process.apply_environment_defaults()
    process.limit_threads()
    from service.shell import build_app

    return build_app()


def main() -> None:
    """Start the service on HAYHOOKS_HOST:HAYHOOKS_PORT (default 0.0.0.0:1416) with PRESSQA_WORKERS
    worker processes (default: one per core), as Hayhooks' own `hayhooks run --workers N` does."""
    process.apply_environment_defaults()
    import uvicorn
    from hayhooks.server.logger import intercept_stdlib_logging, log
    from hayhooks.settings import settings

    found, origin = process.embedding_model_origin()
    (log.info if found else log.error)(origin)

    count = supervisor.worker_count()
    os.environ["PRESSQA_WORKERS"] = str(count)
    os.environ[supervisor.SUPERVISOR_ENV] = str(os.getpid())
    if count > 1:
        # The supervisor only forks and watches workers: replace this process (same pid) with one
        # that never imports torch, Haystack or the pipelines (~550 MiB less resident memory).
        os.execv(sys.executable, [sys.executable, "-m", "service.supervisor", settings.host, str(settings.port),
                                  str(settings.graceful_shutdown_timeout)])
    from service.http.timeouts import KEEP_ALIVE_SECONDS, HeadTimeoutProtocol

    intercept_stdlib_logging(settings.intercepted_loggers, access_log_excluded_path_prefixes=settings.access_log_excluded_path_prefixes)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout,
        http=HeadTimeoutProtocol,  # a request head must arrive in time (service/http/timeouts.py)
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
