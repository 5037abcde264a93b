"""The error answers every route can give, written into the OpenAPI schema as they are sent.

A client generated from the schema (or a fuzzer checking it) must find each status the server
answers, with the body it really gets. Most of those answers do not come from the route itself
but from what stands around it: the Host and Origin guards (400, 403), the body limit (413), the
API key (401) and the UI's CSRF token (403), a missing row (404), a constraint or a rule (409), a
database that cannot be reached (503). Listing them by hand on each route would drift; instead
`document_error_answers` walks each router's routes once, when the app is made, and adds what
applies to each from what the route is: guarded or not, with a path id or a body or not, a
change or a read.

Every error body is `{"detail": ...}`: a sentence (`ErrorMessage`), the 422 list of
`{loc, msg, type}` (FastAPI's own), or for a 409 either a rule's refusal or a sentence.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from .schemas import TransitionRefused


class ErrorMessage(BaseModel):
    """An error answer: what was wrong and how to fix it, in one sentence."""

    detail: str


class Conflict(BaseModel):
    """A 409: an orchestration rule refused the change (`reason` and `rule`), or the request
    conflicts with stored data (a sentence)."""

    detail: TransitionRefused | str


def _answer(description: str, model: type[BaseModel] = ErrorMessage) -> dict[str, Any]:
    return {"model": model, "description": description}


#: The answers of the guards around every route (proctor.server.api.guards and middleware).
AROUND_EVERY_ROUTE = {
    400: _answer("The Host header is not one this server answers, or Content-Length is not a "
                 "number"),
    503: _answer("The database is unavailable; try again"),
}
#: The answers of a route behind the API key.
GUARDED = {
    401: _answer("Missing or wrong API key (the server has PROCTOR_API_KEY set)"),
    403: _answer("A change from another origin, or made with the web UI's cookie but without "
                 "its CSRF token"),
}
#: The answer of a route that finds a row by an id or name in its path or its body.
NOT_FOUND = {404: _answer("No such row (the detail names what is missing)")}
#: The answers of a route with a body.
WITH_BODY = {413: _answer("The body is larger than PROCTOR_API_MAX_BODY_BYTES")}
#: The answer of a route that can refuse a change or meet stored data it conflicts with.
CONFLICT = {409: _answer("Refused by an orchestration rule (reason, rule), or the request "
                         "conflicts with stored data", Conflict)}


#: The methods that change something (and so may conflict with what is stored).
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def document_error_answers(router: APIRouter, *, guarded: bool) -> APIRouter:
    """Add to each route of `router` the error answers it can give (an answer a route lists
    itself stays its own); `guarded`: the router is behind the API key. Call before the router
    is included in the app. Returns the router."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        answers: dict[int, dict[str, Any]] = dict(AROUND_EVERY_ROUTE)
        if guarded:
            answers.update(GUARDED)
        if route.param_convertors or route.body_field is not None:
            answers.update(NOT_FOUND)
        if route.body_field is not None:
            answers.update(WITH_BODY)
        if route.methods & WRITES:
            answers.update(CONFLICT)
        json_errors = issubclass(route.response_class, JSONResponse) if isinstance(
            route.response_class, type) else True
        for code, answer in answers.items():
            if not json_errors:  # the route's own media type is not the errors' one
                answer = {"description": answer["description"], "content": {
                    "application/json": {"schema": answer["model"].model_json_schema()}}}
            route.responses.setdefault(code, answer)
    return router
