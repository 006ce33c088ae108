"""What may be indexed over REST: release names, text encoding and sizes, checked before any work starts."""

import os
import re

from fastapi import HTTPException
from pydantic import BaseModel

from kit.queries import excerpt

MAX_FILE_BYTES = int(os.environ.get("PRESSQA_MAX_FILE_BYTES", 1_000_000))
# Also the body limit of the index routes, checked before the body is read (service.http.gate.RequestGate).
MAX_REQUEST_BYTES = int(os.environ.get("PRESSQA_MAX_REQUEST_BYTES", 20_000_000))
MAX_FILES = 500
# matched whole (fullmatch): with `$`, "103.txt\n" passed and became a second "103.txt" on the page
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,120}\.txt")


class ReleaseText(BaseModel):
    """A release posted as text: `name` becomes its `file_path` (e.g. "255.txt")."""

    name: str
    content: str


def check_name(name: str | None) -> str:
    """A plain file name ending in .txt; 422 for paths, traversal or odd characters."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise HTTPException(
            status_code=422,
            detail=f"Invalid release name {excerpt(name)!r}: use a plain file name like '255.txt' "
            "(letters, digits, space, '.', '_', '-'; no folders).",
        )
    return name


def decode_text(name: str, data: bytes) -> str:
    """The UTF-8 text of an upload; 422 when empty, binary or not UTF-8, 413 when too large."""
    if len(data) > MAX_FILE_BYTES:
        raise HTTPException(status_code=413, detail=f"{name} is {len(data)} bytes; the limit is {MAX_FILE_BYTES} per file.")
    if b"\x00" in data:
        raise HTTPException(status_code=422, detail=f"{name} is binary, not text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HTTPException(status_code=422, detail=f"{name} is not UTF-8 text ({error.reason} at byte {error.start}).") from None
    if not text.strip():
        raise HTTPException(status_code=422, detail=f"{name} is empty.")
    return text


def check_batch(items: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """Validate a whole request before indexing any of it: names, sizes, encodings, duplicates."""
    if not items:
        raise HTTPException(status_code=422, detail="Nothing to index: send at least one release.")
    if len(items) > MAX_FILES:
        raise HTTPException(status_code=413, detail=f"{len(items)} releases in one request; the limit is {MAX_FILES}.")
    total = sum(len(data) for _, data in items)
    if total > MAX_REQUEST_BYTES:
        raise HTTPException(status_code=413, detail=f"The request holds {total} bytes; the limit is {MAX_REQUEST_BYTES}.")
    names = [check_name(name) for name, _ in items]
    if len(set(names)) != len(names):
        raise HTTPException(status_code=422, detail="The same release name appears twice in one request.")
    return [(name, decode_text(name, data)) for name, (_, data) in zip(names, items, strict=True)]
