"""Bearer tokens: writes to the index need PRESSQA_INDEX_TOKEN; reads need PRESSQA_READ_TOKEN if one is set."""

import hmac
import os
from collections.abc import Mapping

from fastapi import HTTPException

INDEX_TOKEN_ENV = "PRESSQA_INDEX_TOKEN"
READ_TOKEN_ENV = "PRESSQA_READ_TOKEN"


def _presented_token(headers: Mapping[str, str] | None) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(presented: str | None, expected: str) -> bool:
    # constant-time comparison, so response timing does not reveal how much of a token was right
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def require_index_token(headers: Mapping[str, str] | None) -> None:
    """403 when no index token is configured (REST writes are off), 401 when the request lacks the right one."""
    expected = os.environ.get(INDEX_TOKEN_ENV, "")
    if not expected:
        raise HTTPException(
            status_code=403,
            detail=f"Indexing over REST is disabled: set {INDEX_TOKEN_ENV} on the server to enable it "
            "(the command line `pressqa-index` works locally without it).",
        )
    if not _matches(_presented_token(headers), expected):
        raise HTTPException(status_code=401, detail="Indexing needs 'Authorization: Bearer <index token>'.",
                            headers={"WWW-Authenticate": "Bearer"})


def require_read_token(headers: Mapping[str, str] | None) -> None:
    """401 when PRESSQA_READ_TOKEN is set and the request does not carry it; reads are open otherwise."""
    expected = os.environ.get(READ_TOKEN_ENV, "")
    if expected and not _matches(_presented_token(headers), expected):
        raise HTTPException(status_code=401, detail="This service needs 'Authorization: Bearer <read token>'.",
                            headers={"WWW-Authenticate": "Bearer"})
