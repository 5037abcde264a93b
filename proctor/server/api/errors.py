"""How failures become HTTP answers: 422 with `loc` and `msg`, 404 naming the missing thing, and
never a bare 500 for something the client did.

The schemas refuse bad input up front; these handlers are the last line. Validation errors are
re-shaped to `{"loc", "msg", "type"}` only: FastAPI's default echoes the offending input, which
may be a NaN or a lone surrogate that cannot itself be encoded as JSON (so the error answer would
fail with a 500). Database errors are sorted by whose fault they are: a constraint conflict or a
value the database refused is the client's (409 / 422); a database that cannot be reached is the
server's (503). Anything else is a bug: logged with its traceback, answered 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..db.queries import NotFound, Refused
from .route_table import route_table

log = logging.getLogger("proctor.server")


def _safe(value: Any) -> Any:
    """A `loc` item that JSON can always encode (keys of a bad object may be anything)."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "replace").decode("utf-8")


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors reduced to where (`loc`), what (`msg`) and which kind (`type`)."""
    detail = []
    for error in errors:
        detail.append(
            {
                "loc": [_safe(part) for part in error.get("loc", ())],
                "msg": _safe(error.get("msg", "invalid")),
                "type": _safe(error.get("type", "value_error")),
            }
        )
    return detail


def _json(status_code: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _json(status.HTTP_422_UNPROCESSABLE_CONTENT, validation_detail(exc.errors()))


#: What FastAPI says when a body cannot even be decoded (bad UTF-8, not JSON at all).
_UNPARSABLE = "There was an error parsing the body"


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer, except that an undecodable body is a 422 like any other bad body."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and exc.detail == _UNPARSABLE:
        detail = [{"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}]
        return _json(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allowed = route_table(request).allowed_methods(request.url.path)
        if allowed:  # every method of the path, not only those of the first route matched
            exc = StarletteHTTPException(405, detail=exc.detail,
                                         headers={"Allow": ", ".join(allowed)})
    return await http_exception_handler(request, exc)


async def _on_not_found(_request: Request, exc: Exception) -> JSONResponse:
    return _json(status.HTTP_404_NOT_FOUND, str(exc))


async def _on_refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return _json(status.HTTP_409_CONFLICT, {"reason": exc.reason, "rule": exc.rule})


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("conflict on %s %s: %s", request.method, request.url.path, exc)
    return _json(
        status.HTTP_409_CONFLICT,
        "the request conflicts with stored data (an id or name already used for something else)",
    )


async def _on_data(request: Request, exc: Exception) -> JSONResponse:
    log.info("value refused by the database on %s %s: %s", request.method, request.url.path, exc)
    return _json(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body"], "msg": "a value does not fit the database", "type": "value_error"}],
    )


async def _on_operational(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _json(status.HTTP_503_SERVICE_UNAVAILABLE, "the database is unavailable; try again")


async def _on_bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _json(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on `app`."""
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(Refused, _on_refused)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(DataError, _on_data)
    app.add_exception_handler(OperationalError, _on_operational)
    app.add_exception_handler(Exception, _on_bug)
