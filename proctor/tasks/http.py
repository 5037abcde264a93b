"""HTTP requests as tasks, with httpx: retries on transient errors, clear failures.

    from proctor.tasks.http import HttpRequest, HttpPaginate, http_request

    rates = HttpRequest(url="https://api.example.com/rates", params={"base": "EUR"})
    with Flow("fx") as f:
        table = rates()                                   # the JSON body
        posted = http_request(url=..., method="POST", json=table)
        rows = HttpPaginate(url=".../items", items_key="items")()

A request is retried, inside the same attempt, on connection errors, timeouts, 5xx answers and
429 (Too Many Requests), `retries` times, waiting `backoff * 2**n` seconds (at most
`max_backoff`) or what the server's `Retry-After` says. A 4xx answer (other than 429) ends the
task Failed at once, without the task's own retries either (the same request would get the same
answer): "GET http://host/path returned 404 Not Found: <the body's first 500 characters>". The
task's `max_retries` apply to failures that outlast the request's retries.
URLs in messages and logs have their user and password removed; headers never appear.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import ENDRUN, FAIL
from ..core.states import Failed
from ..core.task import Task
from ..engine.logs import get_run_logger

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
RESPONSES = ("json", "text", "bytes", "response")
#: how much of an error answer's body a failure message quotes
BODY_QUOTE = 500
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:  # called outside a run: a plain logger
        import logging

        return logging.getLogger("proctor.tasks.http")


def _shown(url: Any) -> str:
    """A URL fit for a message: without user and password."""
    from ..notifications.options import redact_url

    return redact_url(str(url))


class _Settings:
    """The request options shared by HttpRequest and HttpPaginate, checked where written."""

    def __init__(self, owner: str, *, method: str, url: str | None, params: Any, headers: Any,
                 auth: Any, bearer: str | None, timeout: float, response: str, retries: int,
                 backoff: float, max_backoff: float) -> None:
        method = str(method).upper()
        if method not in METHODS:
            raise TaskOptionError(f"{owner}: method={method!r} is not one of "
                                  f"{', '.join(sorted(METHODS))}")
        if url is not None:
            check_url(owner, url)
        if response not in RESPONSES:
            raise TaskOptionError(f"{owner}: response={response!r}; use one of "
                                  f"{', '.join(map(repr, RESPONSES))}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise TaskOptionError(f"{owner}: retries={retries!r} must be a whole number >= 0")
        for name, value in (("timeout", timeout), ("backoff", backoff),
                            ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                    name == "timeout" and value == 0):
                raise TaskOptionError(f"{owner}: {name}={value!r} must be a number of seconds"
                                      f"{' > 0' if name == 'timeout' else ' >= 0'}")
        for name, value in (("params", params), ("headers", headers)):
            if value is not None and not isinstance(value, Mapping):
                raise TaskOptionError(f"{owner}: {name}= takes a dict, got {value!r}")
        if auth is not None and not (isinstance(auth, tuple) and len(auth) == 2):
            raise TaskOptionError(f"{owner}: auth= takes (user, password); for a token, "
                                  f"use bearer='...'")
        self.method, self.url, self.params, self.headers = method, url, params, headers
        self.auth, self.bearer, self.timeout, self.response = auth, bearer, timeout, response
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff


def check_url(owner: str, url: Any) -> str:
    """`url` as text if it is an absolute http(s) URL; a TaskOptionError saying why otherwise."""
    import httpx

    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise TaskOptionError(f"{owner}: url={url!r} is not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TaskOptionError(
            f"{owner}: url={_shown(url)!r} must be an absolute http:// or https:// URL"
        )
    return str(url)


def _retry_after(response: Any, default: float, cap: float) -> float:
    """Seconds the server asks to wait (Retry-After: seconds or an HTTP date), else `default`."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return min(cap, max(0.0, float(value)))
        except ValueError:
            try:
                when = parsedate_to_datetime(value).timestamp()
                return min(cap, max(0.0, when - time.time()))
            except (TypeError, ValueError, OverflowError):
                pass
    return default


def send(settings: _Settings, owner: str, *, method: str, url: str, params: Any = None,
         json: Any = None, data: Any = None, headers: Any = None) -> Any:
    """One request with the retries of `settings`; the httpx response of a 2xx/3xx answer."""
    import httpx

    check_url(owner, url)
    merged = {**(settings.headers or {}), **(headers or {})}
    if settings.bearer:
        merged.setdefault("Authorization", f"Bearer {settings.bearer}")
    query = {**(settings.params or {}), **(params or {})} or None
    logger = _logger()
    label = f"{method} {_shown(url)}"
    attempt = 0
    with httpx.Client(timeout=settings.timeout, auth=settings.auth,
                      follow_redirects=True) as client:
        while True:
            wait = min(settings.max_backoff, settings.backoff * (2 ** attempt))
            try:
                response = client.request(method, url, params=query, json=json, data=data,
                                          headers=merged or None)
            except httpx.TransportError as exc:  # refused, reset, DNS, timeouts
                problem = f"{label} failed: {type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                body = response.text[:BODY_QUOTE]
                problem = (f"{label} returned {response.status_code} "
                           f"{response.reason_phrase}: {body}")
                if response.status_code not in _TRANSIENT_STATUS:
                    raise ENDRUN(Failed(problem))  # the same answer next time: no retries
                wait = _retry_after(response, wait, max(settings.max_backoff, wait))
            if attempt >= settings.retries:
                raise FAIL(problem if attempt == 0 else
                           f"{problem} (after {attempt + 1} tries)")
            attempt += 1
            logger.warning("%s; try %d of %d in %.2f s", problem.splitlines()[0][:300],
                           attempt + 1, settings.retries + 1, wait)
            time.sleep(wait)


def decode(response: Any, mode: str, owner: str) -> Any:
    """The body as `mode` says: JSON (a clear failure when it is not JSON), text or bytes."""
    if mode == "response":
        return response
    if mode == "bytes":
        return response.content
    if mode == "text":
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise FAIL(
            f"{response.request.method} {_shown(response.request.url)} answered "
            f"{response.headers.get('content-type', 'no content type')}, not JSON: "
            f"{response.text[:BODY_QUOTE]} (use response='text' for such answers)"
        ) from None


class HttpRequest(Task):
    """One HTTP request; its result is the body (`response="json"`, the default; "text",
    "bytes", or "response" for the httpx response). Every option may be given to the
    constructor or to the call (the call's win); see the module docstring for retries."""

    def __init__(self, url: str | None = None, method: str = "GET", *,
                 params: Mapping[str, Any] | None = None, json: Any = None, data: Any = None,
                 headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
                 bearer: str | None = None, timeout: float = 30.0, response: str = "json",
                 retries: int = 3, backoff: float = 0.5, max_backoff: float = 30.0,
                 **options: Any) -> None:
        options.setdefault("name", "http_request")
        super().__init__(**options)
        self.settings = _Settings(f"task {self.name!r}", method=method, url=url, params=params,
                                  headers=headers, auth=auth, bearer=bearer, timeout=timeout,
                                  response=response, retries=retries, backoff=backoff,
                                  max_backoff=max_backoff)
        self.json, self.data = json, data

    def run(self, url: str | None = None, method: str | None = None, params: Any = None,
            json: Any = None, data: Any = None, headers: Any = None,
            response: str | None = None) -> Any:
        settings, owner = self.settings, f"task {self.name!r}"
        url = url if url is not None else settings.url
        if url is None:
            raise TaskOptionError(f"{owner}: no url; give HttpRequest(url=...) or call it "
                                  f"with url=...")
        method = (method or settings.method).upper()
        if method not in METHODS:
            raise TaskOptionError(f"{owner}: method={method!r} is not one of "
                                  f"{', '.join(sorted(METHODS))}")
        mode = response or settings.response
        if mode not in RESPONSES:
            raise TaskOptionError(f"{owner}: response={mode!r}; use one of "
                                  f"{', '.join(map(repr, RESPONSES))}")
        answer = send(settings, owner, method=method, url=url, params=params,
                      json=json if json is not None else self.json,
                      data=data if data is not None else self.data, headers=headers)
        return decode(answer, mode, owner)


class HttpPaginate(Task):
    """A GET that follows the pages of a listing and returns every item, in order.

    The next page is, in this order: the `Link: <...>; rel="next"` header, the JSON body's
    `next_key` field (a URL), or, with `page_param`, the same URL with that parameter
    incremented (from `first_page`) until a page has no items. Items are the JSON body itself
    when it is a list, else its `items_key` field. `max_pages` bounds the walk (a failure
    beyond it, so a listing that never ends is said, not truncated silently).
    """

    def __init__(self, url: str | None = None, *, items_key: str | None = None,
                 next_key: str | None = "next", page_param: str | None = None,
                 first_page: int = 1, max_pages: int = 1000,
                 params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
                 bearer: str | None = None, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, max_backoff: float = 30.0, **options: Any) -> None:
        options.setdefault("name", "http_paginate")
        super().__init__(**options)
        owner = f"task {self.name!r}"
        self.settings = _Settings(owner, method="GET", url=url, params=params, headers=headers,
                                  auth=auth, bearer=bearer, timeout=timeout, response="json",
                                  retries=retries, backoff=backoff, max_backoff=max_backoff)
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise TaskOptionError(f"{owner}: max_pages={max_pages!r} must be a whole number >= 1")
        self.items_key, self.next_key, self.page_param = items_key, next_key, page_param
        self.first_page, self.max_pages = first_page, max_pages

    def run(self, url: str | None = None, params: Any = None) -> list[Any]:
        owner = f"task {self.name!r}"
        url = url if url is not None else self.settings.url
        if url is None:
            raise TaskOptionError(f"{owner}: no url; give HttpPaginate(url=...) or call it "
                                  f"with url=...")
        query = dict(params or {})
        page = self.first_page
        if self.page_param:
            query[self.page_param] = page
        items: list[Any] = []
        for _ in range(self.max_pages):
            response = send(self.settings, owner, method="GET", url=url, params=query or None)
            body = decode(response, "json", owner)
            found = self._items(body, response, owner)
            items.extend(found)
            following = self._next(body, response)
            if following is not None:
                url, query = str(response.url.join(following)), {}
                continue
            if self.page_param and found:
                page += 1
                query = {**query, self.page_param: page}
                continue
            return items
        raise FAIL(f"{owner}: {_shown(url)} still had pages after max_pages={self.max_pages}")

    def _items(self, body: Any, response: Any, owner: str) -> list[Any]:
        if isinstance(body, list):
            return body
        if self.items_key and isinstance(body, Mapping) and isinstance(
                body.get(self.items_key), list):
            return body[self.items_key]
        raise FAIL(f"{owner}: {_shown(response.url)} answered no list of items "
                   f"(items_key={self.items_key!r}); keys: "
                   f"{sorted(body) if isinstance(body, Mapping) else type(body).__name__}")

    def _next(self, body: Any, response: Any) -> str | None:
        link = response.links.get("next", {}).get("url")
        if link:
            return link
        if self.next_key and isinstance(body, Mapping) and isinstance(body.get(self.next_key),
                                                                      str):
            return body[self.next_key]
        return None


#: A ready HttpRequest for calls that give everything: `http_request(url=..., method=...)`.
http_request = HttpRequest()

__all__ = ["HttpPaginate", "HttpRequest", "check_url", "http_request"]
