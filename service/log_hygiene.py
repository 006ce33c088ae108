"""What the service log may hold: never a request body, never more than a bounded line per log call.

- Hayhooks logs `Running pipeline '…' | params={…}` with the whole validated request body
  (`hayhooks.server.utils.deploy_utils.create_run_endpoint_handler`, `log.bind(params=payload)`), before our
  validation runs: a 10 MB question put 10 MB into the log, every question and posted release landed there.
  A loguru patcher replaces `params` with the body's size and hash (`service.http.gate.body_summary`).
- Every message and every bound value is cut to `MAX_LINE_CHARS`, exception messages too.
- Standard-library logging (Haystack, our modules) goes through the same loguru sink, WARNING and up, so the
  same bounds hold; by default those records went to Python's last-resort stderr handler, unbounded.
- Haystack's RecursiveDocumentSplitter warns "Overlap is the same as the previous chunk" for every chunk no
  longer than the overlap (a short heading or contact line before a paragraph too long to join it). That is
  the text, not a misconfiguration, and nothing to act on: it is logged once per process, not once per chunk.

    configure_logging()   # in create_app(), in every worker process
"""

import logging
import os
import sys
from typing import Any

from hayhooks.server.logger import formatter as hayhooks_format
from loguru import logger as log

from service.http.gate import body_summary
from kit.queries import limited_repr

LOG_LEVEL_ENV = "HAYHOOKS_LOG_LEVEL"
MAX_LINE_CHARS = 2000
_SPLITTER_LOGGER = "haystack.components.preprocessors.recursive_splitter"
_SPLITTER_OVERLAP_WARNING = "Overlap is the same as the previous chunk"
_short_repr = limited_repr(maxstring=200, maxother=200, maxlist=10, maxdict=10, maxlevel=3)


def _cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… [{len(text)} characters]"


def _bounded(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, str):
        return _cut(value, 500)
    try:
        return _short_repr.repr(value)
    except Exception:  # e.g. a dict another thread changes meanwhile
        return f"({type(value).__name__})"


def _patch(record: dict) -> None:
    """Loguru patcher: request bodies out, every field bounded. Runs before any sink formats the record,
    inside the logging call: it must never raise."""
    try:
        _bound_record(record)
    except Exception:
        record["extra"].pop("params", None)


def _bound_record(record: dict) -> None:
    extra = record["extra"]
    if "params" in extra:
        summary = body_summary()
        # no '<' in the text: Hayhooks' format puts bound values into loguru's colour markup
        extra["params"] = f"request body {summary.size} bytes, sha256 {summary.sha256}" if summary else "(not logged)"
    for key, value in list(extra.items()):
        extra[key] = _bounded(value)
    record["message"] = _cut(record["message"])
    exception = record["exception"]
    if exception is not None and exception.value is not None and len(str(exception.value)) > MAX_LINE_CHARS:
        record["exception"] = exception._replace(value=_Shortened(exception.value), type=_Shortened)


class _Shortened(Exception):
    """Stands in for an exception whose message would be too long for the log."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{type(original).__name__}: {_cut(str(original))}")


class _ToLoguru(logging.Handler):
    """Standard-library records into loguru, keeping their level and origin."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = log.level(record.levelname).name
        except ValueError:
            level = record.levelno
        log.opt(exception=record.exc_info).log(level, "{}: {}", record.name, record.getMessage())


class _OncePerProcess(logging.Filter):
    """Lets the first record holding `text` through (saying that repeats are not logged), drops the rest."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.text not in record.getMessage():
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg = f"{record.getMessage()} (harmless for short chunks; further repeats are not logged)"
        record.args = ()
        return True


def _format(record: dict) -> str:
    # Hayhooks' format without tracebacks; they help to explain a 500 (no variable values: diagnose is off)
    return hayhooks_format(record) + ("{exception}" if record["exception"] else "")


def configure_logging() -> None:
    """Set up the bounded log described above (idempotent: create_app() may run more than once per process)."""
    log.remove()
    log.add(
        sys.stderr,
        level=(os.environ.get(LOG_LEVEL_ENV) or "INFO").upper(),
        format=_format,
        diagnose=False,  # a traceback never shows variable values (request bodies, tokens)
        backtrace=False,
    )
    log.configure(patcher=_patch)

    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ToLoguru)] + [_ToLoguru(level=logging.WARNING)]
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    splitter = logging.getLogger(_SPLITTER_LOGGER)
    if not any(isinstance(f, _OncePerProcess) for f in splitter.filters):
        splitter.addFilter(_OncePerProcess(_SPLITTER_OVERLAP_WARNING))
