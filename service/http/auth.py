"""Bearer tokens: writes to the index need PRESSQA_INDEX_TOKEN; reads need PRESSQA_READ_TOKEN if one is set.

The checks run in one place for every route, `service.http.gate.RequestGate`, before a request's body is read;
this module says what a request must carry and what it is told when it does not.
"""

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

INDEX_TOKEN_ENV = "PRESSQA_INDEX_TOKEN"
READ_TOKEN_ENV = "PRESSQA_READ_TOKEN"


@dataclass(frozen=True)
class Refusal:
    """Why a request may not go on: the status, a message for the caller, extra response headers."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def _presented_token(headers: Mapping[str, str] | None) -> str | None:
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(presented: str | None, expected: str) -> bool:
    # constant-time comparison, so response timing does not reveal how much of a token was right
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def index_token_refusal(headers: Mapping[str, str] | None) -> Refusal | None:
    """403 when no index token is configured (REST writes are off), 401 when the request lacks the right one."""
    expected = os.environ.get(INDEX_TOKEN_ENV, "")
    if not expected:
        return Refusal(
            403,
            f"Indexing over REST is disabled: set {INDEX_TOKEN_ENV} on the server to enable it "
            "(the command line `pressqa-index` works locally without it).",
        )
    if not _matches(_presented_token(headers), expected):
        return Refusal(401, "Indexing needs 'Authorization: Bearer <index token>'.", {"WWW-Authenticate": "Bearer"})
    return None


def read_token_refusal(headers: Mapping[str, str] | None) -> Refusal | None:
    """401 when PRESSQA_READ_TOKEN is set and the request does not carry it; reads are open otherwise."""
    expected = os.environ.get(READ_TOKEN_ENV, "")
    if expected and not _matches(_presented_token(headers), expected):
        return Refusal(401, "This service needs 'Authorization: Bearer <read token>'.", {"WWW-Authenticate": "Bearer"})
    return None
