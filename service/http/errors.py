"""FastAPI's 422 for a body that does not fit the schema, with at most an excerpt of each bad value."""

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from kit.queries import validation_detail


async def short_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a body that does not fit the schema, quoting at most an excerpt of each bad value
    (FastAPI's own handler echoes the whole value: 10 MB in, 10 MB out, and a 500 for NaN)."""
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(validation_detail(error.errors()))})
