"""The run folder the worker processes of one service share (`PRESSQA_RUN_DIR`): where each worker announces the
index version it serves (`served-<pid>`), so a write can wait until every worker serves it.

`pressqa-serve` with several workers (service/supervisor.py) creates the folder and removes it at exit; the index
room keeps its indexing lock and progress there too (pipelines/index/workers.py). Without a run folder (tests with
`TestClient`, the CLI) everything here is a no-op and a process serves alone.
"""

import json
import os
from pathlib import Path

RUN_DIR_ENV = "PRESSQA_RUN_DIR"


def run_dir() -> Path | None:
    value = os.environ.get(RUN_DIR_ENV)
    return Path(value) if value else None


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
